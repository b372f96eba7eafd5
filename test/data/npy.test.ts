import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NpyFile, NpyWriter, datasets, encodeNpy, parseNpy, readNpy, writeNpy } from '../../src/data';

const FIX = path.join(__dirname, '..', 'fixtures', 'data');
const fix = (name: string): string => path.join(FIX, name);
let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-npy-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The values numpy wrote into x_f4*.npy: arange(24) / 8 - 1, shape (2, 3, 4). */
const X = Array.from({ length: 24 }, (_, i) => i / 8 - 1);

describe('reading files numpy wrote', () => {
  test.each(['x_f4.npy', 'x_f4_v2.npy'])('%s (float32, header version 1.0 / 2.0)', (name) => {
    const a = readNpy(fix(name));
    expect(a.dtype).toBe('float32');
    expect(a.shape).toEqual([2, 3, 4]);
    expect(Array.from(a.data as Float32Array)).toEqual(X);
  });

  test('float64, int32, int64, uint8', () => {
    const f8 = readNpy(fix('x_f8.npy'));
    expect([f8.dtype, f8.shape]).toEqual(['float64', [2, 12]]);
    expect(Array.from(f8.data as Float64Array)).toEqual(X.map((v) => v * 3));
    expect(Array.from(readNpy(fix('y_i4.npy')).data as Int32Array)).toEqual([1, 0]);
    const i8 = readNpy(fix('y_i8.npy'));
    expect(i8.dtype).toBe('int64');
    expect(Array.from(i8.data as BigInt64Array)).toEqual([2n, 1n]);
    expect(Array.from(readNpy(fix('y_u1.npy')).data as Uint8Array)).toEqual([0, 3]);
    expect(Array.from(readNpy(fix('x_i8_matrix.npy')).data as BigInt64Array)).toEqual([-2n, -1n, 0n, 1n, 2n, 3n]);
  });

  test('lazy row reads through a file handle, with conversion to float32', async () => {
    const f = NpyFile.open(fix('x_f8.npy'));
    expect([f.rows, f.rowLength]).toEqual([2, 12]);
    const out = new Float32Array(14);
    f.readFloat32Sync(1, 1, out, 2);
    expect(Array.from(out.subarray(2))).toEqual(X.slice(12).map((v) => v * 3));
    const again = new Float32Array(12);
    await f.readFloat32(1, 1, again);
    expect(again).toEqual(out.subarray(2));
    expect(() => f.readFloat32Sync(1, 2, new Float32Array(24))).toThrow('Expected rows to be a range within [0, 2)');
    f.close();
    expect(() => f.readRowsSync(0, 1)).toThrow(expect.objectContaining({ code: 'ERR_DISPOSED' }));
  });
});

describe('writing', () => {
  test('round trip of every dtype, header padded to a multiple of 64 bytes', () => {
    const arrays = [Float32Array.of(1.5, -2, 3), Float64Array.of(Math.PI, -0), Int32Array.of(-7, 7), BigInt64Array.of(-(2n ** 40n), 5n), Uint8Array.of(0, 255)];
    for (const a of arrays) {
      const bytes = encodeNpy(a, [a.length]);
      const end = bytes.readUInt16LE(8) + 10;
      expect(end % 64).toBe(0);
      expect(bytes.subarray(10, end).toString('latin1')).toMatch(/^\{'descr': '[<|][fiu]\d', 'fortran_order': False, 'shape': \(\d,\), \} +\n$/);
      expect(parseNpy(bytes).data).toEqual(a);
    }
  });

  test('writeNpy is atomic and NpyWriter writes rows in any order', () => {
    const file = path.join(tmp, 'rows.npy');
    const w = NpyWriter.create(file, 'float32', [3, 2]);
    w.writeSync(2, Float32Array.of(5, 6));
    w.writeSync(0, Float32Array.of(1, 2));
    expect(fs.existsSync(file)).toBe(false);
    w.close();
    expect(Array.from(readNpy(file).data as Float32Array)).toEqual([1, 2, 0, 0, 5, 6]);
    writeNpy(path.join(tmp, 'm.npy'), Int32Array.of(1, 2, 3, 4, 5, 6), [2, 3]);
    expect(readNpy(path.join(tmp, 'm.npy')).shape).toEqual([2, 3]);
    expect(fs.readdirSync(tmp).filter((n) => n.includes('partial'))).toEqual([]);
    expect(() => writeNpy(path.join(tmp, 'bad.npy'), Float32Array.of(1, 2, 3), [2, 2])).toThrow('shape (2, 2) has 4 elements but data has 3');
  });
});

describe('malformed files name the file and the byte offset', () => {
  const write = (name: string, bytes: Uint8Array): string => {
    const p = path.join(tmp, name);
    fs.writeFileSync(p, bytes);
    return p;
  };
  const good = fs.readFileSync(fix('x_f4.npy'));

  test('truncated data', () => {
    const p = write('trunc.npy', good.subarray(0, good.length - 5));
    expect(() => readNpy(p)).toThrow(
      `${p}: truncated: shape (2, 3, 4) of float32 needs 96 data bytes from byte 128, so 224 bytes in all, but the file ends at byte 219.`,
    );
  });

  test('extra bytes', () => {
    const p = write('long.npy', Buffer.concat([good, Buffer.alloc(3)]));
    expect(() => NpyFile.open(p)).toThrow(`${p}: wrongly sized: 3 bytes after the end of the data of shape (2, 3, 4) float32 at byte 224.`);
  });

  test('not a .npy, truncated header, bad header', () => {
    const a = write('magic.npy', Buffer.from('PK\x03\x04 not numpy at all'));
    expect(() => readNpy(a)).toThrow(`${a}: not a .npy file: the magic string \\x93NUMPY is missing at byte 0.`);
    const b = write('head.npy', good.subarray(0, 40));
    expect(() => readNpy(b)).toThrow(`${b}: truncated header: 118 header bytes announced from byte 10, the input ends at byte 40.`);
    const c = Buffer.from(good);
    c.write("'shape': [2, 3, 4", c.indexOf("'shape'"), 'latin1');
    const cp = write('syntax.npy', c);
    expect(() => readNpy(cp)).toThrow(/malformed header: expected ',' or '\]' at byte \d+\./);
    const v = Buffer.from(good);
    v[6] = 9;
    expect(() => readNpy(write('version.npy', v))).toThrow('unsupported .npy format version 9.0 (1.0, 2.0 and 3.0 are read) at byte 6.');
  });

  test('big-endian and Fortran order are refused with the fix', () => {
    expect(() => readNpy(fix('x_big_endian.npy'))).toThrow("is big-endian ('>f4'); save it little-endian with arr.astype('<f4')");
    expect(() => readNpy(fix('x_fortran.npy'))).toThrow('is in Fortran order; only C order is read (save it with np.ascontiguousarray)');
  });
});

describe('datasets.npy.load', () => {
  test('3-D data with .npy labels, read lazily in batches', async () => {
    const ds = datasets.npy.load(fix('x_f4.npy'), fix('y_i8.npy'));
    expect([ds.length, ds.steps, ds.features, ds.classes]).toEqual([2, 3, 4, 3]);
    const b = await ds.read([1, 0]);
    expect(Array.from(b.y)).toEqual([1, 2]);
    expect(Array.from(b.x)).toEqual([...X.slice(12), ...X.slice(0, 12)]);
    expect(Array.from(ds.get(1).x)).toEqual(X.slice(12));
    await ds.close();
  });

  test('2-D float64 data reshaped by steps, labels from a label pickle, preload', async () => {
    const ds = datasets.npy.load(fix('x_f8.npy'), fix('labels_p2.pkl'), { steps: 4, preload: true });
    expect([ds.steps, ds.features]).toEqual([4, 3]);
    expect(ds.names).toEqual(['S001C001P001R001A003.skeleton', 'S001C002P002R001A001.skeleton']);
    const [batch] = await (async () => {
      const all = [];
      for await (const x of ds.batches(2)) all.push(x);
      return all;
    })();
    expect(batch!.x[0]).toBe(-3);
  });

  test('mismatches are explained', () => {
    expect(() => datasets.npy.load(fix('x_f4.npy'), fix('x_f4.npy'))).toThrow('x_f4.npy: expected labels of shape (N) but found shape (2, 3, 4)');
    writeNpy(path.join(tmp, 'yf.npy'), Float32Array.of(1, 0));
    expect(() => datasets.npy.load(fix('x_f4.npy'), path.join(tmp, 'yf.npy'))).toThrow('yf.npy: labels must be integers but the array is float32');
    expect(() => datasets.npy.load(fix('x_f8.npy'), fix('y_i4.npy'))).toThrow('pass steps or features to read (N, T*F) data');
    expect(() => datasets.npy.load(fix('x_f4.npy'), fix('y_i4.npy'), { classes: 1 })).toThrow('is 1 but classes is 1');
    expect(() => datasets.npy.load(fix('x_f4.npy'), fix('missing.npy'))).toThrow(expect.objectContaining({ code: 'ERR_NOT_FOUND' }));
    expect(() => datasets.npy.load(fix('x_f4.npy'), fix('labels_dict.pkl'))).toThrow('expected a pickled (names, labels) pair of lists');
  });
});
