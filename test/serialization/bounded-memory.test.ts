/**
 * Crafted small files that declare (or expand to) far more than they hold:
 * each reader refuses them, naming the file, and its peak resident memory,
 * measured in a process of its own, stays within a small multiple of the
 * file's size above that of a process reading a small valid file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { deflatedZeros, gzippedIdx, stateDictPickle, stored, zipOf, type RawEntry } from '../helpers/crafted-files';
import { peakRss, type PeakRssResult } from '../helpers/peak-rss';

const MiB = 1 << 20;
let dir: string;
let baseline: number;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nrnm-bounded-'));
  // A valid state_dict of one 4-element tensor: what the readers cost with nothing to read.
  const small = join(dir, 'small.pt');
  writeFileSync(small, torchZip([{ name: 'w', key: '0', storageNumel: 4, shape: [4], stride: [1] }], [stored('archive/data/0', new Uint8Array(16))]));
  const r = peakRss('src/serialization/pytorch.ts', 'readStateDict', [small]);
  expect(r.error).toBeNull();
  baseline = r.maxRss;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function torchZip(specs: Parameters<typeof stateDictPickle>[0], data: RawEntry[]): Buffer {
  return zipOf([stored('archive/data.pkl', stateDictPickle(specs)), ...data, stored('archive/version', Buffer.from('3\n'))]);
}

function write(name: string, bytes: Uint8Array): string {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return file;
}

/** The peak over the baseline stays under 4x the file plus 24 MiB (V8 and parser slack). */
function expectBounded(r: PeakRssResult, fileSize: number): void {
  const over = r.maxRss - baseline;
  console.log(`file ${(fileSize / 1024).toFixed(0)} KiB -> peak RSS ${(r.maxRss / MiB).toFixed(0)} MiB (baseline ${(baseline / MiB).toFixed(0)} MiB)`);
  expect(over).toBeLessThan(4 * fileSize + 24 * MiB);
}

describe('readStateDict: memory follows the file', () => {
  test('a deflated storage declaring 256 MiB is refused before it is inflated', async () => {
    const numel = 64 * MiB; // float32: 256 MiB
    const bytes = torchZip([{ name: 'w', key: '0', storageNumel: numel, shape: [numel], stride: [1] }], [await deflatedZeros('archive/data/0', 4 * numel)]);
    const file = write('bomb.pt', bytes);
    const r = peakRss('src/serialization/pytorch.ts', 'readStateDict', [file]);
    expect(r.error?.code).toBe('ERR_FORMAT');
    expect(r.error?.message).toContain(`${file}: the deflated entry 'archive/data/0' declares ${4 * numel} bytes uncompressed`);
    expectBounded(r, bytes.length);
  });

  test('a broadcast (stride-0) view of 8000 x 8000 over a 4-element storage is refused before it is built', () => {
    const file = write(
      'stride0.pt',
      torchZip([{ name: 'w', key: '0', storageNumel: 4, shape: [8000, 8000], stride: [0, 0] }], [stored('archive/data/0', new Uint8Array(16))]),
    );
    const r = peakRss('src/serialization/pytorch.ts', 'readStateDict', [file]);
    expect(r.error?.code).toBe('ERR_FORMAT');
    expect(r.error?.message).toMatch(new RegExp(`^${file}: its 1 tensors hold 256000000 bytes, more than the \\d+ allowed for views of 16 bytes of storage`));
    expectBounded(r, 2000);
  });

  test('a view reaching past its storage is refused, naming the tensor', () => {
    const file = write(
      'past.pt',
      torchZip([{ name: 'w', key: '0', storageNumel: 4, shape: [5], stride: [1] }], [stored('archive/data/0', new Uint8Array(16))]),
    );
    const r = peakRss('src/serialization/pytorch.ts', 'readStateDict', [file]);
    expect(r.error?.message).toBe(`${file}: tensor 'w' (offset 0, shape [5], stride [1]) reaches element 4 of a storage of 4. The file is corrupt.`);
  });

  test('200 storages that are one 1 MiB entry listed 200 times (overlapping entries) are refused', () => {
    const n = 200;
    const numel = MiB / 4;
    const specs = Array.from({ length: n }, (_, i) => ({ name: `w${i}`, key: String(i), storageNumel: numel, shape: [numel], stride: [1] }));
    const data: RawEntry[] = [stored('archive/data/0', new Uint8Array(MiB))];
    for (let i = 1; i < n; i++) data.push({ ...data[0]!, name: `archive/data/${i}`, shareWith: 1 }); // index 1: after data.pkl
    const bytes = zipOf([stored('archive/data.pkl', stateDictPickle(specs)), ...data]);
    const file = write('overlap.pt', bytes);
    const r = peakRss('src/serialization/pytorch.ts', 'readStateDict', [file]);
    expect(r.error?.code).toBe('ERR_FORMAT');
    expect(r.error?.message).toMatch(new RegExp(`^${file}: the entry 'archive/data/\\d+' .* overlaps the next entry`));
    expectBounded(r, bytes.length);
  });

  test('300 tensors each viewing all of one shared 1 MiB storage are refused', () => {
    const numel = MiB / 4;
    const specs = Array.from({ length: 300 }, (_, i) => ({ name: `w${i}`, key: '0', storageNumel: numel, shape: [numel], stride: [1] }));
    const bytes = torchZip(specs, [stored('archive/data/0', new Uint8Array(MiB))]);
    const file = write('shared.pt', bytes);
    const r = peakRss('src/serialization/pytorch.ts', 'readStateDict', [file]);
    expect(r.error?.code).toBe('ERR_FORMAT');
    expect(r.error?.message).toContain(`${file}: its 300 tensors hold ${300 * MiB} bytes`);
    expectBounded(r, bytes.length);
  });
});

describe('readIdx and the .skeleton reader: memory follows the file', () => {
  test('a gzipped IDX declaring 512 MiB of zeros is refused before it is inflated', async () => {
    const bytes = await gzippedIdx(512 * MiB);
    const file = write('bomb-images-idx3-ubyte.gz', bytes);
    const r = peakRss('src/data/idx.ts', 'readIdx', [file]);
    expect(r.error?.code).toBe('ERR_FORMAT');
    expect(r.error?.message).toContain(`${file} (after gunzip): shape (${512 * MiB}) declares ${512 * MiB + 8} bytes, more than the`);
    expectBounded(r, bytes.length);
  });

  test('a .skeleton of 400,000 empty frames (781 KiB) is read in memory of its size', () => {
    const frames = 400_000;
    const bytes = Buffer.from(`${frames}\n${'0\n'.repeat(frames)}`);
    const file = write('S001C001P001R001A001.skeleton', bytes);
    const r = peakRss('src/data/ntu/skeleton.ts', 'readSkeletonFile', [file]);
    expect(r.error).toBeNull();
    expectBounded(r, bytes.length);
  });

  test('a .skeleton line longer than any real one is refused, naming the file and line', () => {
    const file = write('long.skeleton', Buffer.from(`1\n1\n${'7'.repeat(10_000)}\n`));
    const r = peakRss('src/data/ntu/skeleton.ts', 'readSkeletonFile', [file]);
    expect(r.error?.message).toBe(`${file}: a line longer than 4096 bytes; this is not a .skeleton file at line 3.`);
  });
});
