/**
 * Ctrl-C: the first SIGINT (or SIGTERM) aborts the returned signal so the
 * command can stop at a safe point (the Trainer finishes the current step
 * and writes last.nrnm); a second one exits at once.
 */
import type { Output } from './output';

export interface Interrupt {
  signal: AbortSignal;
  /** 130 after SIGINT, 143 after SIGTERM, 0 when not interrupted. */
  readonly exitCode: number;
  dispose(): void;
}

export function onInterrupt(out: Output, what: string): Interrupt {
  const controller = new AbortController();
  let exitCode = 0;
  const handler = (name: NodeJS.Signals): void => {
    const code = name === 'SIGTERM' ? 143 : 130;
    if (controller.signal.aborted) {
      out.clearBar();
      process.stderr.write(`nrnm-native: ${name} again, exiting now\n`);
      process.exit(code);
    }
    exitCode = code;
    out.clearBar();
    process.stderr.write(`nrnm-native: ${name}: ${what} (${name === 'SIGINT' ? 'Ctrl-C' : name} again to exit at once)\n`);
    controller.abort(new Error(`interrupted by ${name}`));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    get exitCode() {
      return exitCode;
    },
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
