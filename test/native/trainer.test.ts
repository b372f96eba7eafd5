import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NRNMClassifier, Trainer } from '../../src';
import { syntheticDataset, syntheticTask } from '../helpers/synthetic';

// Small enough to train in seconds on 2 CPU cores; T=20 exercises two memory updates.
const modelOptions = { inputSize: 4, classes: 4, hiddenSize: 16, layers: 1, device: 'cpu', seed: 11 } as const;
const trainerOptions = { lr: 1e-2, weightDecay: 0 } as const;

describe('Trainer', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-trainer-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('learns a small synthetic task to high accuracy', async () => {
    const train = syntheticDataset(512, 20, 4, 1);
    const test = syntheticDataset(256, 20, 4, 2);
    const model = new NRNMClassifier(modelOptions);
    const trainer = new Trainer(model, trainerOptions);
    const result = await trainer.fit(train, { epochs: 6, batchSize: 32, evalData: test, seed: 1 });
    const final = result.epochs[result.epochs.length - 1];
    expect(final.eval!.accuracy).toBeGreaterThan(0.9);
    expect(final.train.loss).toBeLessThan(result.epochs[0].train.loss);
    trainer.dispose();
    model.dispose();
  });

  it('is deterministic: the same seeds give the same losses', async () => {
    const data = syntheticDataset(96, 20, 4, 3);
    const run = async () => {
      const model = new NRNMClassifier(modelOptions);
      const trainer = new Trainer(model, trainerOptions);
      const losses: number[] = [];
      await trainer.fit(data, { epochs: 2, batchSize: 16, seed: 5, onStep: (e) => void losses.push(e.loss) });
      model.dispose();
      return losses;
    };
    const a = await run();
    expect(a).toHaveLength(12);
    expect(await run()).toEqual(a);
  });

  it('resumes from a checkpoint with losses identical to an uninterrupted run', async () => {
    const data = syntheticDataset(64, 20, 4, 4);
    const options = { batchSize: 16, seed: 9 };

    const straight: number[] = [];
    const m1 = new NRNMClassifier(modelOptions);
    await new Trainer(m1, { ...trainerOptions, stepSize: 1, gamma: 0.5 }).fit(data, { ...options, epochs: 4, onStep: (e) => void straight.push(e.loss) });
    m1.dispose();

    const resumed: number[] = [];
    const m2 = new NRNMClassifier(modelOptions);
    await new Trainer(m2, { ...trainerOptions, stepSize: 1, gamma: 0.5 }).fit(data, {
      ...options,
      epochs: 2,
      checkpointDir: dir,
      onStep: (e) => void resumed.push(e.loss),
    });
    m2.dispose();
    const { trainer, progress } = await Trainer.resume(path.join(dir, 'last.nrnm'), { device: 'cpu' });
    // Early stopping's state rides along: the best evaluation so far and the evaluations since it.
    expect(progress).toEqual({ epoch: 2, batch: 0, step: 8, best: expect.objectContaining({ epoch: expect.any(Number) }), sinceBest: expect.any(Number) });
    expect(trainer.lr).toBeCloseTo(1e-2 * 0.25, 12);
    await trainer.fit(data, { ...options, epochs: 4, onStep: (e) => void resumed.push(e.loss) }, progress);
    expect(resumed).toEqual(straight);
    trainer.model.dispose();
  });

  it('stops on an AbortSignal at a batch boundary, leaving a checkpoint that resumes mid-epoch', async () => {
    const data = syntheticDataset(64, 20, 4, 6);
    const straight: number[] = [];
    const m1 = new NRNMClassifier(modelOptions);
    await new Trainer(m1, trainerOptions).fit(data, { epochs: 2, batchSize: 16, seed: 2, onStep: (e) => void straight.push(e.loss) });
    m1.dispose();

    const controller = new AbortController();
    const losses: number[] = [];
    const m2 = new NRNMClassifier(modelOptions);
    const result = await new Trainer(m2, trainerOptions).fit(data, {
      epochs: 2,
      batchSize: 16,
      seed: 2,
      checkpointDir: dir,
      signal: controller.signal,
      onStep: (e) => {
        losses.push(e.loss);
        if (e.step === 6) controller.abort();
      },
    });
    m2.dispose();
    expect(result.stopped).toBe('aborted');
    const { trainer, progress } = await Trainer.resume(path.join(dir, 'last.nrnm'), { device: 'cpu' });
    expect(progress).toMatchObject({ epoch: 1, batch: 2, step: 6 });
    await trainer.fit(data, { epochs: 2, batchSize: 16, seed: 2, onStep: (e) => void losses.push(e.loss) }, progress);
    expect(losses).toEqual(straight);
    trainer.model.dispose();
  });

  it('keeps the event loop turning while native steps run', async () => {
    const data = syntheticDataset(256, 40, 4, 7);
    const model = new NRNMClassifier({ ...modelOptions, hiddenSize: 64 });
    const trainer = new Trainer(model, trainerOptions);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const started = Date.now();
    await trainer.fit(data, { epochs: 1, batchSize: 64 });
    clearInterval(timer);
    const elapsed = Date.now() - started;
    // A blocked loop would tick a handful of times at most; a free one about once per ms.
    expect(ticks).toBeGreaterThan(Math.min(20, elapsed / 10));
    model.dispose();
  });

  it('refuses a non-finite loss with ERR_NON_FINITE naming the step, keeping the weights', async () => {
    const model = new NRNMClassifier(modelOptions);
    const trainer = new Trainer(model, trainerOptions);
    const { x, y, shape } = syntheticTask(8, 20, 4, 8);
    await trainer.step({ data: x, shape }, y);
    const before = model.stateDict();
    const bad = Float32Array.from(x);
    bad[5] = NaN;
    await expect(trainer.step({ data: bad, shape }, y)).rejects.toMatchObject({
      code: 'ERR_NON_FINITE',
      message: expect.stringMatching(/loss became NaN at step 2; the weights of step 1 are kept/),
    });
    const after = model.stateDict();
    for (const name of Object.keys(before)) expect(Array.from(after[name].toArray())).toEqual(Array.from(before[name].toArray()));
    // Training goes on from the kept weights.
    await expect(trainer.step({ data: x, shape }, y)).resolves.toMatchObject({ batchSize: 8 });
    model.dispose();
  });

  it('rejects bad labels and shapes before native work', async () => {
    const model = new NRNMClassifier(modelOptions);
    const trainer = new Trainer(model, trainerOptions);
    const { x, shape } = syntheticTask(2, 20, 4, 9);
    await expect(trainer.step({ data: x, shape }, [0, 4])).rejects.toThrow('Expected labels[1] to be an integer class in [0, 4) but received 4');
    await expect(trainer.step({ data: x, shape: [2, 20, 3] as never }, [0, 1])).rejects.toMatchObject({ code: 'ERR_SHAPE' });
    expect(() => new Trainer(model, { precision: 'bf16' })).toThrow(/needs a CUDA device/);
    trainer.dispose();
    await expect(trainer.step({ data: x, shape }, [0, 1])).rejects.toMatchObject({ code: 'ERR_DISPOSED' });
    model.dispose();
  });
});
