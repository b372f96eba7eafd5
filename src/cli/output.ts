/**
 * What the commands print. Five modes:
 *   tty    a progress bar redrawn in place (stdout is a terminal)
 *   plain  periodic whole lines, no control characters (CI logs, pipes)
 *   json   one JSON object per line on stdout, nothing else on stdout
 *   quiet  only warnings and errors (stderr) and the final result
 *   silent only warnings and errors (data-parallel ranks other than 0)
 */
export type OutputMode = 'tty' | 'plain' | 'json' | 'quiet' | 'silent';

export interface OutputFlags {
  json?: boolean;
  quiet?: boolean;
  silent?: boolean;
}

export class Output {
  readonly mode: OutputMode;
  /** Seconds between two plain progress lines. */
  readonly plainInterval: number;
  #barShown = false;

  constructor(flags: OutputFlags, stream: NodeJS.WriteStream = process.stdout) {
    if (flags.silent) this.mode = 'silent';
    else if (flags.json) this.mode = 'json';
    else if (flags.quiet) this.mode = 'quiet';
    else this.mode = stream.isTTY && process.env['TERM'] !== 'dumb' ? 'tty' : 'plain';
    const interval = Number(process.env['NRNM_PROGRESS_INTERVAL']);
    this.plainInterval = Number.isFinite(interval) && interval >= 0 ? interval : 10;
  }

  /** A line for people (not in json or quiet mode). */
  info(text: string): void {
    if (this.mode === 'json' || this.mode === 'quiet' || this.mode === 'silent') return;
    this.clearBar();
    process.stdout.write(`${text}\n`);
  }

  /** A result line: printed in every mode but json and silent. */
  result(text: string): void {
    if (this.mode === 'json' || this.mode === 'silent') return;
    this.clearBar();
    process.stdout.write(`${text}\n`);
  }

  warn(text: string): void {
    this.clearBar();
    process.stderr.write(`nrnm-native: warning: ${text}\n`);
  }

  /** One JSON object per line (json mode only). */
  event(type: string, fields: Record<string, unknown>): void {
    if (this.mode !== 'json') return;
    process.stdout.write(`${JSON.stringify({ event: type, ...fields })}\n`); // NaN, Infinity: null
  }

  /** Redraws the bar line (tty mode). */
  bar(text: string): void {
    if (this.mode !== 'tty') return;
    const columns = process.stdout.columns || 100;
    const line = text.length >= columns ? text.slice(0, columns - 1) : text;
    process.stdout.write(`\r\x1b[2K${line}`);
    this.#barShown = true;
  }

  clearBar(): void {
    if (!this.#barShown) return;
    process.stdout.write('\r\x1b[2K');
    this.#barShown = false;
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}` : `${m}:${String(r).padStart(2, '0')}`;
}

export function barGraphic(fraction: number, width = 24): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.floor(f * width);
  return `[${'#'.repeat(full)}${full < width ? '>' : ''}${'.'.repeat(Math.max(0, width - full - 1))}]`;
}

/**
 * Progress of one pass (an epoch, a preprocessing run): a bar on a TTY,
 * a line every `plainInterval` seconds otherwise, nothing in json/quiet.
 */
export class ProgressLine {
  readonly #out: Output;
  readonly #label: string;
  #total: number;
  #lastDraw = 0;
  #lastLine: number;
  readonly #started: number;
  readonly #startDone: number;

  /** `startDone` items were done before `startedAt` (a performance.now() time). */
  constructor(out: Output, label: string, total: number, startDone = 0, startedAt = performance.now()) {
    this.#out = out;
    this.#label = label;
    this.#total = total;
    this.#startDone = startDone;
    this.#started = startedAt;
    this.#lastLine = performance.now();
  }

  /** Seconds left at the current rate. */
  eta(done: number): number {
    const elapsed = (performance.now() - this.#started) / 1000;
    const rate = (done - this.#startDone) / elapsed;
    return rate > 0 ? (this.#total - done) / rate : NaN;
  }

  update(done: number, details: string): void {
    const now = performance.now();
    const text = `${this.#label} ${barGraphic(done / this.#total)} ${done}/${this.#total} ${details} ETA ${formatDuration(this.eta(done))}`;
    if (this.#out.mode === 'tty') {
      if (now - this.#lastDraw < 100 && done < this.#total) return;
      this.#lastDraw = now;
      this.#out.bar(text);
    } else if (this.#out.mode === 'plain') {
      if ((now - this.#lastLine) / 1000 < this.#out.plainInterval || done >= this.#total) return;
      this.#lastLine = now;
      this.#out.info(`${this.#label} ${done}/${this.#total} ${details} ETA ${formatDuration(this.eta(done))}`);
    }
  }

  /** Ends the pass; `summary` replaces the bar. */
  done(summary?: string): void {
    this.#out.clearBar();
    if (summary) this.#out.info(summary);
  }
}
