/**
 * The one error class of nrnm-native. Native code creates it too (the addon
 * receives this constructor at load time), so every failure, JS or C++, is an
 * NRNMError with a stable `code`.
 */
export type ErrorCode =
  | 'ERR_ARG' // a bad argument or option value
  | 'ERR_SHAPE' // a tensor or batch of the wrong shape
  | 'ERR_DTYPE' // a typed array of the wrong type
  | 'ERR_DISPOSED' // use after dispose()
  | 'ERR_BUSY' // a conflicting call is still running
  | 'ERR_FORMAT' // a malformed file
  | 'ERR_CHECKPOINT_VERSION' // a checkpoint written by an incompatible version
  | 'ERR_NOT_FOUND' // a missing file or dataset
  | 'ERR_IO' // a file could not be written (the message names it and the OS error)
  | 'ERR_NO_LIBTORCH' // LibTorch could not be found
  | 'ERR_NATIVE_LOAD' // the addon could not be loaded
  | 'ERR_CUDA' // CUDA unavailable or failing
  | 'ERR_CUDA_OOM' // GPU out of memory
  | 'ERR_OOM' // host out of memory
  | 'ERR_NON_FINITE' // NaN/Inf loss during training
  | 'ERR_DISTRIBUTED' // data-parallel ranks that could not meet or disagree (the message names them)
  | 'ERR_NATIVE'; // any other error from LibTorch

export class NRNMError extends Error {
  readonly code: ErrorCode;

  constructor(message: string, code: ErrorCode = 'ERR_NATIVE', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NRNMError';
    this.code = code;
  }
}

/** Throws ERR_ARG with the sharp-style message: what, expected, received. */
export function argError(name: string, expected: string, received: unknown): NRNMError {
  return new NRNMError(`Expected ${name} to be ${expected} but received ${describe(received)}`, 'ERR_ARG');
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`;
  if (value === null || typeof value !== 'object') return String(value);
  return value.constructor?.name ?? 'object';
}
