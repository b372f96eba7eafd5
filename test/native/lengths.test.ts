import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { NRNMClassifier, NRNMError, Tensor, Trainer, datasets } from '../../src';
import { checkInertPadding } from '../helpers/inert-padding';
import { checkPadding, type PaddingCheck } from '../helpers/padding-check';

const TOLERANCE = 1e-6; // float32, the exact schedule

describe('variable-length batches (lengths)', () => {
  it('gives every padded sample the logits and gradients it has alone (fused recurrence)', async () => {
    const r = await checkPadding();
    expect(r.compared).toBeGreaterThan(1000);
    expect(r.logits).toBeLessThan(TOLERANCE);
    expect(r.gradients).toBeLessThan(TOLERANCE);
  });

  it('does so on the reference recurrence too (NRNM_RECURRENCE=reference)', () => {
    const helper = path.join(__dirname, '..', 'helpers', 'padding-check.ts');
    const child = spawnSync(process.execPath, ['-r', path.join(__dirname, '..', 'helpers', 'ts-register.js'), helper], {
      env: { ...process.env, NRNM_RECURRENCE: 'reference' },
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    const r = JSON.parse(child.stdout) as PaddingCheck;
    expect(r.compared).toBeGreaterThan(1000);
    expect(r.logits).toBeLessThan(TOLERANCE);
    expect(r.gradients).toBeLessThan(TOLERANCE);
  });

  it('keeps padding inert, exactly: NaN, Inf in x and any class or NaN target there change no logit, loss or gradient (fused)', async () => {
    const r = await checkInertPadding();
    expect(r.runs).toBe(24);
    expect(r.mismatches).toEqual([]);
  });

  it('keeps padding inert on the reference recurrence too (NRNM_RECURRENCE=reference)', () => {
    const helper = path.join(__dirname, '..', 'helpers', 'inert-padding.ts');
    const child = spawnSync(process.execPath, ['-r', path.join(__dirname, '..', 'helpers', 'ts-register.js'), helper], {
      env: { ...process.env, NRNM_RECURRENCE: 'reference' },
      encoding: 'utf8',
      timeout: 240_000,
    });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual({ runs: 24, mismatches: [] });
  });

  it('refuses non-finite regression targets inside a sequence, naming the position', async () => {
    const model = new NRNMClassifier({ inputSize: 2, classes: 1, hiddenSize: 4, layers: 1, heads: 2, device: 'cpu', task: 'regress-steps' });
    const x = { data: new Float32Array(2 * 3 * 2), shape: [2, 3, 2] };
    const y = new Float32Array(6);
    y[4] = NaN; // sequence 1, step 1
    await expect(model.lossAndGradients(x, y)).rejects.toMatchObject({ code: 'ERR_ARG', message: expect.stringContaining('labels[1, 1, 0] is NaN') });
    y[4] = Infinity;
    await expect(model.lossAndGradients(x, y, [3, 2])).rejects.toMatchObject({ code: 'ERR_ARG', message: expect.stringContaining('is Infinity') });
    y[4] = 0;
    y[5] = NaN; // sequence 1, step 2: padding with lengths [3, 2]
    expect(Number.isFinite((await model.lossAndGradients(x, y, [3, 2])).loss)).toBe(true);
    model.dispose();
  });

  it('checks label and lengths tensors by shape: [T, B] is not [B, T], [2, 2] lengths are not four', async () => {
    const model = new NRNMClassifier({ inputSize: 2, classes: 3, hiddenSize: 4, layers: 1, heads: 2, device: 'cpu', task: 'classify-steps' });
    const x = { data: new Float32Array(2 * 3 * 2), shape: [2, 3, 2] };
    const transposed = Tensor.from(new BigInt64Array(6), [3, 2]);
    await expect(model.lossAndGradients(x, transposed)).rejects.toMatchObject({
      code: 'ERR_SHAPE',
      message: expect.stringMatching(/shape \[2, 3\].*received \[3, 2\]/),
    });
    const lengths = Tensor.from(new BigInt64Array([2n, 2n, 2n, 2n]), [2, 2]);
    const four = { data: new Float32Array(4 * 3 * 2), shape: [4, 3, 2] };
    await expect(model.predict(four, lengths)).rejects.toMatchObject({ code: 'ERR_SHAPE', message: expect.stringContaining('received [2, 2]') });
    const right = Tensor.from(new BigInt64Array(6), [2, 3]);
    expect(Number.isFinite((await model.lossAndGradients(x, right)).loss)).toBe(true);
    for (const t of [transposed, lengths, right]) t.dispose();
    model.dispose();
  });

  it('rejects lengths that do not fit the batch, naming the value', async () => {
    const model = new NRNMClassifier({ inputSize: 2, classes: 2, hiddenSize: 4, layers: 1, heads: 2, device: 'cpu' });
    const x = { data: new Float32Array(2 * 5 * 2), shape: [2, 5, 2] };
    await expect(model.predict(x, [5, 6])).rejects.toThrow(/lengths\[1\] to be an integer in \[1, 5\].*received 6/);
    await expect(model.predict(x, [5])).rejects.toThrow(NRNMError);
    await expect(model.predict(x, [0, 2])).rejects.toThrow(/lengths\[0\]/);
    model.dispose();
  });

  it('trains from a dataset of sequences of different lengths (arrays of rows)', async () => {
    const rows = (n: number, v: number) => Array.from({ length: n }, () => [v, -v]);
    const data = datasets.sequences([rows(3, 1), rows(7, -1), rows(12, 1), rows(5, -1)], [0, 1, 0, 1]);
    expect(data.steps).toBe(12);
    expect(Array.from(data.lengths!)).toEqual([3, 7, 12, 5]);
    const batch = await data.readRange(0, 4);
    expect(Array.from(batch.lengths!)).toEqual([3, 7, 12, 5]);
    expect(batch.x[(1 * 12 + 7) * 2]).toBe(0); // zero padding after the end
    const model = new NRNMClassifier({ inputSize: 2, classes: 2, hiddenSize: 4, layers: 1, heads: 2, device: 'cpu' });
    const trainer = new Trainer(model, { lr: 0.01 });
    const fit = await trainer.fit(data, { epochs: 2, batchSize: 2 });
    expect(fit.steps).toBe(4);
    expect(fit.epochs[0]!.train.sequences).toBe(4);
    // evaluateDataset passes the lengths: the same as evaluating each sequence alone.
    const whole = await trainer.evaluateDataset(data, 4);
    let sum = 0;
    for (let i = 0; i < 4; i++) {
      const s = data.get(i);
      const r = await trainer.evaluate({ data: s.x.slice(0, s.length! * 2), shape: [1, s.length!, 2] }, [s.y]);
      r.logits.dispose();
      sum += r.loss;
    }
    expect(whole.loss).toBeCloseTo(sum / 4, 5);
    trainer.dispose();
    model.dispose();
  });
});
