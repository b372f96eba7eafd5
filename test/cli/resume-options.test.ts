/**
 * `train --resume` and the flags that describe the run: each one given again
 * must equal the stored value (one rule for every model, optimizer and data
 * flag), and the stored progress of last.nrnm is checked before it is used.
 * Small runs on the npy sample (datasets/npy/sample, seconds on a CPU).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { crc32 } from '../../src/serialization/zip';
import { cli, ensureBuilt, expectSucceeded, root } from './run-cli';

const SAMPLE = path.join(root, 'datasets', 'npy', 'sample');
const RUN = ['--dataset', 'npy', '--data', SAMPLE, '--hidden', '16', '--layers', '1', '--aggregation', 'strided', '--batch-size', '16', '--device', 'cpu'];

/**
 * Rewrites the "nrnm.header" JSON of a .nrnm (safetensors) file in place,
 * with a new checksum (README "Checkpoint format": the tensors' bytes, the
 * metadata but the checksum in key order, then each tensor's name, dtype
 * and shape), as a hand edit with the format's documentation would.
 */
function editHeader(file: string, edit: (header: Record<string, unknown>) => void): void {
  const bytes = fs.readFileSync(file);
  const length = Number(bytes.readBigUInt64LE(0));
  const json = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'));
  const body = bytes.subarray(8 + length);
  const metadata = json.__metadata__ as Record<string, string>;
  const header = JSON.parse(metadata['nrnm.header']!);
  edit(header);
  metadata['nrnm.header'] = JSON.stringify(header);
  const tensors = Object.entries(json).filter(([name]) => name !== '__metadata__') as Array<
    [string, { dtype: string; shape: number[]; data_offsets: [number, number] }]
  >;
  const field = (text: string) => Buffer.from(`${text}\0`);
  let crc = 0;
  for (const [, t] of tensors) crc = crc32(body.subarray(t.data_offsets[0], t.data_offsets[1]), crc);
  for (const key of Object.keys(metadata).sort()) if (key !== 'nrnm.checksum') crc = crc32(Buffer.concat([field(key), field(metadata[key]!)]), crc);
  for (const [name, t] of tensors) crc = crc32(Buffer.concat([field(name), field(t.dtype), field(t.shape.join(','))]), crc);
  metadata['nrnm.checksum'] = `crc32:${crc.toString(16).padStart(8, '0')}`;
  let text = JSON.stringify(json);
  text += ' '.repeat((8 - ((8 + Buffer.byteLength(text)) % 8)) % 8); // keep the data 8-byte aligned
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(text), body]));
}

describe('train --resume with the flags of the run', () => {
  let tmp: string;
  let run: string;
  beforeAll(() => {
    ensureBuilt();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-resume-flags-'));
    run = path.join(tmp, 'run');
    expectSucceeded(cli(['train', ...RUN, '--epochs', '2', '--max-steps', '2', '--no-final-eval', '--quiet', '--out', run]));
    // The tampering test starts from this copy: other tests resume `run`.
    fs.cpSync(run, path.join(tmp, 'pristine'), { recursive: true });
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it.each([
    [['--task', 'classify-steps'], /--task classify-steps differs from the run's classify-sequence/],
    [['--backbone', 'gru'], /--backbone gru differs from the run's lstm/],
    [['--attention', 'linear'], /--attention linear differs from the run's self/],
    [['--hidden', '32'], /--hidden 32 differs from the run's 16/],
    [['--nhid', '32'], /--hidden 32 differs from the run's 16/],
    [['--lr', '0.5'], /--lr 0.5 differs from the run's 0.001/],
    [['--batch-size', '8'], /--batch-size 8 differs from the run's 16/],
  ])('refuses %j, naming both values', (flags, message) => {
    const r = cli(['train', '--resume', run, '--device', 'cpu', ...flags]);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/keeps its data, model and optimizer settings/);
    expect(r.code).toBe(2);
  });

  it('names every flag that differs at once', () => {
    const r = cli(['train', '--resume', run, '--device', 'cpu', '--backbone', 'rnn', '--heads', '2']);
    expect(r.stderr).toMatch(/--heads 2 differs from the run's 4; --backbone rnn differs from the run's lstm/);
    expect(r.code).toBe(2);
  });

  it('accepts flags equal to the stored ones (the same command line again)', () => {
    const r = cli(['train', '--resume', run, ...RUN, '--task', 'classify-sequence', '--epochs', '2', '--max-steps', '3', '--no-final-eval', '--quiet']);
    expectSucceeded(r);
    expect(r.stdout).toMatch(/done: 3 steps/);
  });

  it('a plateau run: its schedule flags given again are accepted, another warm-up refused; the plateau state goes on', () => {
    const plateau = path.join(tmp, 'plateau');
    const schedule = ['--scheduler', 'plateau', '--gamma', '0.5', '--plateau-patience', '0', '--monitor', 'loss', '--lr', '1e-6'];
    expectSucceeded(cli(['train', ...RUN, ...schedule, '--epochs', '3', '--max-steps', '14', '--no-final-eval', '--quiet', '--out', plateau]));
    const refused = cli(['train', '--resume', plateau, '--device', 'cpu', '--warmup', '3']);
    expect(refused.stderr).toMatch(/--warmup 3 differs from the run's 0/);
    expect(refused.code).toBe(2);
    // --gamma alone keeps the plateau (it is its factor), so the same flags resume.
    expectSucceeded(cli(['train', '--resume', plateau, '--device', 'cpu', '--gamma', '0.5', '--epochs', '3', '--no-final-eval', '--quiet']));
    const epochs = fs
      .readFileSync(path.join(plateau, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; lr: number; eval?: { loss: number } })
      .filter((m) => m.type === 'epoch');
    expect(epochs).toHaveLength(3);
    // ReduceLROnPlateau(patience 0) on the eval loss across the resume, as PyTorch's: halve after each epoch without a better loss.
    let lr = 1e-6;
    let best = Infinity;
    for (const e of epochs) {
      if (e.eval!.loss < best * (1 - 1e-4)) best = e.eval!.loss;
      else lr *= 0.5;
      expect(e.lr / lr).toBeCloseTo(1, 12);
    }
    // So small a rate barely moves the loss: the resumed epoch decayed it again, from the restored count.
    expect(epochs[2]!.lr).toBeLessThan(epochs[1]!.lr);
  });

  it('refuses a checkpoint whose stored progress is out of range, naming the file', () => {
    const copy = path.join(tmp, 'tampered');
    fs.cpSync(path.join(tmp, 'pristine'), copy, { recursive: true });
    const last = path.join(copy, 'last.nrnm');
    for (const [progress, why] of [
      [{ epoch: -5, batch: 'x', step: 1e300 }, /epoch must be a non-negative integer but is -5/],
      [{ epoch: 0, batch: 'x', step: 2 }, /batch must be a non-negative integer but is "x"/],
      [{ epoch: 0, batch: 0, step: 1e300 }, /step must be a non-negative integer but is 1e\+300/],
      [{ epoch: 0, batch: 0, step: 7 }, /step 7 differs from the 2 optimizer steps of its trainer state/],
      [{ epoch: 9, batch: 0, step: 2 }, /epoch 9 is past the 0 epochs of its trainer state/],
    ] as const) {
      fs.copyFileSync(path.join(tmp, 'pristine', 'last.nrnm'), last);
      editHeader(last, (h) => (h['progress'] = progress));
      const r = cli(['train', '--resume', copy, '--device', 'cpu']);
      expect(r.stderr).toContain(`${last}: the stored progress`);
      expect(r.stderr).toMatch(why!);
      expect(r.code).toBe(1);
    }
    // The same edit with the stored progress itself resumes: the rewrite is sound.
    fs.copyFileSync(path.join(tmp, 'pristine', 'last.nrnm'), last);
    editHeader(last, () => {});
    expectSucceeded(cli(['train', '--resume', copy, '--max-steps', '3', '--quiet', '--no-final-eval', '--device', 'cpu']));
  });
});
