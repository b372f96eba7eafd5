/**
 * TensorBoard event files: the CRC-32C and its mask against published
 * vectors, the TFRecord framing read back byte by byte, and TensorBoard's
 * own reader (Python's EventAccumulator, from the venv that
 * scripts/ci/python-clients.sh makes) on a real `train` run: every tag,
 * step and value the run logged, exactly, and one curve across a resume.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { SummaryWriter } from '../src';
import { crc32c, maskedCrc32c } from '../src/tensorboard/crc32c';
import { cli, ensureBuilt, expectSucceeded, root } from './cli/run-cli';

const python = [process.env['NRNM_CLIENTS_PYTHON'], path.join(root, '.venv-clients', 'bin', 'python')].find(
  (p): p is string => !!p && spawnSync(p, ['-c', 'import tensorboard'], { stdio: 'ignore' }).status === 0,
);
const withReader = python ? it : it.skip;
if (!python) {
  console.warn(
    "No Python with tensorboard in .venv-clients (bash scripts/ci/python-clients.sh makes it) or NRNM_CLIENTS_PYTHON: skipping the checks with TensorBoard's reader",
  );
}

interface Read {
  scalars: Record<string, Array<[number, number | null]>>;
  texts: Record<string, Array<[number, string]>>;
}

function readWithTensorBoard(dir: string): Read {
  const r = spawnSync(python!, [path.join(root, 'test', 'helpers', 'read-tensorboard.py'), dir], { encoding: 'utf8' });
  expect(r.stderr.split('\n').filter((l) => /Error|Traceback/.test(l))).toEqual([]);
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as Read;
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-tb-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('CRC-32C and TFRecord framing', () => {
  it('matches the published CRC-32C vectors (RFC 3720 B.4, "123456789") and TensorFlow\'s mask', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
    // masked_crc32c of TensorBoard's own Python reader (tensorflow_stub), for the same inputs.
    expect(maskedCrc32c(Buffer.from('123456789'))).toBe(0xc78ab0e5);
    expect(maskedCrc32c(new Uint8Array(0))).toBe(0xa282ead8);
  });

  it('writes length, masked CRC of the length, the Event, masked CRC of the Event; the first record is the file version', () => {
    const w = new SummaryWriter(path.join(tmp, 'framing'));
    w.addScalar('a/b', 0.25, 7);
    w.close();
    expect(path.basename(w.file)).toMatch(new RegExp(`^events\\.out\\.tfevents\\.\\d{10}\\.${os.hostname().replace(/\./g, '\\.')}\\.${process.pid}\\.\\d+$`));
    const bytes = fs.readFileSync(w.file);
    const records: Buffer[] = [];
    for (let at = 0; at < bytes.length;) {
      const n = Number(bytes.readBigUInt64LE(at));
      expect(bytes.readUInt32LE(at + 8)).toBe(maskedCrc32c(bytes.subarray(at, at + 8)));
      const data = bytes.subarray(at + 12, at + 12 + n);
      expect(bytes.readUInt32LE(at + 12 + n)).toBe(maskedCrc32c(data));
      records.push(data);
      at += 12 + n + 4;
    }
    expect(records).toHaveLength(2);
    expect(records[0]!.includes(Buffer.from('brain.Event:2'))).toBe(true);
    // step 7 (field 2, varint) and the float 0.25 (field 2 of the Value, fixed32).
    expect(records[1]!.includes(Buffer.from([0x10, 0x07]))).toBe(true);
    const quarter = Buffer.alloc(4);
    quarter.writeFloatLE(0.25);
    expect(records[1]!.includes(Buffer.concat([Buffer.from([0x15]), quarter]))).toBe(true);
    expect(() => w.addScalar('a', 1, 1)).toThrow(/is closed/);
  });
});

describe("TensorBoard's reader (EventAccumulator)", () => {
  withReader('reads every scalar and the text of a writer; a record cut short loses only that record', () => {
    const dir = path.join(tmp, 'writer');
    const w = new SummaryWriter(dir);
    const values = [1.5, -2.25, 1e-7, 3.4e38, 0];
    values.forEach((v, i) => w.addScalar('x/y', v, i + 1));
    w.addText('notes', '# hello\nworld ✓', 3);
    w.close();
    const read = readWithTensorBoard(dir);
    expect(read.scalars['x/y']).toEqual(values.map((v, i) => [i + 1, Math.fround(v)]));
    expect(read.texts['notes/text_summary']).toEqual([[3, '# hello\nworld ✓']]);
    // A crash in the middle of the last record: the reader keeps everything before it.
    const size = fs.statSync(w.file).size;
    const w2 = new SummaryWriter(path.join(tmp, 'cut'));
    values.forEach((v, i) => w2.addScalar('x/y', v, i + 1));
    w2.close();
    fs.truncateSync(w2.file, fs.statSync(w2.file).size - 5);
    expect(readWithTensorBoard(path.join(tmp, 'cut')).scalars['x/y']).toEqual(values.slice(0, -1).map((v, i) => [i + 1, Math.fround(v)]));
    expect(size).toBeGreaterThan(0);
  });

  withReader('a session start drops the steps a restarted writer logs again: one curve', () => {
    const dir = path.join(tmp, 'restart');
    const first = new SummaryWriter(dir);
    for (let s = 1; s <= 5; s++) first.addScalar('loss', s, s);
    first.close();
    const second = new SummaryWriter(dir);
    second.addSessionStart(4);
    for (let s = 4; s <= 6; s++) second.addScalar('loss', 10 * s, s);
    second.close();
    expect(readWithTensorBoard(dir).scalars['loss']).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 40],
      [5, 50],
      [6, 60],
    ]);
  });

  withReader(
    'train writes every step, epoch and final metric and the config; a resumed run continues the curves',
    () => {
      ensureBuilt();
      const run = path.join(tmp, 'run');
      const sample = path.join(root, 'datasets', 'npy', 'sample');
      const args = ['--hidden', '16', '--layers', '1', '--aggregation', 'strided', '--batch-size', '16', '--lr', '0.01', '--device', 'cpu'];
      // 96 sequences, 6 steps an epoch: stop after 8, then resume to the end of epoch 2.
      const r = cli(['train', '--dataset', 'npy', '--data', sample, ...args, '--epochs', '2', '--max-steps', '8', '--out', run, '--quiet']);
      expectSucceeded(r);
      expectSucceeded(cli(['train', '--resume', run, '--device', 'cpu', '--quiet']));
      const files = fs.readdirSync(run).filter((f) => f.startsWith('events.out.tfevents.'));
      expect(files).toHaveLength(2);

      const read = readWithTensorBoard(run);
      const metrics = fs
        .readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, number & Record<string, number>>);
      const steps = metrics.filter((m) => (m.type as unknown) === 'step');
      const epochs = metrics.filter((m) => (m.type as unknown) === 'epoch');
      // Each run's final evaluation (after step 8, and after step 12).
      const finals = metrics.filter((m) => (m.type as unknown) === 'evaluation');
      expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      const f = Math.fround;
      const expected: Record<string, Array<[number, number]>> = {
        'train/loss': steps.map((s) => [s.step, f(s.loss)]),
        'train/accuracy': steps.map((s) => [s.step, f(s.accuracy)]),
        'train/lr': steps.map((s) => [s.step, f(s.lr)]),
        'train/grad_norm': steps.map((s) => [s.step, f(s.gradNorm)]),
        'train/sequences_per_second': steps.map((s) => [s.step, f(s.sequencesPerSecond)]),
        'epoch/epoch': epochs.map((e) => [e.step, e.epoch + 1]),
        'epoch/train_loss': epochs.map((e) => [e.step, f(e.train.loss!)]),
        'epoch/train_accuracy': epochs.map((e) => [e.step, f(e.train.accuracy!)]),
        'epoch/lr': epochs.map((e) => [e.step, f(e.lr)]),
        'epoch/eval_loss': epochs.map((e) => [e.step, f(e.eval.loss!)]),
        'epoch/eval_accuracy': epochs.map((e) => [e.step, f(e.eval.accuracy!)]),
        'final/eval_loss': finals.map((e) => [e.step, f(e.loss)]),
        'final/eval_accuracy': finals.map((e) => [e.step, f(e.accuracy)]),
      };
      expect(epochs.map((e) => e.step)).toEqual([6, 12]);
      expect(finals.map((e) => e.step)).toEqual([8, 12]);
      expect(read.scalars).toEqual(expected);
      // The configuration as text: the first run's config.json, then the resumed one's.
      const texts = read.texts['config/text_summary']!;
      expect(texts.map(([step]) => step)).toEqual([0, 8]);
      const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8')) as { model: unknown; resumes: unknown[] };
      const logged = JSON.parse(/^```json\n([\s\S]*)\n```$/.exec(texts[1]![1])![1]!) as { model: unknown; resumes: unknown[] };
      expect(logged.model).toEqual(config.model);
      expect(logged.resumes).toHaveLength(1);

      // --no-tensorboard writes none; --tensorboard DIR writes there.
      const off = path.join(tmp, 'off');
      expectSucceeded(cli(['train', '--dataset', 'npy', '--data', sample, ...args, '--max-steps', '1', '--out', off, '--quiet', '--no-tensorboard']));
      expect(fs.readdirSync(off).filter((f) => f.includes('tfevents'))).toEqual([]);
      const elsewhere = path.join(tmp, 'tb-elsewhere');
      const there = cli([
        'train',
        '--dataset',
        'npy',
        '--data',
        sample,
        ...args,
        '--max-steps',
        '1',
        '--out',
        path.join(tmp, 'there'),
        '--tensorboard',
        elsewhere,
      ]);
      expectSucceeded(there);
      expect(there.stdout).toMatch(/TensorBoard: .*tb-elsewhere\/events\.out\.tfevents\./);
      expect(readWithTensorBoard(elsewhere).scalars['train/loss']).toHaveLength(1);
    },
    120_000,
  );
});
