/**
 * IDX files (the MNIST / Fashion-MNIST format), raw or gzipped: a big-endian
 * header (0, 0, type, number of dimensions, then one uint32 per dimension)
 * followed by the elements. Only unsigned and signed bytes are read.
 */
import * as zlib from 'node:zlib';
import { NRNMError } from '../errors';
import { readFileOrThrow } from './files';

export interface IdxArray {
  shape: number[];
  data: Uint8Array | Int8Array;
}

function formatError(file: string, what: string, offset: number): NRNMError {
  return new NRNMError(`${file}: ${what} at byte ${offset}.`, 'ERR_FORMAT');
}

/** Reads an IDX file; a .gz (detected by its magic bytes, whatever the name) is gunzipped first. */
export function readIdx(file: string): IdxArray {
  let bytes = readFileOrThrow(file);
  let where = file;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = zlib.gunzipSync(bytes);
    } catch (e) {
      throw new NRNMError(`${file}: corrupt gzip data (${(e as Error).message})`, 'ERR_FORMAT', { cause: e });
    }
    where = `${file} (after gunzip)`;
  }
  return parseIdx(bytes, where);
}

/** Parses IDX bytes; offsets in errors are into the uncompressed bytes. */
export function parseIdx(bytes: Uint8Array, file = '<buffer>'): IdxArray {
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
  const count = shape.reduce((a, b) => a * b, 1);
  const need = dataOffset + count;
  if (bytes.length < need) {
    throw formatError(file, `truncated: shape (${shape.join(', ')}) needs ${count} data bytes from byte ${dataOffset}, ${need} bytes in all, but the data ends`, bytes.length);
  }
  if (bytes.length > need) throw formatError(file, `wrongly sized: ${bytes.length - need} bytes after the end of the data of shape (${shape.join(', ')})`, need);
  const copy = new Uint8Array(bytes.subarray(dataOffset, need));
  return { shape, data: type === 0x08 ? copy : new Int8Array(copy.buffer) };
}
