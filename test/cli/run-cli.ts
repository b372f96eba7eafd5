/**
 * Runs the real command line (`node bin/nrnm-native ...`) as a child
 * process, after compiling dist/ when a source file is newer than it.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const root = path.resolve(__dirname, '..', '..');
export const bin = path.join(root, 'bin', 'nrnm-native');

function newest(dir: string): number {
  let t = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) t = Math.max(t, newest(p));
    else if (entry.name.endsWith('.ts')) t = Math.max(t, fs.statSync(p).mtimeMs);
  }
  return t;
}

/** Compiles src/ into dist/ when dist/cli/index.js is missing or older than a source file. */
export function ensureBuilt(): void {
  const cli = path.join(root, 'dist', 'cli', 'index.js');
  if (fs.existsSync(cli) && fs.statSync(cli).mtimeMs >= newest(path.join(root, 'src'))) return;
  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'pipe' });
  } catch (err) {
    // Type errors elsewhere in the tree still emit JavaScript; only a missing CLI is fatal.
    if (!fs.existsSync(cli)) throw err;
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const env = { ...process.env, NRNM_PROGRESS_INTERVAL: '0', FORCE_COLOR: '0' };

export function cli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: options.cwd ?? root, encoding: 'utf8', env: { ...env, ...options.env }, timeout: 120_000 });
  // A run that timed out or was killed has no exit code: say why with its stderr.
  const ended = r.error ? `\n[run-cli] ${r.error.message}` : r.signal ? `\n[run-cli] killed by ${r.signal}` : '';
  return { code: r.status, stdout: r.stdout, stderr: r.stderr + ended };
}

/** Expects exit code 0; a failure shows the run's stderr next to its code. */
export function expectSucceeded(r: CliResult): void {
  expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr }).toEqual({ code: 0, stderr: '' });
}

/** Starts the CLI, sends SIGINT once stdout shows `trigger`, and waits for the exit. */
export function cliInterrupted(args: string[], trigger: RegExp, options: { cwd?: string } = {}): Promise<CliResult & { signalled: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd ?? root, env });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (!signalled && trigger.test(stdout)) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr, signalled }));
  });
}

/** Control characters other than newline and tab (ANSI escapes, carriage returns). */
// eslint-disable-next-line no-control-regex -- control characters are what it finds
export const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;
