import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { SerializationError } from '../../src/serialization/errors';
import { crc32, crc32Js, ZipReader, ZipWriter } from '../../src/serialization/zip';

const FIXTURES = join(__dirname, '..', 'fixtures', 'serialization');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nrnm-zip-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<SerializationError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(SerializationError);
    return err as SerializationError;
  }
  throw new Error('expected a rejection');
}

/** Offsets where each entry's data starts, from the local headers. */
function dataOffsets(bytes: Uint8Array, reader: ZipReader): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return reader.entries.map((e) => e.localHeaderOffset + 30 + view.getUint16(e.localHeaderOffset + 26, true) + view.getUint16(e.localHeaderOffset + 28, true));
}

describe('crc32', () => {
  it('matches the standard check value, natively and in the portable fallback', () => {
    const check = new TextEncoder().encode('123456789');
    expect(crc32(check)).toBe(0xcbf43926);
    expect(crc32Js(check, 0)).toBe(0xcbf43926);
    expect(crc32(check.subarray(4), crc32(check.subarray(0, 4)))).toBe(0xcbf43926);
  });
});

describe('ZipReader', () => {
  it('reads a Python zipfile archive with a ZIP64 local header and a deflated entry', async () => {
    const zip = await ZipReader.open(join(FIXTURES, 'zip64_deflate.zip'));
    try {
      expect(zip.entries.map((e) => e.name)).toEqual(['arch/stored.bin', 'arch/deflated.txt']);
      const stored = await zip.read('arch/stored.bin');
      expect(stored.length).toBe(1024);
      expect(stored.every((b, i) => b === i % 256)).toBe(true);
      expect(zip.entry('arch/deflated.txt')!.method).toBe(8);
      expect(new TextDecoder().decode(await zip.read('arch/deflated.txt'))).toBe('hello deflate '.repeat(50));
    } finally {
      await zip.close();
    }
  });

  it('reads the torch-written archive (data descriptors, ZIP64 end records)', async () => {
    const zip = await ZipReader.open(join(FIXTURES, 'state_dict_mixed.pt'));
    try {
      expect(zip.entries[0]!.name).toBe('state_dict_mixed/data.pkl');
      expect(new TextDecoder().decode(await zip.read('state_dict_mixed/version'))).toBe('3\n');
    } finally {
      await zip.close();
    }
  });

  const good = (): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, 'zip64_deflate.zip')));

  it('reports a truncated file with its name and where it ends', async () => {
    const bytes = good();
    for (const keep of [0, 10, 100, bytes.length - 30, bytes.length - 1]) {
      const err = await rejection(ZipReader.fromBytes(bytes.subarray(0, keep), 'cut.zip').then((z) => Promise.all(z.entries.map((e) => z.read(e)))));
      expect(err.code).toBe('ERR_FORMAT');
      expect(err.message).toMatch(/^cut\.zip: .*(byte \d+|too short)/);
    }
  });

  it('reports a CRC mismatch, naming the entry and where its data is', async () => {
    const bytes = good();
    const zip0 = await ZipReader.fromBytes(bytes, 'ok.zip');
    const at = dataOffsets(bytes, zip0)[0]!;
    bytes[at + 5] ^= 0xff;
    const zip = await ZipReader.fromBytes(bytes, 'flipped.zip');
    const err = await rejection(zip.read('arch/stored.bin'));
    expect(err.message).toContain("flipped.zip: CRC-32 mismatch in 'arch/stored.bin'");
    expect(err.offset).toBe(at);
  });

  it('reports bad signatures and corrupt deflate streams', async () => {
    const bytes = good();
    const zip = await ZipReader.fromBytes(bytes, 'x.zip');
    const [storedAt, deflatedAt] = zip.entries.map((e) => e.localHeaderOffset);
    const badLocal = bytes.slice();
    badLocal[storedAt!] = 0;
    expect((await rejection((await ZipReader.fromBytes(badLocal, 'x.zip')).read('arch/stored.bin'))).message).toContain('bad local header signature');
    const badDeflate = bytes.slice();
    const deflateData = dataOffsets(bytes, zip)[1]!;
    badDeflate.fill(0xff, deflateData, deflateData + 8);
    await rejection((await ZipReader.fromBytes(badDeflate, 'x.zip')).read('arch/deflated.txt'));
    const view = new DataView(bytes.buffer);
    const cdOffset = view.getUint32(bytes.length - 22 + 16, true);
    const badCentral = bytes.slice();
    badCentral[cdOffset] = 0;
    expect((await rejection(ZipReader.fromBytes(badCentral, 'x.zip'))).message).toContain('bad central directory entry');
    expect(deflatedAt).toBeGreaterThan(0);
    expect((await rejection(ZipReader.fromBytes(new TextEncoder().encode('not a zip at all, just text'), 'x.zip'))).message).toContain(
      'x.zip: the file ends at byte 27 without a ZIP end-of-central-directory record',
    );
  });
});

describe('ZipWriter', () => {
  it.each([false, true])('writes stored, 64-byte-aligned entries that read back (forceZip64: %s)', async (forceZip64) => {
    const path = join(dir, `w${forceZip64 ? '64' : ''}.zip`);
    const w = await ZipWriter.create(path, { forceZip64 });
    const big = new Uint8Array(100_003).map((_, i) => (i * 7) & 0xff);
    await w.add('archive/data.pkl', new TextEncoder().encode('pickle'));
    await w.add('archive/data/0', [big.subarray(0, 50_000), big.subarray(50_000)]);
    await w.add('archive/empty', new Uint8Array(0));
    await w.add('archive/nämé', Uint8Array.from([1]));
    await w.finish({ sync: true });

    const bytes = new Uint8Array(readFileSync(path));
    const zip = await ZipReader.open(path);
    try {
      expect(zip.entries.map((e) => e.name)).toEqual(['archive/data.pkl', 'archive/data/0', 'archive/empty', 'archive/nämé']);
      expect(await zip.read('archive/data/0')).toEqual(big);
      expect((await zip.read('archive/empty')).length).toBe(0);
      expect(dataOffsets(bytes, zip).every((o) => o % 64 === 0)).toBe(true);
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      // ZIP64 end record + locator before the classic end record only when forced (or needed).
      expect(view.getUint32(bytes.length - 22 - 20, true) === 0x07064b50).toBe(forceZip64);
    } finally {
      await zip.close();
    }
  });

  it('refuses duplicate names', async () => {
    const w = await ZipWriter.create(join(dir, 'dup.zip'));
    await w.add('a', new Uint8Array(1));
    await expect(w.add('a', new Uint8Array(1))).rejects.toThrow(/duplicate/);
    await w.abort();
  });

  it('handles a 64 MiB entry without trouble', async () => {
    const path = join(dir, 'big.zip');
    const big = new Uint8Array(64 << 20);
    for (let i = 0; i < big.length; i += 4096) big[i] = i >>> 12;
    const w = await ZipWriter.create(path);
    await w.add('archive/data/0', big);
    await w.finish();
    const zip = await ZipReader.open(path);
    try {
      const back = await zip.read('archive/data/0');
      expect(back.length).toBe(big.length);
      expect(Buffer.compare(Buffer.from(back.buffer, back.byteOffset, back.length), Buffer.from(big.buffer))).toBe(0);
    } finally {
      await zip.close();
    }
    writeFileSync(path, '');
  });
});
