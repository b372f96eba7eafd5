/**
 * The addon in Node worker_threads: one after another, several at once beside
 * the main thread, and terminated during trainer.step / trainer.fit. Each
 * scenario runs real workers in a node process of its own
 * (test/helpers/worker-threads-scenario.js), so that a crash or an abort shows
 * as that process's signal and exit code.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

import { ensureBuilt } from '../cli/run-cli';

const scenario = path.join(__dirname, '..', 'helpers', 'worker-threads-scenario.js');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  report: unknown;
}

function run(name: string, args: object = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [scenario, name, JSON.stringify(args)], { env: { ...process.env, OMP_NUM_THREADS: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      resolve({ code, signal, stderr, report: line ? JSON.parse(line) : undefined });
    });
  });
}

/** A clean exit: no signal (SIGSEGV, SIGABRT), no C++ terminate, no V8 fatal error. */
function expectClean(r: Run): void {
  expect({
    code: r.code,
    signal: r.signal,
    stderr: r.stderr
      .split('\n')
      .filter((l) => !l.includes("device 'auto'"))
      .join('\n'),
  }).toEqual({
    code: 0,
    signal: null,
    stderr: '',
  });
}

interface Training {
  losses: number[];
  logits: number[];
}

/** The same training gives the same numbers in every thread (each has its own model). */
function expectSameTraining(actual: Training, expected: Training): void {
  expect(actual.losses).toHaveLength(expected.losses.length);
  actual.losses.forEach((l, i) => expect(l).toBeCloseTo(expected.losses[i], 5));
  expect(actual.logits).toHaveLength(expected.logits.length);
  actual.logits.forEach((l, i) => expect(l).toBeCloseTo(expected.logits[i], 5));
}

describe('worker threads', () => {
  beforeAll(() => ensureBuilt());

  it('trains in workers one after another, and in the main thread before and after them', async () => {
    const r = await run('sequential', { workers: 3, steps: 4 });
    expectClean(r);
    const { reference, workers, after } = r.report as { reference: Training; workers: Training[]; after: Training };
    expect(workers).toHaveLength(3);
    // Training moves the loss, so equal numbers are not an accident of an untrained model.
    expect(reference.losses[0]).not.toBeCloseTo(reference.losses[3], 3);
    for (const w of workers) expectSameTraining(w, reference);
    expectSameTraining(after, reference);
  });

  it('trains in several workers at once while the main thread trains too', async () => {
    const r = await run('concurrent', { workers: 3, steps: 4 });
    expectClean(r);
    const { reference, workers } = r.report as { reference: Training; workers: Training[] };
    expect(workers).toHaveLength(3);
    for (const w of workers) expectSameTraining(w, reference);
  });

  it('survives workers terminated during trainer.step and trainer.fit, without keeping their models', async () => {
    // hiddenSize 384: 10 MiB of parameters, about 40 MiB with gradients and
    // Adam's moments, so a model kept per terminated worker would show.
    const rounds = 8;
    const r = await run('terminate', { rounds, hiddenSize: 384, delayMs: 5 });
    expectClean(r);
    const report = (r.report as { rounds: unknown }).rounds as Array<{ role: string; code: number; stepping: number; rssMiB: number; mainLosses: number[] }>;
    expect(report).toHaveLength(rounds);
    for (const round of report) {
      expect(round.code).toBe(1); // terminated, not finished
      expect(round.stepping).toBeGreaterThanOrEqual(2); // ...while a native call ran
      expect(round.mainLosses.every(Number.isFinite)).toBe(true); // and the main thread trains on
    }
    expect(report.map((round) => round.role)).toEqual(expect.arrayContaining(['step-forever', 'fit-forever']));
    // After the first rounds filled the allocator's caches, resident memory stays flat.
    const growthMiB = report[rounds - 1].rssMiB - report[1].rssMiB;
    expect(growthMiB).toBeLessThan(40);
  });
});
