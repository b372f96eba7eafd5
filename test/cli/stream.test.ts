/**
 * `nrnm-native stream`: frames from stdin (JSON lines) or a .npy, a label per
 * frame, equal to what the stream API (and predict on each prefix) gives.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NRNMClassifier } from '../../src';
import { writeNpy } from '../../src/data';
import { bin, ensureBuilt, root } from './run-cli';

// `using` needs Symbol.dispose, which Node defines (as Symbol.for('nodejs.dispose')) in its own realm only, not in jest's.
const symbols = Symbol as unknown as { dispose?: symbol; asyncDispose?: symbol };
symbols.dispose ??= Symbol.for('nodejs.dispose');
symbols.asyncDispose ??= Symbol.for('nodejs.asyncDispose');

const F = 3;
const C = 4;
const T = 23; // memory updates at steps 10 and 20

let tmp: string;
let checkpoint: string;
let logits: Float32Array; // [2, T, C]: the logits of a sequence ending at each step
const x = Float32Array.from({ length: 2 * T * F }, (_, i) => Math.sin(i * 0.41) + 0.2 * Math.cos(i * 1.7)); // [2, T, F]

function run(args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, 'stream', '--checkpoint', checkpoint, '--device', 'cpu', ...args], {
    cwd: root,
    input,
    encoding: 'utf8',
    env: { ...process.env, NRNM_PROGRESS_INTERVAL: '0' },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function frame(b: number, t: number): number[] {
  return Array.from(x.subarray((b * T + t) * F, (b * T + t + 1) * F));
}

function label(b: number, t: number): number {
  const row = logits.subarray((b * T + t) * C, (b * T + t + 1) * C);
  return row.indexOf(Math.max(...row));
}

beforeAll(async () => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-stream-cli-'));
  checkpoint = path.join(tmp, 'model.nrnm');
  const model = new NRNMClassifier({ inputSize: F, classes: C, hiddenSize: 8, heads: 2, layers: 2, device: 'cpu', seed: 5 }).eval();
  await model.save(checkpoint);
  using s = model.stream();
  logits = (await s.push({ data: x, shape: [2, T, F] })).toArray() as Float32Array;
  model.dispose();
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('nrnm-native stream', () => {
  it('reads one frame [F] per stdin line and prints a label per frame (--json: with probabilities)', () => {
    const input = `${Array.from({ length: T }, (_, t) => JSON.stringify(frame(0, t))).join('\n')}\n\n`;
    const r = run(['--json'], input);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: number; labels: number[]; probabilities: number[][]; latencyMs: number });
    expect(lines).toHaveLength(T);
    lines.forEach((line, t) => {
      expect(line.step).toBe(t);
      expect(line.labels).toEqual([label(0, t)]);
      const row = Array.from(logits.subarray(t * C, (t + 1) * C));
      const max = Math.max(...row);
      const sum = row.reduce((a, v) => a + Math.exp(v - max), 0);
      line.probabilities[0]!.forEach((p, j) => expect(Math.abs(p - Math.exp(row[j]! - max) / sum)).toBeLessThan(1e-5));
      expect(line.latencyMs).toBeGreaterThanOrEqual(0);
    });
  });

  it('reads [B, F] frames for B sequences side by side', () => {
    const input = Array.from({ length: T }, (_, t) => JSON.stringify([frame(0, t), frame(1, t)])).join('\n');
    const r = run(['--quiet'], input);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout.trim().split('\n')).toEqual(Array.from({ length: T }, (_, t) => `${t} ${label(0, t)} ${label(1, t)}`));
  });

  it('plays a .npy (N, T, F) at --rate frames per second', () => {
    const file = path.join(tmp, 'clip.npy');
    writeNpy(file, x, [2, T, F]);
    const r = run(['--npy', file, '--rate', '500', '--quiet']);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout.trim().split('\n')).toEqual(Array.from({ length: T }, (_, t) => `${t} ${label(0, t)} ${label(1, t)}`));
    const one = path.join(tmp, 'one.npy');
    writeNpy(one, x.subarray(0, T * F), [T, F]);
    const r1 = run(['--npy', one]);
    expect(r1.code).toBe(0);
    expect(r1.stdout).toMatch(/reading frames of 3 values/);
    expect(r1.stdout.trim().split('\n').slice(1)).toEqual(Array.from({ length: T }, (_, t) => `${t} ${label(0, t)}`));
  });

  it('names the bad line, the wrong width and misused flags', () => {
    const bad = run([], `${JSON.stringify(frame(0, 0))}\n[1, 2]\n`);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/stdin line 2: expected a frame of 3 numbers/);
    const notJson = run([], 'hello\n');
    expect(notJson.code).toBe(1);
    expect(notJson.stderr).toMatch(/stdin line 1: not JSON/);
    const batch = run([], `${JSON.stringify(frame(0, 0))}\n${JSON.stringify([frame(0, 1), frame(1, 1)])}\n`);
    expect(batch.code).toBe(1);
    expect(batch.stderr).toMatch(/frame 1: 2 sequences but the stream started with 1/);
    const rate = run(['--rate', '30'], '');
    expect(rate.code).toBe(2);
    expect(rate.stderr).toMatch(/--rate applies to --npy/);
    const wide = path.join(tmp, 'wide.npy');
    writeNpy(wide, new Float32Array(4 * 5), [4, 5]);
    const w = run(['--npy', wide]);
    expect(w.code).toBe(2);
    expect(w.stderr).toMatch(/5 features per step but the model's input size is 3/);
  });
});
