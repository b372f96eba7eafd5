/**
 * The multi-machine path of data-parallel training: two "hosts" in network
 * namespaces joined by a veth pair, each running one rank of
 * `nrnm-native train` with the variables torchrun gives (RANK, WORLD_SIZE,
 * MASTER_ADDR, MASTER_PORT) and the interface named by GLOO_SOCKET_IFNAME.
 * Rank 0 hosts the TCPStore on its veth address; nothing goes over loopback
 * between the ranks, since each namespace has its own. Needs root and `ip`
 * (skipped with a printed reason otherwise).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { fashionMnistDirs } from '../../src/data/fashion-mnist';
import { bin, ensureBuilt, root } from './run-cli';

const haveFashion = fashionMnistDirs().some(
  (d) => fs.existsSync(path.join(d, 't10k-labels-idx1-ubyte.gz')) || fs.existsSync(path.join(d, 't10k-labels-idx1-ubyte')),
);

function ip(...args: string[]): { ok: boolean; stderr: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: r.status === 0, stderr: r.stderr ?? String(r.error) };
}

// Namespaces and links are named per test process so parallel runs do not meet.
const tag = String(process.pid % 100000);
const hosts = [
  { ns: `nrnm-a-${tag}`, link: `nrnm-a-${tag}`, addr: '10.231.0.1' },
  { ns: `nrnm-b-${tag}`, link: `nrnm-b-${tag}`, addr: '10.231.0.2' },
];

function setUpHosts(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (network namespaces need CAP_NET_ADMIN)';
  if (spawnSync('ip', ['-V']).status !== 0) return 'no `ip` command (iproute2)';
  for (const h of hosts) {
    const r = ip('netns', 'add', h.ns);
    if (!r.ok) return `ip netns add failed: ${r.stderr.trim()}`;
  }
  const steps: string[][] = [
    ['link', 'add', hosts[0].link, 'type', 'veth', 'peer', 'name', hosts[1].link],
    ...hosts.flatMap((h) => [
      ['link', 'set', h.link, 'netns', h.ns],
      ['-n', h.ns, 'addr', 'add', `${h.addr}/24`, 'dev', h.link],
      ['-n', h.ns, 'link', 'set', h.link, 'up'],
      ['-n', h.ns, 'link', 'set', 'lo', 'up'],
    ]),
  ];
  for (const step of steps) {
    const r = ip(...step);
    if (!r.ok) return `ip ${step.join(' ')} failed: ${r.stderr.trim()}`;
  }
  return undefined;
}

function tearDownHosts(): void {
  for (const h of hosts) ip('netns', 'del', h.ns); // deleting a namespace deletes its end of the veth pair
}

interface RankResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runRank(rank: number, out: string, port: number, timeoutS = 60): Promise<RankResult> {
  const env = {
    ...process.env,
    NRNM_PROGRESS_INTERVAL: '0',
    RANK: String(rank),
    WORLD_SIZE: '2',
    LOCAL_RANK: '0',
    LOCAL_WORLD_SIZE: '1',
    MASTER_ADDR: hosts[0].addr,
    MASTER_PORT: String(port),
    GLOO_SOCKET_IFNAME: hosts[rank].link,
  };
  const args = [
    'netns',
    'exec',
    hosts[rank].ns,
    process.execPath,
    bin,
    'train',
    '--epochs',
    '1',
    '--hidden',
    '16',
    '--device',
    'cpu',
    '--limit',
    '96',
    '--batch-size',
    '32',
    '--dist-timeout',
    String(timeoutS),
    '--out',
    out,
  ];
  return new Promise((resolve) => {
    const child = spawn('ip', args, { cwd: root, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('data-parallel training across two hosts (network namespaces)', () => {
  let tmp: string;
  let skipReason: string | undefined;
  beforeAll(() => {
    ensureBuilt();
    skipReason = haveFashion ? setUpHosts() : 'no Fashion-MNIST files (dataset-fashion-mnist)';
    if (skipReason) console.warn(`two-host test skipped: ${skipReason}`);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-two-hosts-'));
  });
  afterAll(() => {
    tearDownHosts();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('trains with one rank per host over the named interface; only rank 0 writes', async () => {
    if (skipReason) return;
    const port = 29000 + (process.pid % 1000);
    const outs = [path.join(tmp, 'host-a'), path.join(tmp, 'host-b')];
    const [r0, r1] = await Promise.all([runRank(0, outs[0], port), runRank(1, outs[1], port)]);
    expect(r0.stderr).not.toMatch(/error/i);
    expect(r1.stderr).not.toMatch(/error/i);
    expect([r0.code, r1.code]).toEqual([0, 0]);
    expect(r0.stdout).toMatch(/^done: 3 steps/m); // 96 rows, 32 per step (16 per rank)
    expect(r1.stdout).toBe(''); // rank 1 prints nothing
    expect(fs.existsSync(path.join(outs[0], 'last.nrnm'))).toBe(true);
    expect(fs.existsSync(outs[1])).toBe(false);
    const steps = fs
      .readFileSync(path.join(outs[0], 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((m) => m.type === 'step');
    expect(steps.map((s) => s.batchSize)).toEqual([32, 32, 32]);
    expect(steps.every((s) => s.allreduceMs > 0)).toBe(true);
  }, 240_000);

  it('a host that never joins fails the other within the timeout, naming what it waited for', async () => {
    if (skipReason) return;
    const port = 30000 + (process.pid % 1000);
    const out = path.join(tmp, 'alone');
    const started = performance.now();
    const r0 = await runRank(0, out, port, 10);
    expect(r0.code).not.toBe(0);
    expect(r0.stderr).toMatch(/NRNMError|rank|timed? ?out/i);
    expect((performance.now() - started) / 1000).toBeLessThan(60);
  }, 240_000);
});
