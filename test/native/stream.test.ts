import { NRNMClassifier, NRNMError, type NRNMClassifierOptions } from '../../src';

// `using` needs Symbol.dispose, which Node defines (as Symbol.for('nodejs.dispose')) in its own realm only, not in jest's.
const symbols = Symbol as unknown as { dispose?: symbol; asyncDispose?: symbol };
symbols.dispose ??= Symbol.for('nodejs.dispose');
symbols.asyncDispose ??= Symbol.for('nodejs.asyncDispose');

const B = 2;
const T = 27; // memory updates at steps 10 and 20 (k = 10), or every 6 steps (k = 6)
const F = 3;
const C = 3;

function sequence(batch = B, steps = T): Float32Array {
  return Float32Array.from({ length: batch * steps * F }, (_, i) => Math.sin(i * 0.37) + 0.1 * Math.cos(i * 1.3));
}

// Steps [t0, t0 + S) of rows [b0, b0 + rows) of x [batch, steps, F].
function chunkOf(x: Float32Array, t0: number, S: number, steps = T, b0 = 0, rows = B): { data: Float32Array; shape: number[] } {
  const data = new Float32Array(rows * S * F);
  for (let b = 0; b < rows; b++) data.set(x.subarray(((b0 + b) * steps + t0) * F, ((b0 + b) * steps + t0 + S) * F), b * S * F);
  return { data, shape: [rows, S, F] };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

type Variant = Required<Pick<NRNMClassifierOptions, 'backbone' | 'attention' | 'task' | 'inputAggregation'>>;
const variants: Variant[] = (['lstm', 'gru', 'rnn'] as const).flatMap((backbone) =>
  (['self', 'linear'] as const).flatMap((attention) =>
    (['classify-sequence', 'classify-steps', 'regress-steps'] as const).map((task): Variant => ({ backbone, attention, task, inputAggregation: 'dilated' })),
  ),
);
variants.push({ backbone: 'lstm', attention: 'self', task: 'classify-steps', inputAggregation: 'strided' });

function small(options: Partial<NRNMClassifierOptions>): NRNMClassifier {
  const strided = options.inputAggregation === 'strided' ? { blockLength: 6, stride: 3 } : {};
  return new NRNMClassifier({ inputSize: F, classes: C, hiddenSize: 8, heads: 2, layers: 2, device: 'cpu', seed: 3, ...strided, ...options }).eval();
}

const figures: string[] = [];
afterAll(() => {
  if (figures.length > 0) console.log(`max |stream - predict| (float32, eval):\n${figures.join('\n')}`);
});

describe('model.stream()', () => {
  it.each(variants)(
    '$backbone / $attention / $task / $inputAggregation: chunks of 1, 3 and blockLength give predict() on the whole sequence within 1e-6',
    async (variant) => {
      const model = small(variant);
      const x = sequence();
      const whole = (await model.predict({ data: x, shape: [B, T, F] })).toArray() as Float32Array;
      const errors: string[] = [];
      for (const size of [1, 3, model.options.blockLength]) {
        const stream = model.stream({ batch: B });
        const perStep = new Float32Array(B * T * C); // [B, T, C]
        for (let t0 = 0; t0 < T; t0 += size) {
          const S = Math.min(size, T - t0);
          const out = await stream.push(chunkOf(x, t0, S));
          expect(out.shape).toEqual([B, S, C]);
          const values = out.toArray() as Float32Array;
          for (let b = 0; b < B; b++) perStep.set(values.subarray(b * S * C, (b + 1) * S * C), (b * T + t0) * C);
        }
        expect(stream.step).toBe(T);
        expect(stream.steps).toEqual([T, T]);
        // classify-sequence: predict() gives the logits at the last step.
        const compared =
          variant.task === 'classify-sequence'
            ? Float32Array.from({ length: B * C }, (_, i) => perStep[(Math.floor(i / C) * T + T - 1) * C + (i % C)]!)
            : perStep;
        const error = maxDiff(compared, whole);
        errors.push(`chunk ${size}: ${error.toExponential(2)}`);
        expect(error).toBeLessThan(1e-6);
        stream.dispose();
      }
      figures.push(`  ${variant.backbone}/${variant.attention}/${variant.task}/${variant.inputAggregation}: ${errors.join(', ')}`);
      model.dispose();
    },
  );

  it('classify-sequence: the logits at each step are predict() on the sequence ending there', async () => {
    const model = small({ task: 'classify-sequence' });
    const x = sequence();
    const stream = model.stream();
    const perStep = (await stream.push({ data: x, shape: [B, T, F] })).toArray() as Float32Array; // [B, T, C]
    for (const t of [0, 9, 10, 11, 21]) {
      const prefix = (await model.predict(chunkOf(x, 0, t + 1))).toArray();
      const atT = Float32Array.from({ length: B * C }, (_, i) => perStep[(Math.floor(i / C) * T + t) * C + (i % C)]!);
      expect(maxDiff(atT, prefix)).toBeLessThan(1e-6);
    }
    stream.dispose();
    model.dispose();
  });

  it('reset(rows) starts those rows over while the others go on', async () => {
    const model = small({ task: 'classify-steps' });
    const before = 13;
    const after = 24;
    const steps = before + after;
    const x = sequence(3, steps);
    const stream = model.stream({ batch: 3 });
    await stream.push(chunkOf(x, 0, before, steps, 0, 3));
    await stream.reset([1]);
    expect(stream.steps).toEqual([before, 0, before]);
    const out = (await stream.push(chunkOf(x, before, after, steps, 0, 3))).toArray() as Float32Array; // [3, after, C]
    const whole = (await model.predict({ data: x, shape: [3, steps, F] })).toArray() as Float32Array;
    const fresh = (await model.predict(chunkOf(x, before, after, steps, 1, 1))).toArray() as Float32Array;
    for (const b of [0, 2]) {
      expect(maxDiff(out.subarray(b * after * C, (b + 1) * after * C), whole.subarray((b * steps + before) * C, (b + 1) * steps * C))).toBeLessThan(1e-6);
    }
    expect(maxDiff(out.subarray(after * C, 2 * after * C), fresh)).toBeLessThan(1e-6);
    await expect(stream.reset([3])).rejects.toMatchObject({ code: 'ERR_ARG' });
    await expect(stream.reset([0.5])).rejects.toMatchObject({ code: 'ERR_ARG' });
    stream.dispose();
    model.dispose();
  });

  it('a failed push leaves the stream where it was; misuse is a clear NRNMError', async () => {
    const model = new NRNMClassifier({ inputSize: F, classes: 2, hiddenSize: 8, heads: 2, layers: 1, task: 'classify-steps', device: 'cpu', seed: 1 });
    const stream = model.stream();
    const x = sequence();
    await expect(stream.push(chunkOf(x, 0, 4))).rejects.toThrow(/training mode.*model\.eval\(\)/);
    expect(stream.batch).toBeUndefined();
    model.eval();
    const first = (await stream.push(chunkOf(x, 0, 4))).toArray();
    expect(stream.step).toBe(4);
    expect(stream.batch).toBe(B);
    await expect(stream.push({ data: new Float32Array(F * 4), shape: [1, 4, F] })).rejects.toMatchObject({ code: 'ERR_SHAPE' });
    await expect(stream.push({ data: new Float32Array(B * 4 * 5), shape: [B, 4, 5] })).rejects.toThrow(NRNMError);
    expect(stream.step).toBe(4);
    await stream.reset();
    expect(stream.step).toBe(0);
    expect(Array.from((await stream.push(chunkOf(x, 0, 4))).toArray())).toEqual(Array.from(first));
    // After a full reset, another batch size.
    await stream.reset();
    expect((await stream.push({ data: new Float32Array(F), shape: [1, 1, F] })).shape).toEqual([1, 1, 2]);
    stream.dispose();
    await expect(stream.push(chunkOf(x, 0, 1))).rejects.toMatchObject({ code: 'ERR_DISPOSED' });
    // A fixed batch stays fixed across reset().
    const fixed = model.stream({ batch: 2 });
    await expect(fixed.push({ data: new Float32Array(F), shape: [1, 1, F] })).rejects.toMatchObject({ code: 'ERR_SHAPE' });
    expect(() => model.stream({ batch: 0 })).toThrow(/options\.batch/);
    {
      using scoped = model.stream();
      await scoped.push(chunkOf(x, 0, 1));
      fixed[Symbol.dispose]();
      expect(fixed.disposed).toBe(true);
    }
    const other = model.stream();
    await other[Symbol.asyncDispose]();
    expect(other.disposed).toBe(true);
    const orphan = model.stream();
    model.dispose();
    await expect(orphan.push(chunkOf(x, 0, 1))).rejects.toMatchObject({ code: 'ERR_DISPOSED' });
    orphan.dispose();
  });

  it('runs in a worker thread', async () => {
    const { Worker } = await import('node:worker_threads');
    const source = `
      require(${JSON.stringify(require.resolve('../helpers/ts-register.js'))});
      const { parentPort } = require('node:worker_threads');
      const { NRNMClassifier } = require(${JSON.stringify(require.resolve('../../src'))});
      (async () => {
        const model = new NRNMClassifier({ inputSize: 2, classes: 2, hiddenSize: 8, layers: 1, device: 'cpu' }).eval();
        const stream = model.stream();
        const x = { data: Float32Array.from({ length: 24 }, (_, i) => Math.sin(i)), shape: [1, 12, 2] };
        const whole = (await model.predict(x)).toArray();
        let last;
        for (let t = 0; t < 12; t++) last = (await stream.push({ data: x.data.slice(2 * t, 2 * t + 2), shape: [1, 1, 2] })).toArray();
        parentPort.postMessage(Math.max(...Array.from(whole, (v, i) => Math.abs(v - last[i]))));
      })().catch((e) => parentPort.postMessage(String(e)));
    `;
    const worker = new Worker(source, { eval: true });
    const result = await new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(result).toBeLessThan(1e-6);
  });
});
