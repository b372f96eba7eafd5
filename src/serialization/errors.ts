/**
 * The error of src/serialization/: an `NRNMError` that also says where.
 *
 * Codes (from src/errors.ts):
 * - `ERR_FORMAT`: the bytes are not what they claim to be (truncated, corrupt,
 *   an unsupported variant, or a pickle naming a Python global that is not
 *   allowed, in which case `refusedGlobal` names it and nothing was executed).
 * - `ERR_ARG`: a caller passed a value these functions cannot write.
 * - `ERR_NOT_FOUND`: the file to read, or the directory to write in, is missing.
 *
 * Messages follow one pattern: "<file>: <what> at byte <offset>. <what to do>".
 */
import { NRNMError } from '../errors';
import { fileError } from '../file-errors';

export type SerializationErrorCode = 'ERR_FORMAT' | 'ERR_ARG' | 'ERR_NOT_FOUND';

export class SerializationError extends NRNMError {
  /** The file (or the caller-given source name) the problem is in, if any. */
  readonly file: string | undefined;
  /** Byte offset in `file` (for pickle errors: in the pickle), if known. */
  readonly offset: number | undefined;
  /** For a refused pickle global: its `module.name`. */
  readonly refusedGlobal: string | undefined;

  constructor(code: SerializationErrorCode, message: string, where: { file?: string; offset?: number; refusedGlobal?: string; cause?: unknown } = {}) {
    super(message, code, where.cause === undefined ? undefined : { cause: where.cause });
    this.name = 'SerializationError';
    this.file = where.file;
    this.offset = where.offset;
    this.refusedGlobal = where.refusedGlobal;
  }
}

/**
 * `ERR_FORMAT` with the conventional "<file>: <what> at byte <offset>. <fix>"
 * message: the one constructor of a malformed-file error, for every reader
 * (zip, pickle, .pt, .npy, IDX, ...).
 */
export function formatError(file: string, what: string, offset?: number, fix?: string): SerializationError {
  const at = offset === undefined ? '' : ` at byte ${offset}`;
  const tail = fix === undefined ? '' : ` ${fix}`;
  return new SerializationError('ERR_FORMAT', `${file}: ${what}${at}.${tail}`, { file, offset });
}

/** Any error met while reading `file` (an OS error, a RangeError from a crafted size) as a SerializationError naming it. */
export function readError(file: string, err: unknown): SerializationError {
  if (err instanceof SerializationError) return err;
  const e = fileError(file, err);
  const code = e.code === 'ERR_NOT_FOUND' || e.code === 'ERR_ARG' ? e.code : 'ERR_FORMAT';
  return new SerializationError(code, e.message, { file, cause: err });
}
