/**
 * A Tensor that is never disposed (a prediction per step, left to the
 * collector as most callers do) frees its native memory with its handle in a
 * young-generation collection. Tensors once waited for a full collection (a
 * FinalizationRegistry), and resident memory grew over long runs
 * (bench/rss-growth.js). Measured in a process of its own.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

import { ensureBuilt } from '../cli/run-cli';

describe('tensor lifetime', () => {
  beforeAll(() => ensureBuilt());

  it('frees a tensor left to the collector in a young-generation collection', () => {
    const script = path.join(__dirname, '..', 'helpers', 'tensor-collected.js');
    const out = execFileSync(process.execPath, ['--expose-gc', script], {
      env: { ...process.env, NRNM_CPU_CACHE: '0' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { before, held, after } = JSON.parse(out.trim().split('\n').pop()!) as { before: number; held: number; after: number };
    expect(held - before).toBeGreaterThan(100); // the 128 MiB copy is resident
    expect(held - after).toBeGreaterThan(100); // and gone after minor collections
  });
});
