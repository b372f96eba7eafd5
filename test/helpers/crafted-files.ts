/**
 * Small files built to make a reader allocate far more than their size:
 * zip archives written by hand (deflated entries, entries sharing bytes),
 * torch state_dict pickles with views bigger than their storages, gzip bombs.
 */
import { once } from 'node:events';
import * as zlib from 'node:zlib';

import { pickle, PyGlobal, PyPersistentId, PyReduce, tuple } from '../../src/serialization/pickle';
import { crc32 } from '../../src/serialization/zip';

export interface RawEntry {
  name: string;
  /** The bytes as stored in the archive (compressed for method 8). */
  data: Uint8Array;
  method: 0 | 8;
  /** Uncompressed size and CRC-32 to declare. */
  size: number;
  crc: number;
  /** Write no data of its own: point at the data of entry `shareWith` (a zip-bomb overlap). */
  shareWith?: number;
}

/** A zip archive of `entries`, headers written by hand so that any size can be declared. */
export function zipOf(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  const offsets: number[] = [];
  let pos = 0;
  for (const e of entries) {
    if (e.shareWith !== undefined) {
      offsets.push(offsets[e.shareWith]!);
      continue;
    }
    const name = Buffer.from(e.name);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt16LE(e.method, 8);
    h.writeUInt32LE(e.crc, 14);
    h.writeUInt32LE(e.data.length, 18);
    h.writeUInt32LE(e.size, 22);
    h.writeUInt16LE(name.length, 26);
    offsets.push(pos);
    parts.push(h, name, Buffer.from(e.data));
    pos += 30 + name.length + e.data.length;
  }
  const cdStart = pos;
  entries.forEach((e, i) => {
    const name = Buffer.from(e.name);
    const c = Buffer.alloc(46);
    const stored = e.shareWith !== undefined ? entries[e.shareWith]! : e;
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(stored.method, 10);
    c.writeUInt32LE(stored.crc, 16);
    c.writeUInt32LE(stored.data.length, 20);
    c.writeUInt32LE(stored.size, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt32LE(offsets[i]!, 42);
    parts.push(c, name);
    pos += 46 + name.length;
  });
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(pos - cdStart, 12);
  end.writeUInt32LE(cdStart, 16);
  parts.push(end);
  return Buffer.concat(parts);
}

/** A stored zip entry. */
export function stored(name: string, data: Uint8Array): RawEntry {
  return { name, data, method: 0, size: data.length, crc: crc32(data) };
}

/** A deflated entry of `size` zero bytes, deflated piece by piece (never held whole). */
export async function deflatedZeros(name: string, size: number): Promise<RawEntry> {
  const deflate = zlib.createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (b: Buffer) => out.push(b));
  const piece = Buffer.alloc(1 << 20);
  let crc = 0;
  for (let done = 0; done < size; done += piece.length) {
    const chunk = piece.subarray(0, Math.min(piece.length, size - done));
    crc = crc32(chunk, crc);
    if (!deflate.write(chunk)) await once(deflate, 'drain');
  }
  deflate.end();
  await once(deflate, 'end');
  return { name, data: Buffer.concat(out), method: 8, size, crc };
}

export interface TensorSpec {
  name: string;
  /** Storage key (data/<key>) and its float32 element count. */
  key: string;
  storageNumel: number;
  shape: number[];
  stride: number[];
}

/** The data.pkl of a state_dict of float32 tensors, each a view of a storage as `specs` say. */
export function stateDictPickle(specs: TensorSpec[]): Uint8Array {
  const od = new PyGlobal('collections', 'OrderedDict');
  const rebuild = new PyGlobal('torch._utils', '_rebuild_tensor_v2');
  const items = specs.map((s) => {
    const pid = new PyPersistentId(tuple('storage', new PyGlobal('torch', 'FloatStorage'), s.key, 'cpu', s.storageNumel));
    return [s.name, new PyReduce(rebuild, tuple(pid, 0, tuple(...s.shape), tuple(...s.stride), false, new PyReduce(od, tuple())))] as const;
  });
  return pickle(new PyReduce(od, tuple(), { dictItems: items }));
}

/** A gzipped IDX file whose header declares `count` unsigned bytes, all 0, gzipped piece by piece. */
export async function gzippedIdx(count: number): Promise<Buffer> {
  const gzip = zlib.createGzip({ level: 9 });
  const out: Buffer[] = [];
  gzip.on('data', (b: Buffer) => out.push(b));
  const header = Buffer.from([0, 0, 0x08, 1, 0, 0, 0, 0]);
  header.writeUInt32BE(count, 4);
  gzip.write(header);
  const piece = Buffer.alloc(1 << 20);
  for (let done = 0; done < count; done += piece.length) {
    if (!gzip.write(piece.subarray(0, Math.min(piece.length, count - done)))) await once(gzip, 'drain');
  }
  gzip.end();
  await once(gzip, 'end');
  return Buffer.concat(out);
}
