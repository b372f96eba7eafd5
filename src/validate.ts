/**
 * Option checks shared by the API, the trainer, the CLI and the data readers:
 * one message style everywhere,
 * "Expected <name> to be <what> but received <value>", and typos caught.
 */
import { NRNMError, argError } from './errors';

/** Throws ERR_ARG for keys of `options` that are not in `allowed`, suggesting the closest one. */
export function checkKeys(options: object | undefined, allowed: readonly string[], where: string): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object') throw argError(`${where} options`, 'an object', options);
  for (const key of Object.keys(options)) {
    if (allowed.includes(key)) continue;
    const hint = closest(key, allowed);
    const tail = hint === undefined ? `; expected one of ${allowed.join(', ')}` : `; did you mean '${hint}'?`;
    throw new NRNMError(`Unknown option '${key}' for ${where}${tail}`, 'ERR_ARG');
  }
}

/** An integer in [min, max]; `undefined` gives `fallback`. */
export function intOption(name: string, value: unknown, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range =
      max === Number.MAX_SAFE_INTEGER
        ? min === 0
          ? 'a non-negative integer'
          : min === 1
            ? 'a positive integer'
            : `an integer >= ${min}`
        : `an integer between ${min} and ${max}`;
    throw argError(name, range, value);
  }
  return value;
}

export function boolOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw argError(name, 'true or false', value);
  return value;
}

export function oneOf<T extends string | number>(name: string, value: unknown, allowed: readonly T[], fallback?: T): T {
  if (value === undefined && fallback !== undefined) return fallback;
  if (!(allowed as readonly unknown[]).includes(value)) {
    throw argError(name, `one of ${allowed.map((a) => (typeof a === 'string' ? `'${a}'` : String(a))).join(', ')}`, value);
  }
  return value as T;
}

export function stringOption(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw argError(name, 'a non-empty string (a path)', value);
  return value;
}

/** The allowed key nearest to `key` by edit distance (case-insensitive; snake_case read as camelCase), however far. */
export function nearestKey(key: string, allowed: readonly string[]): string | undefined {
  return closest(key, allowed, Infinity);
}

/** `snake_case` or small typos (edit distance below `limit`) -> the allowed key they most likely meant. */
function closest(key: string, allowed: readonly string[], limit = 3): string | undefined {
  const camel = key.replace(/[_-]([a-z])/g, (_, c: string) => c.toUpperCase());
  const lower = key.toLowerCase();
  for (const a of allowed) if (a === camel || a.toLowerCase() === lower) return a;
  let best: string | undefined;
  let bestDistance = limit;
  for (const a of allowed) {
    const d = editDistance(lower, a.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [a, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** 'Float32Array', 'Uint8Array' (also for a Buffer), ... or undefined; works across realms (jest, vm). */
export function typedArrayTag(x: unknown): string | undefined {
  if (!ArrayBuffer.isView(x) || x instanceof DataView) return undefined;
  return (x as unknown as { [Symbol.toStringTag]: string })[Symbol.toStringTag];
}
