/**
 * Data-parallel training with two real processes over c10d's Gloo on
 * 127.0.0.1, meeting through a FileStore in a fresh temporary folder (as
 * `nrnm-native train --nproc` does). Each rank is test/helpers/distributed-worker.js.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Trainer, distributedFromEnv, resolveDistributed } from '../../src';
import { ensureBuilt } from '../cli/run-cli';

const worker = path.join(__dirname, '..', 'helpers', 'distributed-worker.js');

interface WorkerResult {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
  report?: { rank: number; losses: number[]; steps: number; eval: Array<{ loss: number; accuracy: number }>; parameters: Record<string, string> };
}

function runWorker(args: object, env: Record<string, string>): Promise<WorkerResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [worker, JSON.stringify(args)], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      resolve({ code, stdout, stderr, seconds: (performance.now() - started) / 1000, ...(line ? { report: JSON.parse(line) } : {}) });
    });
  });
}

function rankEnv(rank: number, store: string): Record<string, string> {
  return { RANK: String(rank), WORLD_SIZE: '2', LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: '2', NRNM_STORE_FILE: store, OMP_NUM_THREADS: '1' };
}

function floats(base64: string): Float32Array {
  const b = Buffer.from(base64, 'base64');
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

describe('data-parallel training (2 ranks, Gloo on loopback)', () => {
  let dir: string;
  beforeAll(() => ensureBuilt());
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-dist-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('ends with bitwise-equal ranks, matches one process on the whole batch, and only rank 0 writes', async () => {
    // 160 rows, batches of 16 (8 per rank), 2 epochs: 20 steps.
    const args = (out: string) => ({ out, epochs: 2, batchSize: 16, seed: 5, rows: 160 });
    const store = path.join(dir, 'store');
    const outs = [0, 1].map((r) => path.join(dir, `rank${r}`));
    const [r0, r1] = await Promise.all([0, 1].map((r) => runWorker(args(outs[r]!), rankEnv(r, store))));
    const single = await runWorker(args(path.join(dir, 'single')), { OMP_NUM_THREADS: '1' });
    for (const r of [r0!, r1!, single]) expect(r.stderr).toBe('');
    const [a, b, s] = [r0!.report!, r1!.report!, single.report!];
    expect(a.steps).toBe(20);
    expect(b.steps).toBe(20);
    expect(b.parameters).toEqual(a.parameters); // bitwise
    let worst = 0;
    for (const name of Object.keys(s.parameters)) {
      const x = floats(a.parameters[name]!);
      const y = floats(s.parameters[name]!);
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
    }
    expect(worst).toBeLessThan(1e-6);
    expect(worst).toBeGreaterThanOrEqual(0);
    expect(b.losses).toEqual(a.losses); // the loss of all ranks' batches
    a.losses.forEach((loss, i) => expect(Math.abs(loss - s.losses[i]!)).toBeLessThan(1e-6));
    // Evaluation: each rank evaluates a part, the sums are global.
    expect(a.eval[1]!.accuracy).toBeCloseTo(s.eval[1]!.accuracy, 6);
    expect(a.eval[1]!.loss).toBeCloseTo(s.eval[1]!.loss, 5);
    expect(fs.readdirSync(outs[0]!).sort()).toEqual(['best.nrnm', 'last.nrnm']);
    expect(fs.existsSync(outs[1]!)).toBe(false);

    // Resume rank 0's checkpoint in this one process (another world size).
    const { trainer, progress } = await Trainer.resume(path.join(outs[0]!, 'last.nrnm'), { device: 'cpu' });
    expect(progress).toMatchObject({ epoch: 2, batch: 0, step: 20 });
    expect(trainer.counts.steps).toBe(20);
    trainer.dispose();
    trainer.model.dispose();
  });

  it('stops the other rank quickly, naming the rank that was killed', async () => {
    const store = path.join(dir, 'store');
    const args = { out: path.join(dir, 'out'), epochs: 50, batchSize: 16, seed: 1, rows: 160, stopAfterSteps: 3, timeout: 100 };
    const [r0, r1] = await Promise.all([0, 1].map((r) => runWorker(args, rankEnv(r, store))));
    expect(r1!.stdout).toContain('rank 1 stops');
    expect(r1!.code).toBeNull(); // killed by SIGKILL
    expect(r0!.code).toBe(1);
    expect(r0!.stderr).toContain('rank 0 of 2:');
    expect(r0!.stderr).toContain('rank 1 stopped');
    expect(r0!.seconds).toBeLessThan(60); // far below the 100 s timeout
  });

  it('refuses ranks started with other model or trainer options, naming what differs, before any collective', async () => {
    const store = path.join(dir, 'store');
    const args = (hiddenSize: number, lr: number) => ({ out: path.join(dir, 'out'), epochs: 1, batchSize: 16, seed: 1, rows: 32, hiddenSize, lr, timeout: 20 });
    const [r0, r1] = await Promise.all([runWorker(args(16, 0.01), rankEnv(0, store)), runWorker(args(32, 0.02), rankEnv(1, store))]);
    for (const [rank, r] of [r0!, r1!].entries()) {
      expect(r.code).toBe(1); // an error, not SIGABRT
      expect(r.stderr).toContain(
        `ERR_DISTRIBUTED rank ${rank} of 2: the ranks disagree: rank 1 has hiddenSize 32, rank 0 has 16; rank 1 has trainer lr 0.02, rank 0 has 0.01.`,
      );
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('refuses ranks that would run other steps (another batch size), naming it, before the first step', async () => {
    const store = path.join(dir, 'store');
    const args = (batchSize: number) => ({ out: path.join(dir, 'out'), epochs: 1, batchSize, seed: 1, rows: 32, timeout: 20 });
    const [r0, r1] = await Promise.all([runWorker(args(16), rankEnv(0, store)), runWorker(args(8), rankEnv(1, store))]);
    for (const [rank, r] of [r0!, r1!].entries()) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        `ERR_DISTRIBUTED rank ${rank} of 2: the ranks disagree: rank 1 has fit batchSize 8, rank 0 has 16; rank 1 has fit batches per epoch 4, rank 0 has 2.`,
      );
    }
  });

  it('refuses ranks that would shard other data orders (another data-order seed), naming it', async () => {
    const store = path.join(dir, 'store');
    const args = (seed: number) => ({ out: path.join(dir, 'out'), epochs: 1, batchSize: 16, seed, rows: 32, timeout: 20 });
    const [r0, r1] = await Promise.all([runWorker(args(1), rankEnv(0, store)), runWorker(args(2), rankEnv(1, store))]);
    for (const [rank, r] of [r0!, r1!].entries()) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`ERR_DISTRIBUTED rank ${rank} of 2: the ranks disagree: rank 1 has fit data-order seed 2, rank 0 has 1.`);
    }
  });
});

describe('distributed options', () => {
  it("reads torchrun's environment", () => {
    const env = {
      RANK: '1',
      WORLD_SIZE: '4',
      LOCAL_RANK: '1',
      LOCAL_WORLD_SIZE: '2',
      MASTER_ADDR: '10.0.0.1',
      MASTER_PORT: '29400',
      TORCHELASTIC_USE_AGENT_STORE: 'True',
      TORCHELASTIC_RESTART_COUNT: '2',
      GLOO_SOCKET_IFNAME: 'eth1',
    };
    const d = resolveDistributed(distributedFromEnv(env)!);
    expect(d).toEqual({
      rank: 1,
      worldSize: 4,
      localRank: 1,
      localWorldSize: 2,
      storeFile: '',
      masterAddr: '10.0.0.1',
      masterPort: 29400,
      hostStore: false,
      storePrefix: 'nrnm/2',
      interface: 'eth1',
      timeout: 300,
      backend: 'gloo',
    });
  });

  it('is off for one process and checks what it reads', () => {
    expect(distributedFromEnv({})).toBeUndefined();
    expect(distributedFromEnv({ WORLD_SIZE: '1', RANK: '0' })).toBeUndefined();
    expect(() => distributedFromEnv({ WORLD_SIZE: '2' })).toThrow(/RANK is not/);
    expect(() => distributedFromEnv({ WORLD_SIZE: '2', RANK: '2' })).toThrow(/RANK=2 must be an integer between 0 and 1/);
    expect(() => resolveDistributed({ rank: 0, worldSize: 2, timeout: 0 })).toThrow(/distributed.timeout/);
    expect(() => resolveDistributed({ rank: 0, worldSize: 2, store: { file: '' } })).toThrow(/distributed.store.file/);
  });
});
