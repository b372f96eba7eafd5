/**
 * `nrnm-native train --nproc 2` (workers started by the CLI itself) and the
 * torchrun form, on small Fashion-MNIST runs: one run directory written by
 * rank 0 only, and a killed worker stopping the whole command.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { fashionMnistDirs } from '../../src/data/fashion-mnist';
import { bin, cli, ensureBuilt, expectSucceeded, root } from './run-cli';

const haveFashion = fashionMnistDirs().some(
  (d) => fs.existsSync(path.join(d, 't10k-labels-idx1-ubyte.gz')) || fs.existsSync(path.join(d, 't10k-labels-idx1-ubyte')),
);
const fashionIt = haveFashion ? it : it.skip;
const haveTorchrun = spawnSync('/usr/bin/python3', ['-c', 'import torch.distributed.run'], { stdio: 'ignore' }).status === 0;
const torchrunIt = haveFashion && haveTorchrun ? it : it.skip;
if (!haveTorchrun) console.warn('no torchrun (/usr/bin/python3 with torch): skipping the torchrun run');

const SMALL = ['--hidden', '16', '--device', 'cpu', '--limit', '96', '--batch-size', '32'];

function stepRecords(run: string): Array<{ step: number; batchSize: number }> {
  return fs
    .readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((r) => r.type === 'step');
}

/** The pid of the child of `parent` whose environment has RANK=`rank`. */
function workerPid(parent: number, rank: number): number | undefined {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== parent) continue;
      const env = fs.readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (env.includes(`RANK=${rank}`)) return Number(entry);
    } catch {
      // the process ended meanwhile
    }
  }
  return undefined;
}

describe('train --nproc', () => {
  let tmp: string;
  beforeAll(() => ensureBuilt());
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-cli-dist-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  fashionIt('trains with 2 workers into one run directory that rank 0 writes', () => {
    const run = path.join(tmp, 'run');
    const r = cli(['train', '--nproc', '2', '--epochs', '2', ...SMALL, '--out', run]);
    expect(r.stderr).not.toMatch(/error/i);
    expectSucceeded(r);
    expect(r.stdout.match(/^run directory:/gm)).toHaveLength(1); // rank 0 prints, rank 1 is silent
    expect(r.stdout.match(/^done: 6 steps/gm)).toHaveLength(1);
    const files = fs.readdirSync(run).sort();
    expect(files.filter((f) => f.startsWith('events.out.tfevents.'))).toHaveLength(1); // rank 0's TensorBoard file only
    expect(files.filter((f) => !f.startsWith('events.out.tfevents.'))).toEqual([
      'best.nrnm',
      'config.json',
      'confusion.svg',
      'curves.svg',
      'eval.json',
      'last.nrnm',
      'metrics.jsonl',
    ]);
    const steps = stepRecords(run);
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]); // 96 rows / 32 per step (16 per rank), twice
    expect(steps.every((s) => s.batchSize === 32)).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8')).distributed).toEqual({ worldSize: 2 });

    // Resume the 2-rank run in one process (another world size).
    const resumed = cli(['train', '--resume', run, '--epochs', '3']);
    expectSucceeded(resumed);
    expect(stepRecords(run).map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  fashionIt('stops every worker and exits with the code of the one that failed', async () => {
    const child = spawn(process.execPath, [bin, 'train', '--nproc', '2', '--epochs', '200', ...SMALL, '--out', path.join(tmp, 'run')], {
      cwd: root,
      env: { ...process.env, NRNM_PROGRESS_INTERVAL: '0' },
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const killed = new Promise<void>((resolve) => {
      child.stdout.on('data', (d) => {
        stdout += String(d);
        if (!/epoch 1\/200/.test(stdout)) return;
        const pid = workerPid(child.pid!, 1);
        if (pid !== undefined) {
          process.kill(pid, 'SIGKILL');
          resolve();
        }
      });
    });
    const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await killed;
    const started = performance.now();
    const code = await exit;
    expect(code).toBe(137); // 128 + SIGKILL, the failed worker's status
    expect(stderr).toContain('rank 1 of 2 was killed by SIGKILL; stopping the other ranks');
    expect((performance.now() - started) / 1000).toBeLessThan(60);
    expect(workerPid(child.pid!, 0)).toBeUndefined();
  });

  it('refuses --nproc above the cores unless --oversubscribe', () => {
    const cores = os.availableParallelism();
    const r = cli(['train', '--nproc', String(cores + 1), ...SMALL, '--out', path.join(tmp, 'run')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `nrnm-native: --nproc ${cores + 1} would start more workers than the ${cores} cores this process may use; ` +
        `use --nproc ${cores} or fewer, or add --oversubscribe to start ${cores + 1} anyway\n`,
    );
    expect(fs.existsSync(path.join(tmp, 'run'))).toBe(false);
    expect(cli(['train', '--help']).stdout).toContain('--oversubscribe');
  });

  fashionIt('says in one line that the store port is held by another program', async () => {
    // A listener on all interfaces, as another program (or a stale run) would hold MASTER_PORT.
    const server = net.createServer(() => {});
    await new Promise<void>((resolve) => server.listen(0, resolve));
    const port = (server.address() as net.AddressInfo).port;
    try {
      // Rank 0 refuses the port before it connects anywhere: a blocked event loop here does not matter.
      const r = cli(['train', ...SMALL, '--dist-timeout', '5', '--out', path.join(tmp, 'run')], {
        env: { RANK: '0', WORLD_SIZE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port) },
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^nrnm-native: rank 0 of 2: port ${port} is in use .*another MASTER_PORT.*\n$`));
    } finally {
      server.close();
    }
  });

  torchrunIt('runs under torchrun (python -m torch.distributed.run --no_python)', () => {
    const run = path.join(tmp, 'torchrun');
    const r = spawnSync(
      '/usr/bin/python3',
      // Underscored flags and --redirects/--tee 1: what Debian's torchrun 1.13
      // accepts under Python 3.11 (README); 2.x takes them too.
      [
        '-m',
        'torch.distributed.run',
        '--standalone',
        '--nproc_per_node',
        '2',
        '--redirects',
        '1',
        '--tee',
        '1',
        '--no_python',
        process.execPath,
        bin,
        'train',
        '--epochs',
        '1',
        ...SMALL,
        '--out',
        run,
      ],
      { cwd: root, encoding: 'utf8', timeout: 180_000, env: { ...process.env, NRNM_PROGRESS_INTERVAL: '0' } },
    );
    expect(r.stderr).not.toMatch(/Traceback|NRNMError/);
    expect(r.status).toBe(0);
    expect(stepRecords(run).map((s) => s.batchSize)).toEqual([32, 32, 32]);
    expect(fs.existsSync(path.join(run, 'last.nrnm'))).toBe(true);
  });
});
