/**
 * nrnm-native: Non-local Recurrent Neural Memory (NRNM) sequence models in
 * Node.js, on LibTorch (CUDA or CPU).
 */
export { NRNMError, type ErrorCode } from './errors';
export { Tensor, type DType, type TypedArrayOf, type DTypeOf } from './tensor';
export { runtimeReport, type RuntimeReport } from './runtime';
