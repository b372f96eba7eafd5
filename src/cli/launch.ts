/**
 * `nrnm-native train --nproc N`: data-parallel training on this machine
 * without Python. Starts N copies of the same command as workers with the
 * variables torchrun would give them (RANK, WORLD_SIZE, LOCAL_RANK,
 * LOCAL_WORLD_SIZE) and a FileStore in a new temporary folder (no port is
 * opened). If one worker fails, the others are stopped and the command
 * exits with the failed worker's code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { STORE_FILE_ENV, availableCores } from '../distributed';
import { CliExit, usageError } from './flags';

/** argv without `--nproc N` / `--nproc=N` (the workers are single ranks). */
export function withoutNproc(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--nproc') i++;
    else if (!argv[i]!.startsWith('--nproc=')) out.push(argv[i]!);
  }
  return out;
}

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0);
}

/**
 * Refuses more workers than cores unless `oversubscribe`: each worker is a
 * whole process (a LibTorch, its threads, a copy of the model), and a
 * mistyped count would start workers until the OS refuses.
 */
export function checkNproc(nproc: number, oversubscribe: boolean, cores = availableCores()): void {
  if (nproc <= cores || oversubscribe) return;
  throw usageError(
    `--nproc ${nproc} would start more workers than the ${cores} cores this process may use; ` +
      `use --nproc ${cores} or fewer, or add --oversubscribe to start ${nproc} anyway`,
  );
}

/** Runs `argv` (the CLI's arguments after the program) as `nproc` ranks; resolves with the exit code. */
export async function launchWorkers(nproc: number, argv: string[], oversubscribe = false): Promise<number> {
  if (process.env['WORLD_SIZE'] !== undefined) {
    throw usageError('--nproc starts its own workers; leave it out when a launcher (torchrun) already started this one');
  }
  checkNproc(nproc, oversubscribe);
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-store-'));
  const args = [process.argv[1]!, ...withoutNproc(argv)];
  const children: ChildProcess[] = [];
  let failure: { rank: number; code: number } | undefined;
  const running = (): ChildProcess[] => children.filter((c) => c.exitCode === null && c.signalCode === null);
  let killTimer: NodeJS.Timeout | undefined;
  const stopOthers = (): void => {
    for (const c of running()) c.kill('SIGTERM');
    // A worker waiting in a collective may finish its step first; one that
    // does not answer at all is killed.
    killTimer ??= setTimeout(() => running().forEach((c) => c.kill('SIGKILL')), 10_000).unref();
  };
  // Ctrl-C reaches every worker (one process group): each stops at the same
  // step and rank 0 writes last.nrnm. The launcher itself waits for them.
  const ignoreInterrupt = (): void => {};
  process.on('SIGINT', ignoreInterrupt);
  const forwardTerm = (): void => stopOthers();
  process.on('SIGTERM', forwardTerm);
  try {
    const exits = Array.from({ length: nproc }, (_, rank) => {
      const child = spawn(process.execPath, args, {
        stdio: 'inherit',
        env: {
          ...process.env,
          RANK: String(rank),
          WORLD_SIZE: String(nproc),
          LOCAL_RANK: String(rank),
          LOCAL_WORLD_SIZE: String(nproc),
          [STORE_FILE_ENV]: path.join(storeDir, 'store'),
        },
      });
      children.push(child);
      return new Promise<void>((resolve) => {
        child.on('error', (err) => {
          failure ??= { rank, code: 1 };
          process.stderr.write(`nrnm-native: could not start rank ${rank}: ${err.message}\n`);
          stopOthers();
          resolve();
        });
        child.on('exit', (code, signal) => {
          const exit = exitCodeOf(code, signal);
          if (exit !== 0 && failure === undefined) {
            failure = { rank, code: exit };
            const how = signal ? `was killed by ${signal}` : `exited with code ${exit}`;
            process.stderr.write(`nrnm-native: rank ${rank} of ${nproc} ${how}; stopping the other ranks\n`);
            stopOthers();
          }
          resolve();
        });
      });
    });
    await Promise.all(exits);
  } finally {
    if (killTimer) clearTimeout(killTimer);
    process.off('SIGINT', ignoreInterrupt);
    process.off('SIGTERM', forwardTerm);
    fs.rmSync(storeDir, { recursive: true, force: true });
  }
  if (failure) throw new CliExit(failure.code);
  return 0;
}
