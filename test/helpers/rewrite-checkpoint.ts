/**
 * Crafted .nrnm files for the reader tests: a real checkpoint with its
 * "nrnm.header" (or the raw safetensors header text) replaced, the checksum
 * recomputed as native/nrnm/serialize/checkpoint.cpp does, so that the file
 * passes the checksum and reaches the checks after it.
 */
import { crc32 } from '../../src/serialization/zip';

interface Parsed {
  header: Record<string, unknown>;
  data: Buffer;
}

export function parseSafetensors(bytes: Buffer): Parsed {
  const size = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + size).toString('utf8')) as Record<string, unknown>, data: bytes.subarray(8 + size) };
}

/** u64 length | headerText | data. */
export function safetensorsOf(headerText: string | Buffer, data: Buffer): Buffer {
  const text = Buffer.isBuffer(headerText) ? headerText : Buffer.from(headerText, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(text.length));
  return Buffer.concat([length, text, data]);
}

/** The checksum of checkpoint.cpp: tensor bytes, metadata fields (sorted, NUL after each), tensor names, dtypes, sizes. */
function checksum(header: Record<string, unknown>, data: Buffer): string {
  const tensors = Object.entries(header).filter(([k]) => k !== '__metadata__') as [
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] },
  ][];
  const parts: Buffer[] = tensors.map(([, t]) => data.subarray(t.data_offsets[0], t.data_offsets[1]));
  const field = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]);
  const metadata = Object.entries((header['__metadata__'] ?? {}) as Record<string, string>)
    .filter(([k]) => k !== 'nrnm.checksum')
    .sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const [k, v] of metadata) parts.push(field(k), field(v));
  for (const [name, t] of tensors) parts.push(field(name), field(t.dtype), field(t.shape.join(',')));
  return `crc32:${crc32(Buffer.concat(parts)).toString(16).padStart(8, '0')}`;
}

/** `bytes` with its "nrnm.header" changed by `edit`, checksum valid. */
export function withHeader(bytes: Buffer, edit: (header: Record<string, unknown>) => void): Buffer {
  const { header, data } = parseSafetensors(bytes);
  const metadata = header['__metadata__'] as Record<string, string>;
  const nrnm = JSON.parse(metadata['nrnm.header']!) as Record<string, unknown>;
  edit(nrnm);
  metadata['nrnm.header'] = JSON.stringify(nrnm);
  metadata['nrnm.checksum'] = checksum(header, data);
  return safetensorsOf(JSON.stringify(header), data);
}
