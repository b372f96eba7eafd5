import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { datasets, parseIdx, readIdx } from '../../src/data';

const FIX = path.join(__dirname, '..', '..', 'datasets', 'fashion-mnist', 'sample');
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-idx-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('IDX', () => {
  test('gzipped and raw files', () => {
    const images = readIdx(path.join(FIX, 't10k-images-idx3-ubyte.gz'));
    expect(images.shape).toEqual([5, 28, 28]);
    expect(Array.from(readIdx(path.join(FIX, 't10k-labels-idx1-ubyte.gz')).data)).toEqual([9, 0, 0, 3, 7]);
    const train = readIdx(path.join(FIX, 'train-images-idx3-ubyte'));
    expect(Array.from(train.data.subarray(0, 4))).toEqual([0, 1, 128, 255]);
  });

  test('malformed files give the file and the byte offset', () => {
    const raw = fs.readFileSync(path.join(FIX, 'train-images-idx3-ubyte'));
    expect(() => parseIdx(raw.subarray(0, 100), 'f')).toThrow(
      'f: truncated: shape (3, 28, 28) needs 2352 data bytes from byte 16, 2368 bytes in all, but the data ends at byte 100.',
    );
    expect(() => parseIdx(raw.subarray(0, 10), 'f')).toThrow('f: truncated inside the 3 dimension sizes at byte 10.');
    expect(() => parseIdx(Buffer.concat([raw, Buffer.of(1)]), 'f')).toThrow(
      'f: wrongly sized: 1 bytes after the end of the data of shape (3, 28, 28) at byte 2368.',
    );
    const float = Buffer.from(raw);
    float[2] = 0x0d;
    expect(() => parseIdx(float, 'f')).toThrow('f: unsupported IDX element type 0x0d (0x08 unsigned byte and 0x09 signed byte are read) at byte 2.');
    expect(() => parseIdx(Buffer.from('PK\x03\x04'), 'f')).toThrow('f: not an IDX file: the magic number must start with two zero bytes at byte 0.');
    const gz = path.join(tmp, 'cut.gz');
    fs.writeFileSync(gz, zlib.gzipSync(raw).subarray(0, 50));
    expect(() => readIdx(gz)).toThrow(`${gz}: corrupt gzip data (unexpected end of file)`);
    const shortGz = path.join(tmp, 'short.gz');
    fs.writeFileSync(shortGz, zlib.gzipSync(raw.subarray(0, 300)));
    expect(() => readIdx(shortGz)).toThrow(`${shortGz} (after gunzip): truncated`);
  });
});

describe('Fashion-MNIST', () => {
  test('a directory of .gz or raw files; 28 steps x 28 features in [0, 1]', async () => {
    const test = datasets.fashionMnist.load({ dir: FIX, part: 'test' });
    expect([test.length, test.steps, test.features, test.classes, test.name]).toEqual([5, 28, 28, 10, 'fashion-mnist/test']);
    expect(Array.from(test.labels)).toEqual([9, 0, 0, 3, 7]);
    const train = datasets.fashionMnist.load({ dir: FIX });
    const x = train.get(0).x;
    expect(Array.from(x.subarray(0, 4))).toEqual([0, Math.fround(1 / 255), Math.fround(128 / 255), 1]);
    const raw = readIdx(path.join(FIX, 'train-images-idx3-ubyte')).data;
    const b = await train.read([2]);
    for (let i = 0; i < 784; i++) expect(b.x[i]).toBe(Math.fround(raw[2 * 784 + i]! / 255));
  });

  test('missing files: the error says where it looked and how to get them', () => {
    let message = '';
    try {
      datasets.fashionMnist.load({ dir: tmp, part: 'train' });
    } catch (e) {
      message = (e as Error).message;
      expect((e as { code: string }).code).toBe('ERR_NOT_FOUND');
    }
    expect(message).toContain(`looked for train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] in ${tmp}`);
    expect(message).toContain('apt-get install dataset-fashion-mnist');
    expect(message).toContain('pass their directory');
    expect(() => datasets.fashionMnist.load({ part: 'validation' as never })).toThrow("Expected part to be one of 'train', 'test' but received 'validation'");
  });

  const debian = '/usr/share/datasets/fashion-mnist';
  const installed = fs.existsSync(path.join(debian, 'train-images-idx3-ubyte.gz'));
  (installed ? test : test.skip)('the Debian package: 60k train / 10k test (skipped when not installed)', () => {
    const t0 = Date.now();
    const train = datasets.fashionMnist.load({ part: 'train' });
    const ms = Date.now() - t0;
    const test = datasets.fashionMnist.load({ part: 'test' });
    expect([train.length, test.length, train.steps, train.features]).toEqual([60000, 10000, 28, 28]);
    const counts = new Array(10).fill(0);
    for (const y of train.labels) counts[y]++;
    expect(counts).toEqual(new Array(10).fill(6000));
    console.log(`Fashion-MNIST train loaded in ${ms} ms`);
  });
});
