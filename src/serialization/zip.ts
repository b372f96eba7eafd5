/**
 * The subset of ZIP that PyTorch's zip serialization uses.
 *
 * Reading: stored and deflated entries, ZIP64 (end record, locator and the
 * per-entry extra field), entries with data descriptors (torch writes its
 * sizes only in the central directory). Every entry is CRC-checked. The
 * reader works on a random-access source (an open file or bytes in memory)
 * and reads each entry with one positioned read into a buffer of its own, so
 * files of any size are read without whole-file copies.
 *
 * Memory is bounded by the file: entries may not overlap (so stored entries
 * together hold at most the file's bytes), and deflated entries together may
 * inflate to at most `inflateAllowance(file size)` bytes (src/limits.ts),
 * checked against their declared sizes before anything is inflated.
 *
 * Writing: stored entries only, written straight to the file as they are
 * added (no buffering of the whole archive); each entry's data is aligned
 * like torch aligns it (64 bytes, through a padding extra field 'FB'); ZIP64
 * records are written when an offset or size needs them.
 */
import { open, type FileHandle } from 'node:fs/promises';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';

import { formatError, SerializationError } from './errors';
import { quoted } from '../file-errors';
import { inflateAllowance } from '../limits';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const LOCAL_HEADER_SIZE = 30;
const CENTRAL_HEADER_SIZE = 46;
const EOCD_SIZE = 22;
const ZIP64_EOCD_SIZE = 56;
const ZIP64_LOCATOR_SIZE = 20;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
const METHOD_STORED = 0;
const METHOD_DEFLATED = 8;
const FLAG_ENCRYPTED = 0x0001;
const FLAG_UTF8 = 0x0800;
const EXTRA_ZIP64 = 0x0001;
/** The padding extra field torch writes ('FB' little-endian), filled with 'Z'. */
const EXTRA_TORCH_PADDING = 0x4246;
/** Largest single read or write passed to the OS. */
const IO_CHUNK = 1 << 30;

const inflateRaw = promisify(zlib.inflateRaw) as (buf: Uint8Array, options: zlib.ZlibOptions) => Promise<Buffer>;

// ---------------------------------------------------------------------------
// CRC-32
// ---------------------------------------------------------------------------

let crcTable: Uint32Array | undefined;

/** Table-driven CRC-32 for Node versions without `zlib.crc32` (exported for tests). */
export function crc32Js(data: Uint8Array, value: number): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = ~value;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 (ZIP's), continuing from `value`; uses zlib's native one where Node has it (>= 20.15). */
export function crc32(data: Uint8Array, value = 0): number {
  if (nativeCrc32 !== undefined) {
    let crc = value;
    for (let off = 0; off < data.length; off += IO_CHUNK) {
      crc = nativeCrc32(data.subarray(off, Math.min(data.length, off + IO_CHUNK)), crc);
    }
    return crc >>> 0;
  }
  return crc32Js(data, value);
}

// ---------------------------------------------------------------------------
// Random-access sources
// ---------------------------------------------------------------------------

/** What the reader reads from: a file or bytes in memory. */
export interface RandomAccessSource {
  /** Name used in error messages (a path). */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes at `position`, in a buffer of their own (the caller checks bounds first). */
  read(position: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

class FileSource implements RandomAccessSource {
  constructor(
    readonly name: string,
    readonly size: number,
    private readonly fh: FileHandle,
  ) {}

  async read(position: number, length: number): Promise<Uint8Array> {
    // A fresh ArrayBuffer per read: offset 0, so typed-array views are aligned.
    const out = new Uint8Array(new ArrayBuffer(length));
    let done = 0;
    while (done < length) {
      const want = Math.min(IO_CHUNK, length - done);
      const { bytesRead } = await this.fh.read(out, done, want, position + done);
      if (bytesRead === 0) {
        throw formatError(this.name, 'unexpected end of file', position + done, 'The file is truncated.');
      }
      done += bytesRead;
    }
    return out;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

class BytesSource implements RandomAccessSource {
  constructor(
    readonly name: string,
    private readonly bytes: Uint8Array,
  ) {}

  get size(): number {
    return this.bytes.length;
  }

  read(position: number, length: number): Promise<Uint8Array> {
    // A copy: what the reader returns never aliases the caller's bytes.
    return Promise.resolve(this.bytes.slice(position, position + length));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

// ---------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------

export interface ZipEntry {
  /** Full name inside the archive, e.g. `archive/data/0`. */
  readonly name: string;
  /** 0 (stored) or 8 (deflated). */
  readonly method: number;
  readonly crc32: number;
  readonly compressedSize: number;
  /** Uncompressed size in bytes. */
  readonly size: number;
  /** Offset of the entry's local header in the file. */
  readonly localHeaderOffset: number;
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function u64(view: DataView, offset: number): number {
  const v = view.getBigUint64(offset, true);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER + 1 : Number(v);
}

const utf8 = new TextDecoder('utf-8');

/** Reads a ZIP archive's central directory, then entries on demand. */
export class ZipReader {
  private readonly byName = new Map<string, ZipEntry>();
  /** Bytes deflated entries may still inflate to. */
  private inflateBudget: number;

  private constructor(
    private readonly src: RandomAccessSource,
    readonly entries: readonly ZipEntry[],
  ) {
    for (const e of entries) this.byName.set(e.name, e);
    this.inflateBudget = inflateAllowance(src.size);
  }

  /** The file name (or source name) errors refer to. */
  get source(): string {
    return this.src.name;
  }

  /** Opens a file; close the reader when done. */
  static async open(path: string): Promise<ZipReader> {
    const fh = await open(path, 'r');
    try {
      const { size } = await fh.stat();
      return await ZipReader.fromSource(new FileSource(path, size, fh));
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** Reads an archive already in memory; `source` names it in errors. */
  static fromBytes(bytes: Uint8Array, source: string): Promise<ZipReader> {
    return ZipReader.fromSource(new BytesSource(source, bytes));
  }

  static async fromSource(src: RandomAccessSource): Promise<ZipReader> {
    const { cdOffset, cdSize, count } = await findCentralDirectory(src);
    const entries = parseCentralDirectory(src.name, await src.read(cdOffset, cdSize), cdOffset, count, src.size);
    return new ZipReader(src, entries);
  }

  entry(name: string): ZipEntry | undefined {
    return this.byName.get(name);
  }

  /** The entry's uncompressed bytes, CRC-checked. */
  async read(nameOrEntry: string | ZipEntry): Promise<Uint8Array> {
    const entry = typeof nameOrEntry === 'string' ? this.byName.get(nameOrEntry) : nameOrEntry;
    if (entry === undefined) {
      throw formatError(this.src.name, `the archive has no entry ${quoted(String(nameOrEntry), 80)}`, undefined);
    }
    const file = this.src.name;
    const at = entry.localHeaderOffset;
    if (at + LOCAL_HEADER_SIZE > this.src.size) {
      throw formatError(file, `the local header of ${quoted(entry.name, 80)} lies past the end of the file`, at, 'The file is truncated.');
    }
    const header = dv(await this.src.read(at, LOCAL_HEADER_SIZE));
    if (header.getUint32(0, true) !== SIG_LOCAL) {
      throw formatError(file, `bad local header signature for ${quoted(entry.name, 80)}`, at, 'The file is corrupt.');
    }
    const dataStart = at + LOCAL_HEADER_SIZE + header.getUint16(26, true) + header.getUint16(28, true);
    if (dataStart + entry.compressedSize > this.src.size) {
      throw formatError(
        file,
        `the data of ${quoted(entry.name, 80)} (${entry.compressedSize} bytes) runs past the end of the file (${this.src.size} bytes)`,
        dataStart,
        'The file is truncated; copy or download it again.',
      );
    }
    if (entry.method === METHOD_DEFLATED) this.reserveInflate(entry, dataStart);
    const raw = await this.src.read(dataStart, entry.compressedSize);
    let data: Uint8Array;
    if (entry.method === METHOD_STORED) {
      data = raw;
    } else {
      try {
        data = await inflateRaw(raw, { maxOutputLength: Math.max(1, entry.size) });
      } catch (err) {
        throw new SerializationError(
          'ERR_FORMAT',
          `${file}: the deflated data of ${quoted(entry.name, 80)} at byte ${dataStart} cannot be inflated (${(err as Error).message}). The file is corrupt.`,
          { file, offset: dataStart, cause: err },
        );
      }
    }
    if (data.length !== entry.size) {
      throw formatError(file, `${quoted(entry.name, 80)} has ${data.length} bytes but the directory says ${entry.size}`, dataStart, 'The file is corrupt.');
    }
    const crc = crc32(data);
    if (crc !== entry.crc32) {
      throw formatError(
        file,
        `CRC-32 mismatch in ${quoted(entry.name, 80)} (computed ${hex32(crc)}, expected ${hex32(entry.crc32)})`,
        dataStart,
        'The file is corrupt; copy or download it again.',
      );
    }
    return data;
  }

  close(): Promise<void> {
    return this.src.close();
  }

  /** Refuses, before inflating, an entry whose declared size would exceed what is left of the allowance. */
  private reserveInflate(entry: ZipEntry, dataStart: number): void {
    if (entry.size > this.inflateBudget) {
      throw formatError(
        this.src.name,
        `the deflated entry ${quoted(entry.name, 80)} declares ${entry.size} bytes uncompressed (from ${entry.compressedSize}), ` +
          `more than the ${inflateAllowance(this.src.size)} bytes the compressed data of a ${this.src.size}-byte archive may inflate to`,
        dataStart,
        'The file is corrupt or built to exhaust memory (see README, "Limits on the files read").',
      );
    }
    this.inflateBudget -= entry.size;
  }
}

function hex32(v: number): string {
  return `0x${v.toString(16).padStart(8, '0')}`;
}

async function findCentralDirectory(src: RandomAccessSource): Promise<{ cdOffset: number; cdSize: number; count: number }> {
  const file = src.name;
  if (src.size < EOCD_SIZE) {
    throw formatError(file, `${src.size} bytes is too short for a ZIP archive`, undefined, 'The file is truncated or not a zip file.');
  }
  // The end record sits at the end, after a comment of at most 65535 bytes.
  const tailLength = Math.min(src.size, EOCD_SIZE + U16_MAX);
  const tailStart = src.size - tailLength;
  const tail = await src.read(tailStart, tailLength);
  const t = dv(tail);
  let eocd = -1;
  for (let i = tail.length - EOCD_SIZE; i >= 0; i--) {
    if (t.getUint32(i, true) === SIG_EOCD && i + EOCD_SIZE + t.getUint16(i + 20, true) === tail.length) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw formatError(
      file,
      `the file ends at byte ${src.size} without a ZIP end-of-central-directory record`,
      undefined,
      'It is truncated (an interrupted download or copy?) or is not a zip archive.',
    );
  }
  const eocdPos = tailStart + eocd;
  let count = t.getUint16(eocd + 10, true);
  let cdSize = t.getUint32(eocd + 12, true);
  let cdOffset = t.getUint32(eocd + 16, true);

  const locatorPos = eocdPos - ZIP64_LOCATOR_SIZE;
  if (locatorPos >= 0) {
    const loc = dv(await src.read(locatorPos, ZIP64_LOCATOR_SIZE));
    if (loc.getUint32(0, true) === SIG_ZIP64_LOCATOR) {
      const recPos = u64(loc, 8);
      if (recPos + ZIP64_EOCD_SIZE > locatorPos) {
        throw formatError(file, 'the ZIP64 locator points outside the file', locatorPos, 'The file is corrupt.');
      }
      const rec = dv(await src.read(recPos, ZIP64_EOCD_SIZE));
      if (rec.getUint32(0, true) !== SIG_ZIP64_EOCD) {
        throw formatError(file, 'bad ZIP64 end-of-central-directory signature', recPos, 'The file is corrupt.');
      }
      count = u64(rec, 32);
      cdSize = u64(rec, 40);
      cdOffset = u64(rec, 48);
    }
  } else if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
    throw formatError(file, 'the ZIP64 end record is missing', eocdPos, 'The file is corrupt.');
  }
  if (cdOffset + cdSize > eocdPos) {
    throw formatError(
      file,
      `the central directory (${cdSize} bytes at byte ${cdOffset}) does not fit before the end record`,
      eocdPos,
      'The file is truncated or corrupt.',
    );
  }
  return { cdOffset, cdSize, count };
}

function parseCentralDirectory(file: string, cd: Uint8Array, cdOffset: number, count: number, fileSize: number): ZipEntry[] {
  const v = dv(cd);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    const at = cdOffset + p;
    if (p + CENTRAL_HEADER_SIZE > cd.length || v.getUint32(p, true) !== SIG_CENTRAL) {
      throw formatError(file, `bad central directory entry ${i} of ${count}`, at, 'The file is corrupt.');
    }
    const flags = v.getUint16(p + 8, true);
    const method = v.getUint16(p + 10, true);
    const crc = v.getUint32(p + 16, true);
    let compressedSize = v.getUint32(p + 20, true);
    let size = v.getUint32(p + 24, true);
    const nameLength = v.getUint16(p + 28, true);
    const extraLength = v.getUint16(p + 30, true);
    const commentLength = v.getUint16(p + 32, true);
    let localHeaderOffset = v.getUint32(p + 42, true);
    const nameStart = p + CENTRAL_HEADER_SIZE;
    const extraStart = nameStart + nameLength;
    const next = extraStart + extraLength + commentLength;
    if (next > cd.length) {
      throw formatError(file, `central directory entry ${i} runs past the directory`, at, 'The file is corrupt.');
    }
    const name = utf8.decode(cd.subarray(nameStart, extraStart));
    // ZIP64 extra: the 8-byte values of the fields that are 0xFFFFFFFF, in this order.
    for (let e = extraStart; e + 4 <= extraStart + extraLength;) {
      const id = v.getUint16(e, true);
      const len = v.getUint16(e + 2, true);
      if (id === EXTRA_ZIP64) {
        let q = e + 4;
        const end = Math.min(q + len, extraStart + extraLength);
        const take = (): number => {
          if (q + 8 > end) throw formatError(file, `short ZIP64 extra field in ${quoted(name, 80)}`, at, 'The file is corrupt.');
          const value = u64(v, q);
          q += 8;
          return value;
        };
        if (size === U32_MAX) size = take();
        if (compressedSize === U32_MAX) compressedSize = take();
        if (localHeaderOffset === U32_MAX) localHeaderOffset = take();
      }
      e += 4 + len;
    }
    if (flags & FLAG_ENCRYPTED) {
      throw formatError(file, `${quoted(name, 80)} is encrypted`, at, 'Encrypted archives are not supported.');
    }
    if (method !== METHOD_STORED && method !== METHOD_DEFLATED) {
      throw formatError(file, `${quoted(name, 80)} uses compression method ${method}`, at, 'Only stored and deflated entries are supported.');
    }
    if (method === METHOD_STORED && compressedSize !== size) {
      throw formatError(file, `stored entry ${quoted(name, 80)} has different compressed and uncompressed sizes`, at, 'The file is corrupt.');
    }
    if (localHeaderOffset >= fileSize) {
      throw formatError(file, `${quoted(name, 80)} starts past the end of the file`, at, 'The file is truncated or corrupt.');
    }
    entries.push({ name, method, crc32: crc, compressedSize, size, localHeaderOffset });
    p = next;
  }
  checkNoOverlap(file, entries, fileSize);
  return entries;
}

/**
 * Entries that share bytes are how zip bombs multiply a small file; no
 * archiver writes them. Each entry's local header and data must end before
 * the next entry starts (and inside the file).
 */
function checkNoOverlap(file: string, entries: readonly ZipEntry[], fileSize: number): void {
  const byOffset = [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 0; i < byOffset.length; i++) {
    const e = byOffset[i]!;
    const end = e.localHeaderOffset + LOCAL_HEADER_SIZE + e.compressedSize;
    const next = i + 1 < byOffset.length ? byOffset[i + 1]!.localHeaderOffset : fileSize;
    if (end > next) {
      const what =
        i + 1 < byOffset.length
          ? `the entry ${quoted(e.name, 80)} (${e.compressedSize} bytes at byte ${e.localHeaderOffset}) overlaps the next entry at byte ${next}`
          : `the entry ${quoted(e.name, 80)} (${e.compressedSize} bytes at byte ${e.localHeaderOffset}) runs past the end of the file (${fileSize} bytes)`;
      throw formatError(file, what, e.localHeaderOffset, 'The file is truncated or corrupt.');
    }
  }
}

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

export interface ZipWriterOptions {
  /** Write ZIP64 records even when nothing needs them (for tests). */
  readonly forceZip64?: boolean;
}

interface WrittenEntry {
  readonly name: Uint8Array;
  readonly flags: number;
  readonly crc: number;
  readonly size: number;
  readonly offset: number;
}

const utf8Encoder = new TextEncoder();
/** DOS date 1980-01-01, time 00:00: fixed, so the same content gives the same bytes. */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const DOS_TIME = 0;

/**
 * Writes a ZIP archive of stored entries to a file, entry by entry. Call
 * `finish()` to write the central directory and close, or `abort()` to close.
 */
export class ZipWriter {
  private position = 0;
  private readonly written: WrittenEntry[] = [];
  private readonly names = new Set<string>();
  private closed = false;

  private constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    private readonly options: ZipWriterOptions,
  ) {}

  /** Creates (or truncates) `path`. */
  static async create(path: string, options: ZipWriterOptions = {}): Promise<ZipWriter> {
    return new ZipWriter(await open(path, 'w'), path, options);
  }

  private async write(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const want = Math.min(IO_CHUNK, bytes.length - done);
      const { bytesWritten } = await this.fh.write(bytes, done, want, this.position);
      done += bytesWritten;
      this.position += bytesWritten;
    }
  }

  /**
   * Adds a stored entry. `chunks` are written in order without being joined.
   * `align` (default 64, like torch) aligns the entry's data in the file.
   */
  async add(name: string, chunks: Uint8Array | readonly Uint8Array[], align = 64): Promise<void> {
    if (this.closed) throw new SerializationError('ERR_ARG', `${this.path}: the zip writer is already closed`);
    if (this.names.has(name)) throw new SerializationError('ERR_ARG', `${this.path}: duplicate zip entry '${name}'`);
    this.names.add(name);
    const parts = chunks instanceof Uint8Array ? [chunks] : chunks;
    let size = 0;
    let crc = 0;
    for (const part of parts) {
      size += part.length;
      crc = crc32(part, crc);
    }
    const nameBytes = utf8Encoder.encode(name);
    if (nameBytes.length > U16_MAX) throw new SerializationError('ERR_ARG', `zip entry name too long: ${name}`);
    const flags = /^[\x20-\x7e]*$/.test(name) ? 0 : FLAG_UTF8;
    const zip64 = this.options.forceZip64 === true || size >= U32_MAX;
    const offset = this.position;

    const zip64Extra = zip64 ? 20 : 0;
    const unpadded = offset + LOCAL_HEADER_SIZE + nameBytes.length + zip64Extra + 4;
    const padding = align > 1 ? (align - (unpadded % align)) % align : 0;
    const extraLength = zip64Extra + (align > 1 ? 4 + padding : 0);

    const header = new Uint8Array(LOCAL_HEADER_SIZE + nameBytes.length + extraLength);
    const h = dv(header);
    h.setUint32(0, SIG_LOCAL, true);
    h.setUint16(4, zip64 ? 45 : 20, true);
    h.setUint16(6, flags, true);
    h.setUint16(8, METHOD_STORED, true);
    h.setUint16(10, DOS_TIME, true);
    h.setUint16(12, DOS_DATE, true);
    h.setUint32(14, crc, true);
    h.setUint32(18, zip64 ? U32_MAX : size, true);
    h.setUint32(22, zip64 ? U32_MAX : size, true);
    h.setUint16(26, nameBytes.length, true);
    h.setUint16(28, extraLength, true);
    header.set(nameBytes, LOCAL_HEADER_SIZE);
    let e = LOCAL_HEADER_SIZE + nameBytes.length;
    if (zip64) {
      h.setUint16(e, EXTRA_ZIP64, true);
      h.setUint16(e + 2, 16, true);
      h.setBigUint64(e + 4, BigInt(size), true);
      h.setBigUint64(e + 12, BigInt(size), true);
      e += 20;
    }
    if (align > 1) {
      h.setUint16(e, EXTRA_TORCH_PADDING, true);
      h.setUint16(e + 2, padding, true);
      header.fill(0x5a /* 'Z' */, e + 4, e + 4 + padding);
    }
    await this.write(header);
    for (const part of parts) await this.write(part);
    this.written.push({ name: nameBytes, flags, crc, size, offset });
  }

  /**
   * Writes the central directory and the end records, then closes the file;
   * with `sync`, flushes it to disk first (for an atomic rename after).
   */
  async finish(options: { sync?: boolean } = {}): Promise<void> {
    if (this.closed) throw new SerializationError('ERR_ARG', `${this.path}: the zip writer is already closed`);
    const force = this.options.forceZip64 === true;
    const cdOffset = this.position;
    const records: Uint8Array[] = [];
    for (const w of this.written) {
      const bigSize = force || w.size >= U32_MAX;
      const bigOffset = force || w.offset >= U32_MAX;
      const extraLength = bigSize || bigOffset ? 4 + (bigSize ? 16 : 0) + (bigOffset ? 8 : 0) : 0;
      const rec = new Uint8Array(CENTRAL_HEADER_SIZE + w.name.length + extraLength);
      const r = dv(rec);
      r.setUint32(0, SIG_CENTRAL, true);
      r.setUint16(4, (3 << 8) | 45, true); // made by: Unix, spec 4.5 (names are not OEM-encoded)
      r.setUint16(6, extraLength > 0 ? 45 : 20, true);
      r.setUint16(8, w.flags, true);
      r.setUint16(10, METHOD_STORED, true);
      r.setUint16(12, DOS_TIME, true);
      r.setUint16(14, DOS_DATE, true);
      r.setUint32(16, w.crc, true);
      r.setUint32(20, bigSize ? U32_MAX : w.size, true);
      r.setUint32(24, bigSize ? U32_MAX : w.size, true);
      r.setUint16(28, w.name.length, true);
      r.setUint16(30, extraLength, true);
      r.setUint32(38, (0o100644 << 16) >>> 0, true); // external attributes: a regular file, rw-r--r--
      r.setUint32(42, bigOffset ? U32_MAX : w.offset, true);
      rec.set(w.name, CENTRAL_HEADER_SIZE);
      if (extraLength > 0) {
        let e = CENTRAL_HEADER_SIZE + w.name.length;
        r.setUint16(e, EXTRA_ZIP64, true);
        r.setUint16(e + 2, extraLength - 4, true);
        e += 4;
        if (bigSize) {
          r.setBigUint64(e, BigInt(w.size), true);
          r.setBigUint64(e + 8, BigInt(w.size), true);
          e += 16;
        }
        if (bigOffset) r.setBigUint64(e, BigInt(w.offset), true);
      }
      records.push(rec);
    }
    for (const rec of records) await this.write(rec);
    const cdSize = this.position - cdOffset;
    const count = this.written.length;
    const zip64 = force || count >= U16_MAX || cdOffset >= U32_MAX || cdSize >= U32_MAX;
    if (zip64) {
      const recPos = this.position;
      const end = new Uint8Array(ZIP64_EOCD_SIZE + ZIP64_LOCATOR_SIZE);
      const z = dv(end);
      z.setUint32(0, SIG_ZIP64_EOCD, true);
      z.setBigUint64(4, BigInt(ZIP64_EOCD_SIZE - 12), true);
      z.setUint16(12, 45, true);
      z.setUint16(14, 45, true);
      z.setBigUint64(24, BigInt(count), true);
      z.setBigUint64(32, BigInt(count), true);
      z.setBigUint64(40, BigInt(cdSize), true);
      z.setBigUint64(48, BigInt(cdOffset), true);
      z.setUint32(56, SIG_ZIP64_LOCATOR, true);
      z.setBigUint64(64, BigInt(recPos), true);
      z.setUint32(72, 1, true);
      await this.write(end);
    }
    const eocd = new Uint8Array(EOCD_SIZE);
    const d = dv(eocd);
    d.setUint32(0, SIG_EOCD, true);
    d.setUint16(8, zip64 ? U16_MAX : count, true);
    d.setUint16(10, zip64 ? U16_MAX : count, true);
    d.setUint32(12, zip64 ? U32_MAX : cdSize, true);
    d.setUint32(16, zip64 ? U32_MAX : cdOffset, true);
    await this.write(eocd);
    this.closed = true;
    try {
      if (options.sync === true) await this.fh.sync();
    } finally {
      await this.fh.close();
    }
  }

  /** Closes the file without finishing it (the caller removes it). */
  async abort(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}
