import { NRNMError } from '../../src/errors';
import { type Batch, InMemoryDataset, datasets, permutation } from '../../src/data';

/** N sequences of T x F where every value of sequence i is i + step / 100. */
function synthetic(n: number, steps = 3, features = 2): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(n * steps * features);
  for (let i = 0; i < n; i++) for (let t = 0; t < steps; t++) for (let f = 0; f < features; f++) x[(i * steps + t) * features + f] = i + t / 100;
  const y = Int32Array.from({ length: n }, (_, i) => i % 4);
  return { x, y };
}

async function collect(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe('InMemoryDataset', () => {
  const { x, y } = synthetic(10);
  const ds = datasets.inMemory(x, y, { steps: 3 });

  test('shape, classes and get()', () => {
    expect([ds.length, ds.steps, ds.features, ds.classes]).toEqual([10, 3, 2, 4]);
    const s = ds.get(7);
    expect(s.shape).toEqual([3, 2]);
    expect(s.y).toBe(3);
    expect(Array.from(s.x)).toEqual([7, 7, 7.01, 7.01, 7.02, 7.02].map(Math.fround));
  });

  test('read() and readRange() copy the rows in order', async () => {
    const b = await ds.read([4, 1]);
    expect(b.shape).toEqual([2, 3, 2]);
    expect(Array.from(b.y)).toEqual([0, 1]);
    expect(b.x[0]).toBe(4);
    expect(b.x[6]).toBe(1);
    const r = await ds.readRange(8, 2);
    expect(Array.from(r.indices)).toEqual([8, 9]);
  });

  test('sequential batches cover everything; dropLast drops the short one', async () => {
    const all = await collect(ds.batches(4));
    expect(all.map((b) => b.shape[0])).toEqual([4, 4, 2]);
    expect(all.flatMap((b) => Array.from(b.indices))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(all[2]!.x.length).toBe(2 * 3 * 2);
    const dropped = await collect(ds.batches(4, { dropLast: true }));
    expect(dropped.map((b) => b.shape[0])).toEqual([4, 4]);
    expect(ds.batchCount(4)).toBe(3);
    expect(ds.batchCount(4, { dropLast: true })).toBe(2);
  });

  test('batch x and y agree with get()', async () => {
    for (const b of await collect(ds.batches(3, { shuffle: true, seed: 3 }))) {
      b.indices.forEach((i, k) => {
        expect(b.y[k]).toBe(y[i]);
        expect(Array.from(b.x.subarray(k * 6, (k + 1) * 6))).toEqual(Array.from(ds.get(i).x));
      });
    }
  });

  test('shuffling is deterministic: same seed and epoch, same order; other epochs differ', async () => {
    const order = async (seed: number, epoch: number): Promise<number[]> =>
      (await collect(ds.batches(4, { shuffle: true, seed, epoch }))).flatMap((b) => Array.from(b.indices));
    const a = await order(42, 0);
    expect(await order(42, 0)).toEqual(a);
    expect([...a].sort((p, q) => p - q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await order(42, 1)).not.toEqual(a);
    expect(await order(43, 0)).not.toEqual(a);
  });

  test('the permutation is pinned (same order on every machine and version)', () => {
    expect(Array.from(permutation(10, 0, 0))).toEqual([9, 0, 8, 5, 1, 3, 4, 2, 7, 6]);
    expect(Array.from(permutation(10, 0, 1))).toEqual([7, 6, 8, 4, 1, 2, 0, 5, 9, 3]);
    expect(Array.from(permutation(12, 1234, 5))).toEqual([6, 11, 4, 1, 9, 0, 5, 7, 8, 3, 2, 10]);
    const big = permutation(60000, 7, 3);
    const seen = new Uint8Array(60000);
    for (const i of big) seen[i] = 1;
    expect(seen.every((v) => v === 1)).toBe(true);
  });

  test('prefetch: the next batch is read while the current one is in use', async () => {
    const reads: number[] = [];
    class Probe extends InMemoryDataset {
      protected override async readRows(indices: Int32Array, out: Float32Array): Promise<void> {
        reads.push(indices[0]!);
        await super.readRows(indices, out);
      }
    }
    const p = new Probe(x, y, { steps: 3 });
    const it = p.batches(2, { prefetch: 1 });
    const first = await it.next();
    expect(first.value.indices[0]).toBe(0);
    expect(reads).toEqual([0, 2]); // batch 2 already requested while batch 1 is handed out
    await it.return!(undefined);
    const none = p.batches(2, { prefetch: 0 });
    reads.length = 0;
    await none.next();
    expect(reads).toEqual([0]);
  });

  test('breaking out early leaves no unhandled rejection', async () => {
    let calls = 0;
    class Failing extends InMemoryDataset {
      protected override async readRows(indices: Int32Array, out: Float32Array): Promise<void> {
        if (calls++ > 0) throw new Error('disk on fire');
        await super.readRows(indices, out);
      }
    }
    const f = new Failing(x, y, { steps: 3 });
    for await (const b of f.batches(2, { prefetch: 2 })) {
      expect(b.shape[0]).toBe(2);
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
    await expect(collect(new Failing(x, y, { steps: 3 }).batches(2))).rejects.toThrow('disk on fire');
  });

  test('uint8 data scaled on read', () => {
    const u = datasets.inMemory(Uint8Array.of(0, 1, 128, 255), [0, 1], { features: 2, scale: 1 / 255 });
    expect(Array.from(u.get(1).x)).toEqual([Math.fround(128 / 255), 1]);
  });

  test('options are checked with clear messages', () => {
    expect(() => ds.batches(0)).toThrow('Expected batchSize to be a positive integer but received 0');
    expect(() => ds.batches(2, { drop_last: true } as never)).toThrow("Unknown option 'drop_last' for batches(); did you mean 'dropLast'?");
    expect(() => ds.batches(2, { seed: -1 })).toThrow('Expected seed to be a non-negative integer but received -1');
    expect(() => ds.get(10)).toThrow('Expected index to be an integer in [0, 10)');
    expect(() => datasets.inMemory(x, y, {} as never)).toThrow(NRNMError);
    expect(() => datasets.inMemory(new Float32Array(5), [0, 1], { steps: 1 })).toThrow('x has 5 values, not a multiple of the 2 labels in y');
    expect(() => datasets.inMemory(new Float32Array(4), [0, 2], { steps: 2, classes: 2 })).toThrow('y[1] is 2 but classes is 2');
    expect(() => datasets.inMemory(new Float32Array(4), [0, -1], { steps: 2 })).toThrow('labels must be non-negative integers');
  });

  test('closed datasets refuse reads with ERR_DISPOSED', async () => {
    const c = datasets.inMemory(x, y, { steps: 3 });
    await c.close();
    await c.close();
    expect(() => c.get(0)).toThrow(expect.objectContaining({ code: 'ERR_DISPOSED' }));
  });
});
