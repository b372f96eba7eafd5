/**
 * Learning-rate schedules, early stopping and fit() callbacks through the
 * real addon: the lr of every step against PyTorch's formulas (warm-up =
 * LinearLR(start_factor=1/W, total_iters=W-1), CosineAnnealingLR's closed
 * form, ReduceLROnPlateau's values printed by torch 1.13; the C++ test
 * native/nrnm/tests/train/lr_schedule_test.cpp holds the same), then the
 * command line's flags.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NRNMClassifier, Trainer, datasets } from '../../src';
import { Event } from '../../src/tensorboard/proto';
import { syntheticDataset } from '../helpers/synthetic';
import { cli, ensureBuilt, expectSucceeded, root } from '../cli/run-cli';

const modelOptions = { inputSize: 4, classes: 4, hiddenSize: 8, layers: 1, device: 'cpu', seed: 11 } as const;
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-schedules-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** [step, value] of every `tag` scalar in the run directory's event file, read back with the writer's own protobuf types. */
function tensorBoardScalars(runDir: string, tag: string): Array<[number, number]> {
  const file = fs.readdirSync(runDir).find((f) => f.startsWith('events.out.tfevents.'))!;
  const bytes = fs.readFileSync(path.join(runDir, file));
  const out: Array<[number, number]> = [];
  for (let at = 0; at < bytes.length;) {
    const length = Number(bytes.readBigUInt64LE(at));
    const event = Event.toObject(Event.decode(bytes.subarray(at + 12, at + 12 + length)), { longs: Number }) as {
      step?: number;
      summary?: { value: Array<{ tag: string; simpleValue?: number }> };
    };
    for (const v of event.summary?.value ?? []) if (v.tag === tag) out.push([event.step ?? 0, v.simpleValue!]);
    at += 12 + length + 4;
  }
  return out;
}

const cosine = (base: number, min: number, epoch: number, tMax: number) => min + ((base - min) * (1 + Math.cos((Math.PI * epoch) / tMax))) / 2;
const warm = (step: number, w: number) => (step < w ? (step + 1) / w : 1);

it('fit: warm-up over 5 steps times a cosine over 3 epochs, step for step', async () => {
  const data = syntheticDataset(64, 20, 4, 1); // 4 steps an epoch
  const model = new NRNMClassifier(modelOptions);
  const trainer = new Trainer(model, { lr: 0.01, weightDecay: 0, scheduler: 'cosine', tMax: 3, minLr: 0.001, warmupSteps: 5 });
  const lrs: number[] = [];
  const result = await trainer.fit(data, { epochs: 3, batchSize: 16, onStep: (e) => void lrs.push(e.lr) });
  // e.lr is the rate step s (from 0) used: the cosine of its epoch times its warm-up factor.
  const expected = Array.from({ length: 12 }, (_, s) => cosine(0.01, 0.001, Math.floor(s / 4), 3) * warm(s, 5));
  lrs.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 12));
  expect(result.epochs.map((e) => e.lr)).toEqual([1, 2, 3].map((e) => expect.closeTo(cosine(0.01, 0.001, e, 3), 12)));
  trainer.dispose();
  model.dispose();
});

// PyTorch itself, where /usr/bin/python3 (or NRNM_TORCH_PYTHON) has torch: the rate of every step of each scheduler with a warm-up.
const torchPython = [process.env['NRNM_TORCH_PYTHON'], '/usr/bin/python3'].find(
  (p): p is string => !!p && spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0,
);
if (!torchPython)
  console.warn('No Python with torch (/usr/bin/python3 or NRNM_TORCH_PYTHON): skipping the step-for-step check against torch.optim.lr_scheduler');
(torchPython ? it : it.skip)('every scheduler times the warm-up gives the rates torch.optim.lr_scheduler gives, step for step', async () => {
  const spec = {
    lr: 0.01,
    epochs: 7,
    stepsPerEpoch: 3,
    warmup: 5,
    step: { stepSize: 2, gamma: 0.5 },
    cosine: { tMax: 4, minLr: 0.001 },
    plateau: { mode: 'min', gamma: 0.5, patience: 1, minLr: 0.002, metrics: [1.0, 0.9, 0.95, 0.9, 0.8999, 0.5, 0.6] },
  } as const;
  const r = spawnSync(torchPython!, [path.join(__dirname, '..', 'helpers', 'torch-schedules.py')], { input: JSON.stringify(spec), encoding: 'utf8' });
  expect(r.status).toBe(0);
  const torch = JSON.parse(r.stdout) as Record<'step' | 'cosine' | 'plateau', number[]>;
  const x = { data: new Float32Array(2 * 3 * 4).fill(0.25), shape: [2, 3, 4] };
  const options = {
    step: { scheduler: 'step', stepSize: 2, gamma: 0.5 },
    cosine: { scheduler: 'cosine', tMax: 4, minLr: 0.001 },
    plateau: { scheduler: 'plateau', gamma: 0.5, patience: 1, minLr: 0.002, monitor: 'loss' },
  } as const;
  for (const kind of ['step', 'cosine', 'plateau'] as const) {
    const model = new NRNMClassifier(modelOptions);
    const trainer = new Trainer(model, { lr: spec.lr, warmupSteps: spec.warmup, ...options[kind] });
    const rates: number[] = [];
    for (let epoch = 0; epoch < spec.epochs; epoch++) {
      for (let s = 0; s < spec.stepsPerEpoch; s++) {
        rates.push(trainer.lr);
        await trainer.step(x, [0, 1]);
      }
      trainer.endEpoch(kind === 'plateau' ? spec.plateau.metrics[epoch] : undefined);
    }
    expect(torch[kind]).toHaveLength(rates.length);
    rates.forEach((v, i) => expect({ kind, step: i, rate: v / torch[kind][i]! }).toEqual({ kind, step: i, rate: expect.closeTo(1, 12) }));
    trainer.dispose();
    model.dispose();
  }
});

it("endEpoch(metric) steps ReduceLROnPlateau as PyTorch's does, and a checkpoint keeps its state", async () => {
  const model = new NRNMClassifier(modelOptions);
  const options = { lr: 0.01, scheduler: 'plateau', gamma: 0.5, patience: 1, minLr: 0.002, monitor: 'accuracy' } as const;
  const trainer = new Trainer(model, options);
  const metrics = [0.5, 0.6, 0.6, 0.6, 0.55, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7];
  const torch = [0.01, 0.01, 0.01, 0.005, 0.005, 0.005, 0.005, 0.0025, 0.0025, 0.002, 0.002, 0.002];
  const lrs: number[] = [];
  for (const m of metrics.slice(0, 6)) {
    trainer.endEpoch(m);
    lrs.push(trainer.lr);
  }
  const file = path.join(dir, 'plateau.nrnm');
  await trainer.save(file);
  const { trainer: resumed } = await Trainer.resume(file, { device: 'cpu' });
  for (const m of metrics.slice(6)) {
    resumed.endEpoch(m);
    lrs.push(resumed.lr);
  }
  lrs.forEach((v, i) => expect(v).toBeCloseTo(torch[i]!, 12));
  expect(() => trainer.endEpoch(NaN)).toThrow(/metric/);
  resumed.model.dispose();
  trainer.dispose();
  model.dispose();
});

it('early stopping ends the run when the monitored eval metric stops improving, saying why; best.nrnm is the best', async () => {
  const data = syntheticDataset(32, 20, 4, 2);
  const test = syntheticDataset(32, 20, 4, 3);
  const model = new NRNMClassifier(modelOptions);
  // A learning rate far below float32's resolution of the weights: the eval loss never changes, so never improves.
  const trainer = new Trainer(model, { lr: 1e-15, weightDecay: 0, scheduler: 'none', monitor: 'loss' });
  const result = await trainer.fit(data, { epochs: 10, batchSize: 16, evalData: test, earlyStop: 2, checkpointDir: dir });
  expect(result.stopped).toBe('early-stop');
  expect(result.epochs).toHaveLength(3);
  expect(result.best).toMatchObject({ epoch: 0, loss: result.epochs[0]!.eval!.loss });
  expect(result.reason).toMatch(/^eval loss did not improve for 2 evaluations \(best \d+\.\d{4} after epoch 1\)$/);
  expect(fs.existsSync(path.join(dir, 'best.nrnm'))).toBe(true);
  trainer.dispose();
  model.dispose();
});

it("a resumed run keeps early stopping's best and count", async () => {
  const data = syntheticDataset(32, 20, 4, 2);
  const test = syntheticDataset(32, 20, 4, 3);
  const model = new NRNMClassifier(modelOptions);
  const trainer = new Trainer(model, { lr: 1e-15, weightDecay: 0, scheduler: 'none', monitor: 'loss' });
  const runDir = path.join(dir, 'early-resume');
  // Stops at the start of the third epoch: one evaluation since the best (the first).
  const first = await trainer.fit(data, { epochs: 10, batchSize: 16, evalData: test, earlyStop: 2, checkpointDir: runDir, maxSteps: 4 });
  expect(first).toMatchObject({ stopped: 'max-steps', best: { epoch: 0 } });
  trainer.dispose();
  model.dispose();
  const { trainer: resumed, progress } = await Trainer.resume(path.join(runDir, 'last.nrnm'), { device: 'cpu' });
  expect(progress).toMatchObject({ epoch: 2, batch: 0, step: 4, sinceBest: 1, best: { epoch: 0, loss: first.best!.loss } });
  const rest = await resumed.fit(data, { epochs: 10, batchSize: 16, evalData: test, earlyStop: 2, checkpointDir: runDir }, progress);
  expect(rest.stopped).toBe('early-stop');
  expect(rest.epochs.map((e) => e.epoch)).toEqual([2]);
  expect(rest.reason).toMatch(/did not improve for 2 evaluations \(best \d+\.\d{4} after epoch 1\)$/);
  resumed.dispose();
  resumed.model.dispose();
});

it("a regression has no accuracy to follow: the plateau and early stopping need monitor 'loss', best.nrnm follows the loss", async () => {
  const model = new NRNMClassifier({ ...modelOptions, task: 'regress-steps' });
  const message = /follows monitor 'accuracy', which task 'regress-steps' does not have; use monitor 'loss'/;
  expect(() => new Trainer(model, { scheduler: 'plateau', gamma: 0.5 })).toThrow(message);
  const trainer = new Trainer(model);
  await expect(trainer.fit(syntheticDataset(8, 5, 4, 1), { epochs: 1, earlyStop: 2 })).rejects.toThrow(message);
  new Trainer(model, { scheduler: 'plateau', gamma: 0.5, monitor: 'loss' }).dispose();
  trainer.dispose();
  model.dispose();
  // best.nrnm of a regression follows its loss, whatever the monitor.
  const N = 8;
  const T = 10;
  const x = Float32Array.from({ length: N * T }, (_, i) => Math.sin(i / 3));
  const targets = Float32Array.from({ length: N * T }, (_, i) => Math.sin((i + 1) / 3));
  const data = datasets.inMemory(x, new Int32Array(N), { steps: T, features: 1, targets });
  const regression = new NRNMClassifier({
    inputSize: 1,
    classes: 1,
    hiddenSize: 8,
    layers: 1,
    task: 'regress-steps',
    inputAggregation: 'strided',
    device: 'cpu',
  });
  const fitter = new Trainer(regression, { lr: 0.02, weightDecay: 0 });
  const fit = await fitter.fit(data, { epochs: 6, batchSize: 8, evalData: data });
  const losses = fit.epochs.map((e) => e.eval!.loss);
  expect(fit.best!.loss).toBe(Math.min(...losses));
  expect(fit.best!.epoch).toBeGreaterThan(0); // it learned: the first epoch is not the best
  fitter.dispose();
  regression.dispose();
});

it("callbacks: 'stop' from onEpochEnd or onStepEnd ends the run there", async () => {
  const data = syntheticDataset(64, 20, 4, 4);
  const model = new NRNMClassifier(modelOptions);
  const trainer = new Trainer(model, { lr: 1e-3 });
  const seen: string[] = [];
  const byEpoch = await trainer.fit(data, {
    epochs: 5,
    batchSize: 16,
    callbacks: [{ onStepEnd: (e) => void seen.push(`step ${e.step}`) }, { onEpochEnd: (e) => (e.epoch === 1 ? 'stop' : undefined) }],
  });
  expect(byEpoch).toMatchObject({ stopped: 'callback', reason: 'a callback stopped the run after epoch 2', steps: 8 });
  expect(seen).toHaveLength(8);
  const byStep = await trainer.fit(data, { epochs: 5, batchSize: 16, callbacks: [{ onStepEnd: (e) => (e.step === 11 ? 'stop' : undefined) }] });
  expect(byStep).toMatchObject({ stopped: 'callback', steps: 11 });
  trainer.dispose();
  model.dispose();
});

it('train --scheduler cosine --warmup, and --early-stop, from the command line', () => {
  ensureBuilt();
  const sample = path.join(root, 'datasets', 'npy', 'sample');
  const args = [
    'train',
    '--dataset',
    'npy',
    '--data',
    sample,
    '--hidden',
    '8',
    '--layers',
    '1',
    '--aggregation',
    'strided',
    '--batch-size',
    '32',
    '--device',
    'cpu',
  ];
  const run = path.join(dir, 'cosine');
  const r = cli([...args, '--lr', '0.01', '--scheduler', 'cosine', '--min-lr', '0.001', '--warmup', '4', '--epochs', '2', '--out', run, '--no-final-eval']);
  expectSucceeded(r);
  expect(r.stdout).toMatch(/cosine over 2 epochs to 0\.001, 4 warm-up steps/);
  const steps = fs
    .readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; step: number; lr: number })
    .filter((m) => m.type === 'step');
  expect(steps).toHaveLength(6); // 96 sequences, 3 steps an epoch
  for (const s of steps) expect(s.lr).toBeCloseTo(cosine(0.01, 0.001, Math.floor((s.step - 1) / 3), 2) * warm(s.step - 1, 4), 12);
  // TensorBoard's train/lr is the same rate at every step (a float32 simple_value).
  expect(tensorBoardScalars(run, 'train/lr')).toEqual(steps.map((s) => [s.step, Math.fround(s.lr)]));
  const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
  expect(config.trainer).toMatchObject({ scheduler: 'cosine', tMax: 2, minLr: 0.001, warmupSteps: 4 });

  const early = cli([
    ...args,
    '--lr',
    '1e-15',
    '--scheduler',
    'none',
    '--monitor',
    'loss',
    '--early-stop',
    '1',
    '--epochs',
    '9',
    '--out',
    path.join(dir, 'early'),
    '--json',
  ]);
  expectSucceeded(early);
  const done = early.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .pop();
  expect(done).toMatchObject({ event: 'done', stopped: 'early-stop', steps: 6, reason: expect.stringMatching(/^eval loss did not improve for 1 evaluation /) });
  const bad = cli([...args, '--scheduler', 'plateau', '--gamma', '2', '--out', path.join(dir, 'bad')]);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/scheduler 'plateau' needs --gamma, its factor, in \(0, 1\) \(got 2\)/);
});
