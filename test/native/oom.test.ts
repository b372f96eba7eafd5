/**
 * A real allocation failure (a model whose weights need 233 TiB, more than
 * any x86-64 address space, so malloc refuses it whatever the overcommit
 * policy and nothing is touched) is an NRNMError with code ERR_OOM, with
 * the caching CPU allocator and without it (NRNM_CPU_CACHE=0, where
 * LibTorch 1.x's own allocator failed with a plain error: ERR_NATIVE). Each
 * setting in a process of its own: the allocator is chosen once per process.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

import { ensureBuilt } from '../cli/run-cli';

const dist = path.join(__dirname, '..', '..', 'dist');

const script = `
const { NRNMClassifier } = require(${JSON.stringify(dist)});
try {
  new NRNMClassifier({ inputSize: 4, classes: 4, hiddenSize: 4000000, layers: 1 });
  console.log(JSON.stringify({ created: true }));
} catch (err) {
  console.log(JSON.stringify({ name: err.name, code: err.code, message: err.message }));
}
`;

function attempt(env: Record<string, string>): { created?: boolean; name?: string; code?: string; message?: string } {
  const out = execFileSync(process.execPath, ['-e', script], { env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out.trim().split('\n').pop()!);
}

describe('allocation failures', () => {
  beforeAll(() => ensureBuilt());

  it.each([
    ['with the caching CPU allocator', {}],
    ['without it (NRNM_CPU_CACHE=0)', { NRNM_CPU_CACHE: '0' }],
  ])('are ERR_OOM %s', (_, env) => {
    const r = attempt(env);
    expect(r.created).toBeUndefined();
    expect(r.name).toBe('NRNMError');
    expect(r.code).toBe('ERR_OOM');
    // What was asked for, and what to do.
    expect(r.message).toMatch(/new NRNMClassifier: out of host memory: cannot allocate 256000000000000 bytes/);
    expect(r.message).toMatch(/lower the batch size or the hidden size/);
  });
});
