/**
 * IDX files (the MNIST / Fashion-MNIST format), raw or gzipped: a big-endian
 * header (0, 0, type, number of dimensions, then one uint32 per dimension)
 * followed by the elements. Only unsigned and signed bytes are read.
 *
 * A gzipped file is inflated in two steps: its first bytes, for the header,
 * then exactly the size the header declares, when that is within
 * `inflateAllowance` of the file's size (src/limits.ts); a gzip bomb is
 * refused before it is inflated.
 */
import * as zlib from 'node:zlib';
import { NRNMError } from '../errors';
import { inflateAllowance } from '../limits';
import { readFileOrThrow } from './files';
import { formatError } from '../serialization/errors';

export interface IdxArray {
  shape: number[];
  data: Uint8Array | Int8Array;
}

interface IdxHeader {
  type: number;
  shape: number[];
  dataOffset: number;
  /** Header and data, in bytes. */
  size: number;
}

/** Reads an IDX file; a .gz (detected by its magic bytes, whatever the name) is gunzipped first. */
export function readIdx(file: string): IdxArray {
  const bytes = readFileOrThrow(file);
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) return parseIdx(gunzipIdx(bytes, file), `${file} (after gunzip)`);
  return parseIdx(bytes, file);
}

function gunzipError(file: string, e: unknown): NRNMError {
  return new NRNMError(`${file}: corrupt gzip data (${(e as Error).message}). Download the file again.`, 'ERR_FORMAT', { cause: e });
}

/** Inflates a gzipped IDX file to the size its header declares, refusing more than the allowance. */
function gunzipIdx(gz: Uint8Array, file: string): Uint8Array {
  const where = `${file} (after gunzip)`;
  // The header is at most 4 + 4 * 255 bytes; 1 compressed byte yields at most 1032.
  let head: Uint8Array;
  for (let take = 64; ; take *= 4) {
    try {
      head = zlib.gunzipSync(gz.subarray(0, take), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch (e) {
      throw gunzipError(file, e);
    }
    if (take >= gz.length || (head.length >= 4 && head.length >= 4 + 4 * head[3]!)) break;
  }
  const header = parseIdxHeader(head, where);
  const allowance = inflateAllowance(gz.length);
  if (header.size > allowance) {
    throw formatError(
      where,
      `shape (${header.shape.join(', ')}) declares ${header.size} bytes, more than the ${allowance} bytes a ${gz.length}-byte gzip file may inflate to (see README, "Limits on the files read")`,
      4,
    );
  }
  try {
    return zlib.gunzipSync(gz, { maxOutputLength: Math.max(1, header.size) });
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw formatError(where, `wrongly sized: the data goes on after the ${header.size} bytes that shape (${header.shape.join(', ')}) needs`, header.size);
    }
    throw gunzipError(file, e);
  }
}

function parseIdxHeader(bytes: Uint8Array, file: string): IdxHeader {
  if (bytes.length < 4) throw formatError(file, `truncated: ${bytes.length} bytes, shorter than the 4-byte IDX magic`, bytes.length);
  if (bytes[0] !== 0 || bytes[1] !== 0) throw formatError(file, 'not an IDX file: the magic number must start with two zero bytes', bytes[0] !== 0 ? 0 : 1);
  const type = bytes[2]!;
  if (type !== 0x08 && type !== 0x09) {
    throw formatError(file, `unsupported IDX element type 0x${type.toString(16).padStart(2, '0')} (0x08 unsigned byte and 0x09 signed byte are read)`, 2);
  }
  const ndim = bytes[3]!;
  if (ndim === 0) throw formatError(file, 'IDX file with 0 dimensions', 3);
  const dataOffset = 4 + 4 * ndim;
  if (bytes.length < dataOffset) throw formatError(file, `truncated inside the ${ndim} dimension sizes`, bytes.length);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let d = 0; d < ndim; d++) shape.push(dv.getUint32(4 + 4 * d, false));
  return { type, shape, dataOffset, size: dataOffset + shape.reduce((a, b) => a * b, 1) };
}

/** Parses IDX bytes; offsets in errors are into the uncompressed bytes. */
export function parseIdx(bytes: Uint8Array, file = '<buffer>'): IdxArray {
  const { type, shape, dataOffset, size: need } = parseIdxHeader(bytes, file);
  const count = need - dataOffset;
  if (bytes.length < need) {
    throw formatError(
      file,
      `truncated: shape (${shape.join(', ')}) needs ${count} data bytes from byte ${dataOffset}, ${need} bytes in all, but the data ends`,
      bytes.length,
    );
  }
  if (bytes.length > need)
    throw formatError(file, `wrongly sized: ${bytes.length - need} bytes after the end of the data of shape (${shape.join(', ')})`, need);
  const copy = new Uint8Array(bytes.subarray(dataOffset, need));
  return { shape, data: type === 0x08 ? copy : new Int8Array(copy.buffer) };
}
