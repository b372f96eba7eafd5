/**
 * nrnm-native: Non-local Recurrent Neural Memory (NRNM) sequence models in
 * Node.js, on LibTorch (CUDA or CPU).
 */
export { NRNMError, type ErrorCode } from './errors';
export { Tensor, type DType, type TypedArrayOf, type DTypeOf } from './tensor';
export { runtimeReport, type RuntimeReport } from './runtime';
export { NRNMClassifier, type LossAndGradients } from './model';
export { NRNMStream, type StreamOptions } from './stream';
export { OPSET as ONNX_OPSET, type OnnxExportOptions } from './onnx/export';
export { distributedFromEnv, resolveDistributed, type DistributedOptions, type ResolvedDistributed } from './distributed';
export { CHOICES, type Choice, type ChoiceOption } from './choices';
export {
  Trainer,
  DEFAULT_TRAINER_OPTIONS,
  type TrainerOptions,
  type StepResult,
  type EvaluateResult,
  type FitOptions,
  type FitResult,
  type FitCallback,
  type StepEvent,
  type EpochEvent,
  type Progress,
} from './trainer';
export {
  resolveModelOptions,
  DEFAULT_MODEL_OPTIONS,
  VARIANTS,
  type NRNMModelOptions,
  type NRNMClassifierOptions,
  type ResolvedModelOptions,
  type Variant,
} from './options';
export { SummaryWriter } from './tensorboard/writer';
export { datasets } from './data';
export type { SequenceDataset, Batch, Sample, BatchOptions } from './data/dataset';
