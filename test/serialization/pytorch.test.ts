import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { SerializationError } from '../../src/serialization/errors';
import { readStateDict, readStateDictFromBytes, toFloat32, writeStateDict, type StateDictEntry, type TensorData } from '../../src/serialization/pytorch';
import { ZipReader } from '../../src/serialization/zip';

const FIXTURES = join(__dirname, '..', 'fixtures', 'serialization');
const fixture = (name: string): string => join(FIXTURES, name);

interface Expected {
  name: string;
  dtype: string;
  shape: number[];
  hex: string;
}
const expectedOf = (name: string): Expected[] => JSON.parse(readFileSync(fixture(name), 'utf8')) as Expected[];

const hexOf = (data: TensorData): string => Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nrnm-pt-'));
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

function expectMatches(entries: StateDictEntry[], expected: Expected[]): void {
  expect(entries.map((e) => e.name)).toEqual(expected.map((e) => e.name));
  entries.forEach((e, i) => {
    const x = expected[i]!;
    expect({ name: e.name, dtype: e.dtype, shape: e.shape }).toEqual({ name: x.name, dtype: x.dtype, shape: x.shape });
    expect(hexOf(e.data)).toBe(x.hex);
  });
}

describe('readStateDict', () => {
  const expected = expectedOf('state_dict_mixed.expected.json');

  it.each(['state_dict_mixed.pt', 'state_dict_proto4.pt'])(
    'reads an OrderedDict state_dict written by torch.save, every dtype bit-exact (%s)',
    async (name) => {
      expectMatches(await readStateDict(fixture(name)), expected);
    },
  );

  it('returns the right typed arrays and values for views, 0-d, shared and strided tensors', async () => {
    const sd = new Map((await readStateDict(fixture('state_dict_mixed.pt'))).map((e) => [e.name, e]));
    const get = (n: string): StateDictEntry => sd.get(n)!;
    // 0-d parameter
    expect(get('forget_bias').shape).toEqual([]);
    expect([...get('forget_bias').data]).toEqual([1]);
    // view with storage_offset 5 into a 12-element storage
    expect([...get('offset_view').data]).toEqual([0.25, 0.5, 0.75, 1]);
    // transposed (non-contiguous) and expanded (stride 0) are made contiguous
    expect(get('transposed').shape).toEqual([3, 2]);
    expect([...get('transposed').data]).toEqual([0, 3, 1, 4, 2, 5]);
    expect([...get('expanded').data]).toEqual([1.5, 1.5, 1.5, -2, -2, -2]);
    // attention_mlp.0 and .1 are one Linear: one storage in the file, two independent arrays here
    const w0 = get('attention_mlp.0.weight');
    const w1 = get('attention_mlp.1.weight');
    expect(w0.storageKey).toBe(w1.storageKey);
    expect(w0.data).toEqual(w1.data);
    expect(w0.data).not.toBe(w1.data);
    (w0.data as Float32Array)[0] = 123;
    expect((w1.data as Float32Array)[0]).not.toBe(123);
    // typed arrays per dtype
    expect(get('i64').data).toBeInstanceOf(BigInt64Array);
    expect([...get('i64').data]).toEqual([0n, -1n, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n]);
    expect(get('mask').data).toBeInstanceOf(Uint8Array);
    expect([...get('mask').data]).toEqual([1, 0, 1]);
    expect(get('bf16').data).toBeInstanceOf(Uint16Array);
    expect([...toFloat32(get('bf16'))].slice(0, 2)).toEqual([1.5, -3]);
    expect([...toFloat32(get('f16'))]).toEqual([0.5, -1.25, 65504, expect.closeTo(1e-4, 6)]);
    expect(get('empty').shape).toEqual([0, 3]);
    expect(get('empty').data.length).toBe(0);
    expect(get('scalar_i64').data).toEqual(BigInt64Array.from([42n]));
  });

  it('reads a state_dict saved with keep_vars=True (Parameters)', async () => {
    expectMatches(await readStateDict(fixture('state_dict_parameters.pt')), expectedOf('state_dict_parameters.expected.json'));
  });

  it('reads the same from bytes in memory', async () => {
    const bytes = new Uint8Array(readFileSync(fixture('state_dict_mixed.pt')));
    expectMatches(await readStateDictFromBytes(bytes, 'mem.pt'), expected);
  });

  it('reads the state_dict inside a checkpoint dict when given its key, and says which keys there are otherwise', async () => {
    const err = await rejection(readStateDict(fixture('checkpoint_dict.pt')));
    expect(err.message).toContain("holds a dict of 'model', 'epoch', 'lr', not a state_dict");
    expect(err.message).toContain("{ key: 'model' }");
    const sd = await readStateDict(fixture('checkpoint_dict.pt'), { key: 'model' });
    expect(sd.map((e) => [e.name, e.shape])).toEqual([
      ['weight', [1, 2]],
      ['bias', [1]],
    ]);
  });
});

describe('readStateDict: files it cannot read', () => {
  it('explains the legacy (pre-1.6) format and how to convert it', async () => {
    const err = await rejection(readStateDict(fixture('legacy_format.pt')));
    expect(err.code).toBe('ERR_FORMAT');
    expect(err.message).toContain('legacy (pre-1.6, non-zip) torch.save format');
    expect(err.message).toContain('_use_new_zipfile_serialization=True');
  });

  it('explains a TorchScript archive', async () => {
    const err = await rejection(readStateDict(fixture('torchscript.pt')));
    expect(err.message).toContain('TorchScript archive');
    expect(err.message).toContain('.state_dict()');
  });

  it('explains a plain pickle, an empty file and a random file', async () => {
    expect((await rejection(readStateDict(fixture('ntu_train_label.pkl')))).message).toContain('plain Python pickle');
    const empty = join(dir, 'empty.pt');
    writeFileSync(empty, '');
    expect((await rejection(readStateDict(empty))).message).toBe(`${empty}: the file is empty. It was not written completely; save it again.`);
    const text = join(dir, 'text.pt');
    writeFileSync(text, 'hello world');
    expect((await rejection(readStateDict(text))).message).toContain('not a PyTorch file');
  });

  it('rejects a pickle that would run os.system, without running it', async () => {
    const err = await rejection(readStateDict(fixture('evil_state_dict.pt')));
    expect(err.refusedGlobal).toBe('posix.system');
    expect(err.message).toContain('evil_state_dict.pt:evil/data.pkl');
    expect(err.message).toContain('nothing was executed');
  });

  it('gives a clear error for every truncation and never crashes', async () => {
    const bytes = readFileSync(fixture('state_dict_mixed.pt'));
    const path = join(dir, 'cut.pt');
    for (let keep = 1; keep < bytes.length; keep += 97) {
      writeFileSync(path, bytes.subarray(0, keep));
      const err = await rejection(readStateDict(path));
      expect(err.code).toBe('ERR_FORMAT');
      expect(err.message.startsWith(`${path}`)).toBe(true);
    }
  });

  it('detects a corrupted storage by its CRC, naming the file, record and offset', async () => {
    const bytes = new Uint8Array(readFileSync(fixture('state_dict_mixed.pt')));
    const zip = await ZipReader.fromBytes(bytes, 'x');
    const record = zip.entry('state_dict_mixed/data/4')!;
    const view = new DataView(bytes.buffer);
    const dataAt = record.localHeaderOffset + 30 + view.getUint16(record.localHeaderOffset + 26, true) + view.getUint16(record.localHeaderOffset + 28, true);
    bytes[dataAt + 1] ^= 0x10;
    const path = join(dir, 'flipped.pt');
    writeFileSync(path, bytes);
    const err = await rejection(readStateDict(path));
    expect(err.message).toContain(`${path}: CRC-32 mismatch in 'state_dict_mixed/data/4'`);
    expect(err.offset).toBe(dataAt);
  });

  it('never throws anything but SerializationError on randomly corrupted files', async () => {
    const original = new Uint8Array(readFileSync(fixture('state_dict_proto4.pt')));
    let seed = 7;
    const next = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let i = 0; i < 300; i++) {
      const bytes = original.slice();
      for (let f = 0; f < 3; f++) bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
      try {
        await readStateDictFromBytes(bytes, 'fuzz.pt');
      } catch (err) {
        if (!(err instanceof SerializationError)) throw err;
      }
    }
  });
});

describe('writeStateDict', () => {
  it('round-trips a torch-written state_dict bit for bit', async () => {
    const original = await readStateDict(fixture('state_dict_mixed.pt'));
    const path = join(dir, 'roundtrip.pt');
    await writeStateDict(path, original);
    expectMatches(await readStateDict(path), expectedOf('state_dict_mixed.expected.json'));
  });

  it('writes the torch zip layout: archive/data.pkl, byteorder, data/<n>, version "3", 64-byte aligned', async () => {
    const shared = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const entries: StateDictEntry[] = [
      { name: 'MC.attention_mlp.0.weight', dtype: 'float32', shape: [2, 3], data: shared },
      { name: 'MC.attention_mlp.1.weight', dtype: 'float32', shape: [2, 3], data: shared },
      { name: 'MC.forget_bias', dtype: 'float32', shape: [], data: Float32Array.from([0.5]) },
      { name: 'steps', dtype: 'int64', shape: [1], data: BigInt64Array.from([7n]) },
    ];
    const path = join(dir, 'layout.pt');
    await writeStateDict(path, entries);
    const zip = await ZipReader.open(path);
    const bytes = readFileSync(path);
    try {
      expect(zip.entries.map((e) => e.name)).toEqual([
        'archive/data.pkl',
        'archive/byteorder',
        'archive/data/0',
        'archive/data/1',
        'archive/data/2',
        'archive/version',
      ]);
      expect(new TextDecoder().decode(await zip.read('archive/version'))).toBe('3\n');
      expect(new TextDecoder().decode(await zip.read('archive/byteorder'))).toBe('little');
      for (const e of zip.entries) {
        const dataAt = e.localHeaderOffset + 30 + bytes.readUInt16LE(e.localHeaderOffset + 26) + bytes.readUInt16LE(e.localHeaderOffset + 28);
        expect(dataAt % 64).toBe(0);
      }
    } finally {
      await zip.close();
    }
    const back = await readStateDict(path);
    expect(back.map((e) => [e.name, e.dtype, e.shape, [...e.data]])).toEqual(entries.map((e) => [e.name, e.dtype, e.shape, [...e.data]]));
    expect(back[0]!.storageKey).toBe(back[1]!.storageKey); // the shared array became one storage
  });

  it('writes ZIP64 records when asked and still reads back', async () => {
    const path = join(dir, 'zip64.pt');
    const entries: StateDictEntry[] = [{ name: 'w', dtype: 'float64', shape: [3], data: Float64Array.from([1, 2, 3]) }];
    await writeStateDict(path, entries, { forceZip64: true });
    expect([...(await readStateDict(path))[0]!.data]).toEqual([1, 2, 3]);
  });

  it('replaces an existing file atomically and leaves no temporary file', async () => {
    const sub = join(dir, 'atomic');
    mkdirSync(sub);
    const path = join(sub, 'model.pt');
    writeFileSync(path, 'old');
    await writeStateDict(path, [{ name: 'b', dtype: 'uint8', shape: [2], data: Uint8Array.from([1, 2]) }]);
    expect(readdirSync(sub)).toEqual(['model.pt']);
    expect([...(await readStateDict(path))[0]!.data]).toEqual([1, 2]);
    const missing = await rejection(writeStateDict(join(dir, 'missing-dir', 'x.pt'), []));
    expect(missing.code).toBe('ERR_NOT_FOUND');
    expect(missing.message).toContain('missing-dir does not exist');
    expect((await rejection(readStateDict(join(dir, 'nope.pt')))).code).toBe('ERR_NOT_FOUND');
    expect(existsSync(join(dir, 'missing-dir'))).toBe(false);
  });

  it('checks entries before writing anything, naming the entry', async () => {
    const path = join(dir, 'never.pt');
    const bad: Array<[unknown, RegExp]> = [
      [
        [{ name: 'w', dtype: 'float32', shape: [2], data: Float32Array.from([1]) }],
        /entries\[0\] \('w'\)\.data to be a Float32Array of 2 elements .* but received a Float32Array of 1 elements/,
      ],
      [[{ name: 'w', dtype: 'float32', shape: [1], data: Float64Array.from([1]) }], /to be a Float32Array of 1 elements/],
      [[{ name: 'w', dtype: 'complex64', shape: [1], data: Float32Array.from([1]) }], /dtype to be one of float32/],
      [[{ name: 'w', dtype: 'int64', shape: [-1], data: new BigInt64Array(0) }], /shape to be an array of non-negative integers/],
      [
        [
          { name: 'w', dtype: 'uint8', shape: [1], data: new Uint8Array(1) },
          { name: 'w', dtype: 'uint8', shape: [1], data: new Uint8Array(1) },
        ],
        /Duplicate state_dict name 'w'/,
      ],
    ];
    for (const [entries, message] of bad) {
      const err = await rejection(writeStateDict(path, entries as StateDictEntry[]));
      expect(err.code).toBe('ERR_ARG');
      expect(err.message).toMatch(message);
    }
    expect(existsSync(path)).toBe(false);
  });

  it('writes and reads a 48 MiB tensor', async () => {
    const data = new Float32Array(12 << 20);
    for (let i = 0; i < data.length; i += 1000) data[i] = i;
    const path = join(dir, 'big.pt');
    await writeStateDict(path, [{ name: 'big', dtype: 'float32', shape: [12, 1 << 20], data }]);
    const [back] = await readStateDict(path);
    expect(back!.data.length).toBe(data.length);
    expect(Buffer.compare(Buffer.from(back!.data.buffer, back!.data.byteOffset, back!.data.byteLength), Buffer.from(data.buffer))).toBe(0);
    rmSync(path);
  });
});
