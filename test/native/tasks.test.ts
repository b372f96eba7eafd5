import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NRNMClassifier, Trainer, datasets } from '../../src';

describe('task and attention options', () => {
  it('classify-steps predicts [B, T, C], repeats a sequence label over its steps and survives save/load', async () => {
    const model = new NRNMClassifier({ inputSize: 2, classes: 3, hiddenSize: 8, layers: 1, task: 'classify-steps', device: 'cpu', seed: 1 });
    const x = { data: Float32Array.from({ length: 2 * 12 * 2 }, (_, i) => Math.sin(i)), shape: [2, 12, 2] };
    const logits = await model.eval().predict(x, [12, 7]);
    expect(logits.shape).toEqual([2, 12, 3]);
    const trainer = new Trainer(model, { lr: 0.01 });
    const r = await trainer.step(x, [0, 2], [12, 7]);
    expect(r.targets).toBe(19); // valid steps
    const e = await trainer.evaluate(
      x,
      Int32Array.from({ length: 24 }, (_, i) => i % 3),
      [12, 7],
    );
    expect(e.total).toBe(19);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-task-'));
    try {
      await model.save(path.join(dir, 'm.nrnm'));
      const loaded = await NRNMClassifier.load(path.join(dir, 'm.nrnm'), { device: 'cpu' });
      expect(loaded.options.task).toBe('classify-steps');
      expect(Array.from((await loaded.eval().predict(x, [12, 7])).toArray())).toEqual(Array.from((await model.eval().predict(x, [12, 7])).toArray()));
      loaded.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    trainer.dispose();
    model.dispose();
  });

  it('regress-steps fits per-step targets from a dataset (linear head by default)', async () => {
    const N = 8,
      T = 10;
    const x = Float32Array.from({ length: N * T }, (_, i) => Math.sin(i / 3));
    const targets = Float32Array.from({ length: N * T }, (_, i) => Math.sin((i + 1) / 3));
    const data = datasets.inMemory(x, new Int32Array(N), { steps: T, features: 1, targets });
    const model = new NRNMClassifier({ inputSize: 1, classes: 1, hiddenSize: 8, layers: 1, task: 'regress-steps', inputAggregation: 'strided', device: 'cpu' });
    expect(model.options.head).toBe('linear');
    const trainer = new Trainer(model, { lr: 0.02, weightDecay: 0 });
    const fit = await trainer.fit(data, { epochs: 30, batchSize: 8, evalData: data, evalEvery: 30 });
    expect(fit.epochs[29]!.eval!.loss).toBeLessThan(fit.epochs[0]!.train.loss);
    await expect(trainer.step({ data: x, shape: [N, T, 1] }, new Int32Array(N))).rejects.toThrow(/Float32Array of regression targets/);
    trainer.dispose();
    model.dispose();
  });

  it.each(['gru', 'rnn'] as const)('backbone %s: its own weights, padding-exact, trains, survives save/load', async (backbone) => {
    const model = new NRNMClassifier({ inputSize: 2, classes: 2, hiddenSize: 8, layers: 1, backbone, inputAggregation: 'strided', device: 'cpu', seed: 4 });
    const gates = backbone === 'gru' ? 3 : 1;
    expect(model.parameterShapes()['rnn.cell_0.weight_hh']).toEqual([8, gates * 8]);
    expect('rnn.cell_0.bias_hh' in model.parameterShapes()).toBe(backbone === 'gru');
    const x = Float32Array.from({ length: 2 * 24 * 2 }, (_, i) => Math.cos(i / 5));
    model.eval();
    const padded = (await model.predict({ data: x, shape: [2, 24, 2] }, [24, 13])).toArray() as Float32Array;
    const alone = (await model.predict({ data: x.slice(48, 48 + 26), shape: [1, 13, 2] })).toArray() as Float32Array;
    expect(Math.abs(padded[2]! - alone[0]!)).toBeLessThan(1e-6);
    expect(Math.abs(padded[3]! - alone[1]!)).toBeLessThan(1e-6);
    const trainer = new Trainer(model, { lr: 0.01 });
    const r = await trainer.step({ data: x, shape: [2, 24, 2] }, [0, 1], [24, 13]);
    expect(Number.isFinite(r.loss)).toBe(true);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-backbone-'));
    try {
      await trainer.save(path.join(dir, 'm.nrnm'));
      const loaded = await NRNMClassifier.load(path.join(dir, 'm.nrnm'), { device: 'cpu' });
      expect(loaded.options.backbone).toBe(backbone);
      expect(loaded.toString()).toContain(backbone);
      loaded.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    trainer.dispose();
    model.dispose();
  });

  it("attention 'linear' swaps the attention parameters for one Linear over the tokens", () => {
    const model = new NRNMClassifier({ inputSize: 3, classes: 2, hiddenSize: 8, layers: 1, attention: 'linear', device: 'cpu' });
    const shapes = model.parameterShapes();
    expect(shapes['rnn.cell_0.MC.linear_transform.weight']).toEqual([24, 24]);
    expect(shapes['rnn.cell_0.MC.qkv_projector.weight']).toBeUndefined();
    expect(() => new NRNMClassifier({ inputSize: 3, classes: 2, attention: 'none' as never })).toThrow(/attention/);
    model.dispose();
  });
});
