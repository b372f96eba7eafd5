/**
 * predict and eval for every task and input form, end to end: tiny models
 * trained here (through the API, and through `train` on .npy files with
 * lengths), saved as .nrnm and as an official-format .pt, then the real
 * command line on real files; its outputs are compared with the model's
 * own predict() in this process.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NRNMClassifier, Trainer, type Choice } from '../../src';
import { readNpy, writeNpy } from '../../src/data';
import { cli, ensureBuilt, expectSucceeded } from './run-cli';

const [N, T, F, C] = [5, 9, 3, 4];
const TASKS = ['classify-sequence', 'classify-steps', 'regress-steps'] as const;
type Task = Choice<'task'>;
/** The architecture as flags, for the official .pt (which keeps only the sizes). */
const ARCH = ['--aggregation', 'strided', '--block-length', '4', '--stride', '2', '--heads', '2'];
const LENGTHS = Int32Array.from([9, 4, 7, 1, 9]);
let tmp: string;
let x: Float32Array;

function modelOptions(task: Task) {
  return { inputSize: F, classes: C, task, hiddenSize: 8, layers: 1, blockLength: 4, stride: 2, heads: 2, inputAggregation: 'strided' as const, seed: 3 };
}

/** Deterministic inputs in [-1, 1]. */
function signal(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n * T * F }, (_, i) => Math.sin(i * 0.37 + seed) * Math.cos(i * 0.11));
}

const models: Record<string, { nrnm: string; pt: string; full: Float32Array; withLengths: Float32Array }> = {};

beforeAll(async () => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-tasks-'));
  x = signal(N, 1);
  writeNpy(path.join(tmp, 'x.npy'), x, [N, T, F]);
  writeNpy(path.join(tmp, 'lengths.npy'), LENGTHS, [N]);
  for (const task of TASKS) {
    const model = new NRNMClassifier({ ...modelOptions(task), device: 'cpu' });
    const trainer = new Trainer(model, { lr: 1e-2 });
    const input = { data: x, shape: [N, T, F] };
    const y = task === 'regress-steps' ? Float32Array.from({ length: N * T * C }, (_, i) => Math.sin(i)) : Int32Array.from([0, 1, 2, 3, 1]);
    for (let s = 0; s < 2; s++) await trainer.step(input, y, LENGTHS);
    trainer.dispose();
    const nrnm = path.join(tmp, `${task}.nrnm`);
    const pt = path.join(tmp, `${task}.pt`);
    await model.save(nrnm);
    await model.savePyTorch(pt);
    model.eval();
    const full = await model.predict(input);
    const withLengths = await model.predict(input, LENGTHS);
    models[task] = { nrnm, pt, full: full.toArray() as Float32Array, withLengths: withLengths.toArray() as Float32Array };
    full.dispose();
    withLengths.dispose();
    model.dispose();
  }
}, 60_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function expectClose(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst).toBeLessThan(1e-5);
}

describe.each(TASKS)('predict, task %s', (task) => {
  const perStep = task !== 'classify-sequence';
  const shape = perStep ? [N, T, C] : [N, C];

  it('from the .nrnm with --lengths and --json: the shape, NaN past each length, the values of predict()', () => {
    const output = path.join(tmp, `${task}-out.npy`);
    const input = ['--input', path.join(tmp, 'x.npy'), '--lengths', path.join(tmp, 'lengths.npy'), '--output', output];
    const r = cli(['predict', '--checkpoint', models[task]!.nrnm, ...input, '--device', 'cpu', '--json']);
    expectSucceeded(r);
    const summary = JSON.parse(r.stdout) as { shape: number[]; task: string; values: string; padded: string | null; predicted?: unknown[] };
    expect(summary).toMatchObject({ shape, task, values: task === 'regress-steps' ? 'values' : 'logits', padded: perStep ? 'NaN' : null });
    const written = readNpy(output);
    expect(written.shape).toEqual(shape);
    const values = written.data as Float32Array;
    const expected = Float32Array.from(models[task]!.withLengths);
    if (perStep) for (let b = 0; b < N; b++) expected.fill(NaN, (b * T + LENGTHS[b]!) * C, (b + 1) * T * C);
    const valid = (a: Float32Array) => a.filter((v) => !Number.isNaN(v));
    expect(Array.from(values).map(Number.isNaN)).toEqual(Array.from(expected).map(Number.isNaN));
    expectClose(valid(values), valid(expected));
    if (task === 'regress-steps') expect(summary.predicted).toBeUndefined();
    else if (perStep) expect((summary.predicted as number[][]).map((p) => p.length)).toEqual(Array.from(LENGTHS));
    else expect(summary.predicted).toHaveLength(N);
  });

  it('from the official-format .pt (task and architecture as flags), all steps valid', () => {
    const output = path.join(tmp, `${task}-pt.npy`);
    const r = cli([
      'predict',
      '--checkpoint',
      models[task]!.pt,
      '--task',
      task,
      ...ARCH,
      '--input',
      path.join(tmp, 'x.npy'),
      '--output',
      output,
      '--device',
      'cpu',
    ]);
    expectSucceeded(r);
    expect(r.stdout).toContain(`(${shape.join(', ')}) float32`);
    const written = readNpy(output);
    expect(written.shape).toEqual(shape);
    expectClose(written.data as Float32Array, models[task]!.full);
  });
});

it('predict: one sequence (T, F) of a per-step model gives (1, T, C), the first row of the batch', () => {
  const one = path.join(tmp, 'x1.npy');
  writeNpy(one, x.slice(0, T * F), [T, F]);
  const output = path.join(tmp, 'one.npy');
  const r = cli(['predict', '--checkpoint', models['classify-steps']!.nrnm, '--input', one, '--output', output, '--device', 'cpu', '--softmax']);
  expectSucceeded(r);
  const written = readNpy(output);
  expect(written.shape).toEqual([1, T, C]);
  const probabilities = written.data as Float32Array;
  for (let t = 0; t < T; t++) expect(probabilities.subarray(t * C, (t + 1) * C).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  // The softmax of the first sequence's logits.
  const logits = models['classify-steps']!.full.subarray(0, C);
  const sum = Array.from(logits).reduce((a, v) => a + Math.exp(v), 0);
  expect(probabilities[0]).toBeCloseTo(Math.exp(logits[0]!) / sum, 5);
});

it('predict: bad --lengths and --softmax on a regression model are usage errors naming the flag', () => {
  const bad = path.join(tmp, 'bad-lengths.npy');
  writeNpy(bad, Int32Array.from([9, 10, 1, 1, 1]), [N]);
  // predict of x.npy with the given model and flags, written to a throwaway file.
  const predictX = (task: string, ...flags: string[]) =>
    cli(['predict', '--checkpoint', models[task]!.nrnm, '--input', path.join(tmp, 'x.npy'), ...flags, '--output', path.join(tmp, 'n.npy')]);
  const r = predictX('classify-steps', '--lengths', bad);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/--lengths .*bad-lengths\.npy\[1\] is 10; lengths must be integers in \[1, 9\]/);
  const few = path.join(tmp, 'few-lengths.npy');
  writeNpy(few, Int32Array.from([9, 1]), [2]);
  const r2 = predictX('classify-steps', '--lengths', few);
  expect(r2.code).not.toBe(0);
  expect(r2.stderr).toMatch(/--lengths .*few-lengths\.npy has 2 entries but there are 5 sequences/);
  const r3 = predictX('regress-steps', '--softmax');
  expect(r3.code).toBe(2);
  expect(r3.stderr).toMatch(/--softmax applies to the classification tasks/);
  expect(fs.existsSync(path.join(tmp, 'n.npy'))).toBe(false);
});

describe('train and eval on .npy files with --unpadded (<part>_lengths.npy)', () => {
  const data = () => path.join(tmp, 'npy-data');
  const testLengths = Int32Array.from([9, 3, 6, 2, 8, 5]);

  beforeAll(() => {
    fs.mkdirSync(data(), { recursive: true });
    writeNpy(path.join(data(), 'train_x.npy'), signal(8, 2), [8, T, F]);
    writeNpy(path.join(data(), 'train_y.npy'), Int32Array.from([0, 1, 2, 3, 0, 1, 2, 3]), [8]);
    writeNpy(path.join(data(), 'train_lengths.npy'), Int32Array.from([9, 8, 7, 6, 5, 4, 3, 2]), [8]);
    writeNpy(path.join(data(), 'test_x.npy'), signal(6, 3), [6, T, F]);
    writeNpy(path.join(data(), 'test_y.npy'), Int32Array.from([3, 2, 1, 0, 1, 2]), [6]);
    writeNpy(path.join(data(), 'test_lengths.npy'), testLengths, [6]);
  });

  /** Mean cross-entropy at each sequence's last valid step, as eval scores it. */
  async function expectedLoss(checkpoint: string, lengths: Int32Array | undefined): Promise<number> {
    const model = await NRNMClassifier.load(checkpoint, { device: 'cpu' });
    const out = await model.eval().predict({ data: signal(6, 3), shape: [6, T, F] }, lengths);
    const values = out.toArray() as Float32Array;
    const perStep = model.options.task !== 'classify-sequence';
    out.dispose();
    model.dispose();
    const labels = [3, 2, 1, 0, 1, 2];
    let sum = 0;
    labels.forEach((y, b) => {
      const t = (lengths ? lengths[b]! : T) - 1;
      const row = Array.from(values.subarray(perStep ? (b * T + t) * C : b * C, perStep ? (b * T + t + 1) * C : (b + 1) * C));
      const max = Math.max(...row);
      sum += Math.log(row.reduce((a, v) => a + Math.exp(v - max), 0)) + max - row[y]!;
    });
    return sum / labels.length;
  }

  it.each(['classify-sequence', 'classify-steps'] as const)('task %s: eval of the run uses the lengths', async (task) => {
    const run = path.join(tmp, `run-${task}`);
    const args = ['train', '--dataset', 'npy', '--data', data(), '--unpadded', '--task', task, '--hidden', '8', '--layers', '1', ...ARCH];
    const r = cli([...args, '--epochs', '1', '--batch-size', '4', '--lr', '0.01', '--device', 'cpu', '--out', run, '--quiet']);
    expectSucceeded(r);
    const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
    expect(config.data).toMatchObject({ dataset: 'npy', unpadded: true });
    // eval takes the run's data flags, --unpadded included.
    const e = cli(['eval', '--checkpoint', path.join(run, 'last.nrnm'), '--device', 'cpu', '--json', '--out', run]);
    expectSucceeded(e);
    const result = JSON.parse(e.stdout) as { loss: number; total: number; byStep?: Array<{ total: number }> };
    expect(result.total).toBe(6);
    const withLengths = await expectedLoss(path.join(run, 'last.nrnm'), testLengths);
    const padded = await expectedLoss(path.join(run, 'last.nrnm'), undefined);
    expect(Math.abs(withLengths - padded)).toBeGreaterThan(1e-4);
    expect(result.loss).toBeCloseTo(withLengths, 5);
    // Per-step: step t counts the sequences that reach it.
    if (task === 'classify-steps') expect(result.byStep!.map((s) => s.total)).toEqual([6, 6, 5, 4, 4, 3, 2, 2, 1]);
    // Given flags: --unpadded on the command line.
    const given = cli(['eval', '--checkpoint', path.join(run, 'last.nrnm'), '--dataset', 'npy', '--data', data(), '--device', 'cpu', '--json', '--out', run]);
    expectSucceeded(given);
    expect((JSON.parse(given.stdout) as { loss: number }).loss).toBeCloseTo(padded, 5);
  });

  it('eval of a regress-steps model says to use predict; --unpadded without the lengths file names it', () => {
    const e = cli(['eval', '--checkpoint', models['regress-steps']!.nrnm, '--dataset', 'npy', '--data', data(), '--device', 'cpu']);
    expect(e.code).toBe(2);
    expect(e.stderr).toMatch(/regress-steps model: eval scores classes; write its values with 'nrnm-native predict'/);
    const bare = path.join(tmp, 'npy-bare');
    fs.mkdirSync(bare);
    for (const f of ['train_x.npy', 'train_y.npy', 'test_x.npy', 'test_y.npy']) fs.copyFileSync(path.join(data(), f), path.join(bare, f));
    const u = cli(['eval', '--checkpoint', models['classify-steps']!.nrnm, '--dataset', 'npy', '--data', bare, '--unpadded', '--device', 'cpu']);
    expect(u.code).not.toBe(0);
    expect(u.stderr).toMatch(/--unpadded: .*npy-bare\/test_lengths\.npy not found/);
  });
});
