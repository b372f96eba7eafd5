/**
 * NumPy .npy files (format versions 1.0, 2.0 and 3.0): C order, little
 * endian, float32/float64 and the integer types.
 *
 * Reading is lazy: `NpyFile` reads the header and then rows by positional
 * reads on a file handle, so a 10 GB train_data_joint.npy is never held in
 * one buffer. `readNpy` / `writeNpy` handle whole arrays; `NpyWriter` writes
 * rows in any order into a preallocated file (used by the NTU preprocessing).
 */
import * as fs from 'node:fs';
import { NRNMError, argError } from '../errors';
import { AtomicFile } from '../io/atomic-write';
import { typedArrayTag } from '../validate';
import { fileError, quoted } from '../file-errors';
import type { DType } from '../dtype';
import { formatError } from '../serialization/errors';

/** What a .npy file may hold: the package's DType and the other integer types NumPy writes. */
export type NpyDType = DType | 'int8' | 'int16' | 'uint16' | 'uint32' | 'uint64';

export type NpyTypedArray =
  Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

export interface NpyArray {
  dtype: NpyDType;
  shape: number[];
  data: NpyTypedArray;
}

export interface NpyHeader {
  version: [number, number];
  dtype: NpyDType;
  /** The descr string as written, e.g. '<f4'. */
  descr: string;
  shape: number[];
  /** Elements in the array (product of shape). */
  count: number;
  /** Byte offset of the first data byte. */
  dataOffset: number;
}

interface DTypeInfo {
  code: string; // kind + size, e.g. 'f4'
  size: number;
  make: (n: number) => NpyTypedArray;
  view: (buf: ArrayBuffer, byteOffset: number, n: number) => NpyTypedArray;
}

const DTYPES: Record<NpyDType, DTypeInfo> = {
  float32: { code: 'f4', size: 4, make: (n) => new Float32Array(n), view: (b, o, n) => new Float32Array(b, o, n) },
  float64: { code: 'f8', size: 8, make: (n) => new Float64Array(n), view: (b, o, n) => new Float64Array(b, o, n) },
  int8: { code: 'i1', size: 1, make: (n) => new Int8Array(n), view: (b, o, n) => new Int8Array(b, o, n) },
  uint8: { code: 'u1', size: 1, make: (n) => new Uint8Array(n), view: (b, o, n) => new Uint8Array(b, o, n) },
  int16: { code: 'i2', size: 2, make: (n) => new Int16Array(n), view: (b, o, n) => new Int16Array(b, o, n) },
  uint16: { code: 'u2', size: 2, make: (n) => new Uint16Array(n), view: (b, o, n) => new Uint16Array(b, o, n) },
  int32: { code: 'i4', size: 4, make: (n) => new Int32Array(n), view: (b, o, n) => new Int32Array(b, o, n) },
  uint32: { code: 'u4', size: 4, make: (n) => new Uint32Array(n), view: (b, o, n) => new Uint32Array(b, o, n) },
  int64: { code: 'i8', size: 8, make: (n) => new BigInt64Array(n), view: (b, o, n) => new BigInt64Array(b, o, n) },
  uint64: { code: 'u8', size: 8, make: (n) => new BigUint64Array(n), view: (b, o, n) => new BigUint64Array(b, o, n) },
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Bytes needed to know the header length: magic, version, length field. */
export const NPY_PREAMBLE = 12;
const MAX_HEADER = 1 << 24;

/** Checks magic and version; returns where the header text starts and where the data starts. */
function npyPreamble(bytes: Uint8Array, file: string): { major: number; minor: number; start: number; dataOffset: number } {
  for (let i = 0; i < MAGIC.length; i++) {
    if (i >= bytes.length) throw formatError(file, `not a .npy file: ${bytes.length} bytes, shorter than the 10-byte preamble`, bytes.length);
    if (bytes[i] !== MAGIC[i]) throw formatError(file, 'not a .npy file: the magic string \\x93NUMPY is missing', i);
  }
  if (bytes.length < 8) throw formatError(file, 'truncated inside the version bytes', bytes.length);
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (major < 1 || major > 3 || minor !== 0) throw formatError(file, `unsupported .npy format version ${major}.${minor} (1.0, 2.0 and 3.0 are read)`, 6);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw formatError(file, 'truncated inside the header length field', bytes.length);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = 8 + lenBytes;
  return { major, minor, start, dataOffset: start + (major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true)) };
}

/**
 * Parses the header at the start of `bytes` (which must hold the whole
 * header). `fileSize`, when given, is checked against shape x itemsize.
 */
export function parseNpyHeader(bytes: Uint8Array, file: string, fileSize?: number): NpyHeader {
  const { major, minor, start, dataOffset } = npyPreamble(bytes, file);
  const headerLen = dataOffset - start;
  if (bytes.length < dataOffset) {
    throw formatError(file, `truncated header: ${headerLen} header bytes announced from byte ${start}, the input ends`, bytes.length);
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + start, headerLen).toString(major === 3 ? 'utf8' : 'latin1');
  const dict = new LiteralParser(text, file, start).parseHeader();
  const descr = dict.get('descr');
  const fortran = dict.get('fortran_order');
  const shapeValue = dict.get('shape');
  for (const key of ['descr', 'fortran_order', 'shape']) if (!dict.has(key)) throw formatError(file, `the header has no '${key}' key`, start);
  if (typeof descr !== 'string') throw formatError(file, `the header's descr is not a simple type string (structured dtypes are not supported)`, start);
  if (typeof fortran !== 'boolean') throw formatError(file, `the header's fortran_order is not True or False`, start);
  if (!Array.isArray(shapeValue) || !shapeValue.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw formatError(file, `the header's shape is not a tuple of non-negative integers`, start);
  }
  const shape = shapeValue as number[];
  const dtype = parseDescr(descr, file, start);
  if (fortran && shape.filter((d) => d > 1).length > 1) {
    throw formatError(file, `is in Fortran order; only C order is read (save it with np.ascontiguousarray)`, start);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(count * DTYPES[dtype].size)) throw formatError(file, `shape (${shape.join(', ')}) is too large`, start);
  if (fileSize !== undefined) {
    const need = dataOffset + count * DTYPES[dtype].size;
    if (fileSize < need) {
      throw formatError(
        file,
        `truncated: shape (${shape.join(', ')}) of ${dtype} needs ${need - dataOffset} data bytes from byte ${dataOffset}, so ${need} bytes in all, but the file ends`,
        fileSize,
      );
    }
    if (fileSize > need)
      throw formatError(file, `wrongly sized: ${fileSize - need} bytes after the end of the data of shape (${shape.join(', ')}) ${dtype}`, need);
  }
  return { version: [major, minor], dtype, descr, shape, count, dataOffset };
}

function parseDescr(descr: string, file: string, offset: number): NpyDType {
  const m = /^([<>|=])([fiu])(\d+)$/.exec(descr);
  const code = m ? `${m[2]}${m[3]}` : '';
  const dtype = (Object.keys(DTYPES) as NpyDType[]).find((k) => DTYPES[k].code === code);
  if (!m || dtype === undefined) {
    throw formatError(file, `unsupported dtype ${quoted(descr)} (float32, float64 and 8- to 64-bit integers are read)`, offset);
  }
  if (m[1] === '>' && DTYPES[dtype].size > 1) {
    throw formatError(file, `is big-endian (${quoted(descr)}); save it little-endian with arr.astype('<${code}')`, offset);
  }
  return dtype;
}

type Literal = string | number | boolean | null | Literal[] | Map<string, Literal>;

/** The Python literal subset numpy writes in .npy headers: dict, tuple, str, int, True/False/None. */
class LiteralParser {
  private pos = 0;
  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly base: number,
  ) {}

  parseHeader(): Map<string, Literal> {
    const value = this.value();
    this.space();
    if (this.pos !== this.text.length) this.fail('unexpected text after the header dictionary');
    if (!(value instanceof Map)) this.fail('the header is not a dictionary', 0);
    return value as Map<string, Literal>;
  }

  private fail(what: string, at = this.pos): never {
    throw formatError(this.file, `malformed header: ${what}`, this.base + at);
  }

  private space(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  private value(): Literal {
    this.space();
    const c = this.text[this.pos];
    if (c === '{') return this.sequence('}', true) as Map<string, Literal>;
    if (c === '(' || c === '[') return this.sequence(c === '(' ? ')' : ']', false) as Literal[];
    if (c === "'" || c === '"') return this.string(c);
    const m = /^(?:[+-]?\d+|True|False|None)/.exec(this.text.slice(this.pos));
    if (!m) this.fail(c === undefined ? 'ends early' : `unexpected ${quoted(c)}`);
    this.pos += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return Number(m[0]);
  }

  private string(quote: string): string {
    const end = this.text.indexOf(quote, this.pos + 1);
    if (end < 0) this.fail('unterminated string');
    const s = this.text.slice(this.pos + 1, end);
    if (s.includes('\\')) this.fail('escapes in strings are not supported');
    this.pos = end + 1;
    return s;
  }

  private sequence(close: string, isDict: boolean): Literal[] | Map<string, Literal> {
    this.pos++;
    const items: Literal[] = [];
    const dict = new Map<string, Literal>();
    for (;;) {
      this.space();
      if (this.text[this.pos] === close) {
        this.pos++;
        return isDict ? dict : items;
      }
      if (isDict) {
        const keyAt = this.pos;
        const key = this.value();
        if (typeof key !== 'string') this.fail('dictionary keys must be strings', keyAt);
        this.space();
        if (this.text[this.pos] !== ':') this.fail("expected ':'");
        this.pos++;
        dict.set(key, this.value());
      } else items.push(this.value());
      this.space();
      if (this.text[this.pos] === ',') this.pos++;
      else if (this.text[this.pos] !== close) this.fail(this.pos >= this.text.length ? 'ends early' : `expected ',' or '${close}'`);
    }
  }
}

/** The header text (with padding and newline) for an array; version 1.0 when it fits, else 2.0. */
export function npyHeaderBytes(dtype: NpyDType, shape: readonly number[]): Buffer {
  const info = DTYPES[dtype];
  const descr = `${info.size === 1 ? '|' : '<'}${info.code}`;
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${dims}, }`;
  for (const [version, lenBytes] of [
    [1, 2],
    [2, 4],
  ] as const) {
    const unpadded = 8 + lenBytes + dict.length + 1;
    const total = Math.ceil(unpadded / 64) * 64;
    const headerLen = total - 8 - lenBytes;
    if (version === 1 && headerLen > 0xffff) continue;
    const out = Buffer.alloc(total, 0x20);
    Buffer.from(MAGIC).copy(out, 0);
    out[6] = version;
    out[7] = 0;
    if (lenBytes === 2) out.writeUInt16LE(headerLen, 8);
    else out.writeUInt32LE(headerLen, 8);
    out.write(dict, 8 + lenBytes, 'latin1');
    out[total - 1] = 0x0a;
    return out;
  }
  throw argError('shape', 'a shape whose header fits in 4 GB', shape);
}

const TAGS: Record<string, NpyDType> = {
  Float32Array: 'float32',
  Float64Array: 'float64',
  Int8Array: 'int8',
  Uint8Array: 'uint8',
  Int16Array: 'int16',
  Uint16Array: 'uint16',
  Int32Array: 'int32',
  Uint32Array: 'uint32',
  BigInt64Array: 'int64',
  BigUint64Array: 'uint64',
};

/** The dtype of a typed array (by its tag, so it works across realms, e.g. under jest). */
export function dtypeOf(data: unknown): NpyDType {
  const tag = typedArrayTag(data);
  if (tag !== undefined && tag in TAGS) return TAGS[tag]!;
  throw argError('data', 'a Float32Array, Float64Array or integer typed array', data);
}

function checkShape(shape: readonly number[], count: number): void {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw argError('shape', 'an array of non-negative integers', shape);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== count) throw new NRNMError(`shape (${shape.join(', ')}) has ${n} elements but data has ${count}`, 'ERR_SHAPE');
}

/** The .npy bytes of an array (C order, little endian). */
export function encodeNpy(data: NpyTypedArray, shape: readonly number[] = [data.length]): Buffer {
  checkShape(shape, data.length);
  const header = npyHeaderBytes(dtypeOf(data), shape);
  return Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** Writes an array to `file` atomically (a temporary file, then rename). */
export function writeNpy(file: string, data: NpyTypedArray, shape: readonly number[] = [data.length]): void {
  checkShape(shape, data.length);
  const w = NpyWriter.create(file, dtypeOf(data), shape);
  try {
    w.writeSync(0, data);
    w.close();
  } catch (e) {
    w.abort();
    throw e;
  }
}

/** Decodes .npy bytes held in memory. */
export function parseNpy(bytes: Uint8Array, file = '<buffer>'): NpyArray {
  const h = parseNpyHeader(bytes, file, bytes.length);
  const info = DTYPES[h.dtype];
  const data = info.make(h.count);
  new Uint8Array(data.buffer).set(bytes.subarray(h.dataOffset, h.dataOffset + h.count * info.size));
  return { dtype: h.dtype, shape: h.shape, data };
}

/** Reads a whole .npy file (in 1 GB pieces, so arrays over 2 GB work). */
export function readNpy(file: string): NpyArray {
  const f = NpyFile.open(file);
  try {
    const data = DTYPES[f.dtype].make(f.count);
    f.readBytesSync(f.dataOffset, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return { dtype: f.dtype, shape: f.shape, data };
  } finally {
    f.close();
  }
}

/** A .npy file opened for lazy reading of rows (index along the first axis). */
export class NpyFile {
  readonly file: string;
  readonly dtype: NpyDType;
  readonly shape: number[];
  readonly count: number;
  readonly dataOffset: number;
  /** Rows: shape[0] (1 for a 0-d array). */
  readonly rows: number;
  /** Elements per row: product of shape[1:]. */
  readonly rowLength: number;
  private fd: number | null;

  private constructor(file: string, fd: number, header: NpyHeader) {
    this.file = file;
    this.fd = fd;
    this.dtype = header.dtype;
    this.shape = header.shape;
    this.count = header.count;
    this.dataOffset = header.dataOffset;
    this.rows = header.shape.length === 0 ? 1 : header.shape[0]!;
    this.rowLength = header.shape.slice(1).reduce((a, b) => a * b, 1);
  }

  static open(file: string): NpyFile {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      throw fileError(file, e, 'cannot open');
    }
    try {
      const size = fs.fstatSync(fd).size;
      const pre = Buffer.alloc(Math.min(size, NPY_PREAMBLE));
      fs.readSync(fd, pre, 0, pre.length, 0);
      const headerEnd = npyPreamble(pre, file).dataOffset;
      if (headerEnd > MAX_HEADER) throw formatError(file, `implausible header length of ${headerEnd} bytes`, 8);
      const head = Buffer.alloc(Math.min(size, headerEnd));
      fs.readSync(fd, head, 0, head.length, 0);
      const header = parseNpyHeader(head, file, size);
      return new NpyFile(file, fd, header);
    } catch (e) {
      fs.closeSync(fd);
      throw fileError(file, e);
    }
  }

  private handle(): number {
    if (this.fd === null) throw new NRNMError(`${this.file} was closed`, 'ERR_DISPOSED');
    return this.fd;
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  /** Fills `out` from byte `position`; a short read (file shrank) is an error. */
  readBytesSync(position: number, out: Uint8Array): void {
    const fd = this.handle();
    const piece = 1 << 30;
    for (let done = 0; done < out.length;) {
      let n: number;
      try {
        n = fs.readSync(fd, out, done, Math.min(piece, out.length - done), position + done);
      } catch (e) {
        throw fileError(this.file, e);
      }
      if (n === 0) throw formatError(this.file, 'truncated while reading (did the file change?)', position + done);
      done += n;
    }
  }

  /** Asynchronous `readBytesSync`, off the event loop. */
  async readBytes(position: number, out: Uint8Array): Promise<void> {
    const fd = this.handle();
    const piece = 1 << 30;
    for (let done = 0; done < out.length;) {
      const n = await new Promise<number>((resolve, reject) =>
        fs.read(fd, out, done, Math.min(piece, out.length - done), position + done, (err, bytes) => (err ? reject(fileError(this.file, err)) : resolve(bytes))),
      );
      if (n === 0) throw formatError(this.file, 'truncated while reading (did the file change?)', position + done);
      done += n;
    }
  }

  private checkRows(start: number, count: number): void {
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > this.rows) {
      throw argError('rows', `a range within [0, ${this.rows}) of ${this.file}`, `[${start}, ${start + count})`);
    }
  }

  /** Rows [start, start + count) in the file's own dtype. */
  readRowsSync(start: number, count: number): NpyTypedArray {
    this.checkRows(start, count);
    const info = DTYPES[this.dtype];
    const out = info.make(count * this.rowLength);
    this.readBytesSync(this.dataOffset + start * this.rowLength * info.size, new Uint8Array(out.buffer));
    return out;
  }

  /** Rows [start, start + count) converted to float32, written into `out` at element `outOffset`. */
  readFloat32Sync(start: number, count: number, out: Float32Array, outOffset = 0): void {
    this.checkRows(start, count);
    const info = DTYPES[this.dtype];
    const n = count * this.rowLength;
    const position = this.dataOffset + start * this.rowLength * info.size;
    if (this.dtype === 'float32') {
      this.readBytesSync(position, new Uint8Array(out.buffer, out.byteOffset + outOffset * 4, n * 4));
      return;
    }
    const tmp = new Uint8Array(n * info.size);
    this.readBytesSync(position, tmp);
    convertInto(info.view(tmp.buffer, 0, n), out, outOffset, this.dtype);
  }

  /** Asynchronous `readFloat32Sync`. */
  async readFloat32(start: number, count: number, out: Float32Array, outOffset = 0): Promise<void> {
    this.checkRows(start, count);
    const info = DTYPES[this.dtype];
    const n = count * this.rowLength;
    const position = this.dataOffset + start * this.rowLength * info.size;
    if (this.dtype === 'float32') {
      await this.readBytes(position, new Uint8Array(out.buffer, out.byteOffset + outOffset * 4, n * 4));
      return;
    }
    const tmp = new Uint8Array(n * info.size);
    await this.readBytes(position, tmp);
    convertInto(info.view(tmp.buffer, 0, n), out, outOffset, this.dtype);
  }
}

function convertInto(src: NpyTypedArray, out: Float32Array, offset: number, dtype: NpyDType): void {
  if (dtype === 'int64' || dtype === 'uint64') {
    const s = src as BigInt64Array | BigUint64Array;
    for (let i = 0; i < s.length; i++) out[offset + i] = Number(s[i]);
  } else {
    out.set(src as Exclude<NpyTypedArray, BigInt64Array | BigUint64Array>, offset);
  }
}

/** Converts any .npy integer array to Int32Array labels (error on values out of int32 range). */
export function toInt32(array: NpyArray, file: string): Int32Array {
  if (array.dtype === 'float32' || array.dtype === 'float64') {
    throw new NRNMError(`${file}: labels must be integers but the array is ${array.dtype}`, 'ERR_FORMAT');
  }
  const out = new Int32Array(array.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = Number(array.data[i]!);
    if (v > 0x7fffffff || v < -0x80000000) throw new NRNMError(`${file}: element ${i} (${v}) does not fit in int32`, 'ERR_FORMAT');
    out[i] = v;
  }
  return out;
}

/**
 * Writes a .npy of known dtype and shape row by row, in any order, to a
 * temporary file that `close()` renames into place (`abort()` removes it).
 */
export class NpyWriter {
  readonly file: string;
  readonly dtype: NpyDType;
  readonly shape: number[];
  readonly rowLength: number;
  private readonly dataOffset: number;
  private readonly out: AtomicFile;

  private constructor(file: string, dtype: NpyDType, shape: number[]) {
    this.file = file;
    this.dtype = dtype;
    this.shape = shape;
    this.rowLength = shape.slice(1).reduce((a, b) => a * b, 1);
    const header = npyHeaderBytes(dtype, shape);
    this.dataOffset = header.length;
    this.out = new AtomicFile(file); // every write checked; the file appears on close()
    this.out.writeSync(header, 0);
    this.out.truncateSync(header.length + shape.reduce((a, b) => a * b, 1) * DTYPES[dtype].size);
  }

  static create(file: string, dtype: NpyDType, shape: readonly number[]): NpyWriter {
    if (!(dtype in DTYPES)) throw argError('dtype', `one of ${Object.keys(DTYPES).join(', ')}`, dtype);
    checkShape(
      shape,
      shape.reduce((a, b) => a * b, 1),
    );
    return new NpyWriter(file, dtype, [...shape]);
  }

  /** Writes `data` (whole rows, the writer's dtype) starting at row `row`. */
  writeSync(row: number, data: NpyTypedArray): void {
    if (!this.out.open) throw new NRNMError(`${this.file}: writer is closed`, 'ERR_DISPOSED');
    if (dtypeOf(data) !== this.dtype) throw argError('data', `a ${this.dtype} typed array`, data);
    const rows = this.shape.length === 0 ? 1 : this.shape[0]!;
    if (data.length % this.rowLength !== 0 || row < 0 || row + data.length / this.rowLength > rows) {
      throw argError('rows', `whole rows within [0, ${rows})`, `${data.length / this.rowLength} rows at ${row}`);
    }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    this.out.writeSync(bytes, this.dataOffset + row * this.rowLength * DTYPES[this.dtype].size);
  }

  /** Flushes, closes and renames the file into place (atomic-write.ts). */
  close(): void {
    if (this.out.open) this.out.commit();
  }

  /** Closes and deletes the temporary file; idempotent. */
  abort(): void {
    this.out.abort();
  }
}
