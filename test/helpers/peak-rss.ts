/**
 * Runs one reader call in a fresh Node process and reports its peak resident
 * memory (`process.resourceUsage().maxRSS`) and the error it threw, so a test
 * can check that memory follows the input file rather than what it declares.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

export interface PeakRssResult {
  /** Peak resident set of the child, in bytes. */
  maxRss: number;
  /** The error the call threw (name, code, message), or null if it returned. */
  error: { name: string; code?: string; message: string } | null;
}

const REGISTER = path.join(__dirname, 'ts-register.js');

/**
 * Calls `exported(...args)` from the TypeScript module `modulePath` (relative
 * to the repository root) in a child process; awaits it if it is a promise.
 */
export function peakRss(modulePath: string, exported: string, args: unknown[]): PeakRssResult {
  const root = path.join(__dirname, '..', '..');
  const script = `
    (async () => {
      const mod = require(${JSON.stringify(path.join(root, modulePath))});
      let error = null;
      try {
        await mod[${JSON.stringify(exported)}](...${JSON.stringify(args)});
      } catch (e) {
        error = { name: e.name, code: e.code, message: String(e.message) };
      }
      process.stdout.write(JSON.stringify({ maxRss: process.resourceUsage().maxRSS * 1024, error }));
    })();`;
  const child = spawnSync(process.execPath, ['-r', REGISTER, '-e', script], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (child.status !== 0) throw new Error(`child failed (status ${child.status}, signal ${child.signal}): ${child.stderr}`);
  return JSON.parse(child.stdout) as PeakRssResult;
}
