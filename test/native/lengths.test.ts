import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { NRNMClassifier, NRNMError, Trainer, datasets } from '../../src';
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
