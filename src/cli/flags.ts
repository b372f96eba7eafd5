/**
 * Flag value parsers for commander. Each throws InvalidArgumentError, which
 * commander turns into "error: option '--hidden <n>' argument '0' is
 * invalid. Expected a positive integer." and the CLI into exit code 2.
 */
import { InvalidArgumentError, Option } from 'commander';

import { NRNMError } from '../errors';

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('Expected a positive integer.');
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('Expected a non-negative integer.');
  return n;
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('Expected a positive number (e.g. 0.001 or 1e-3).');
  return n;
}

export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('Expected a number >= 0 (e.g. 0.0001 or 1e-4).');
  return n;
}

export function probability(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n >= 1) throw new InvalidArgumentError('Expected a probability in [0, 1).');
  return n;
}

export function deviceFlag(value: string): string {
  if (!/^(auto|cpu|cuda|cuda:\d+)$/.test(value)) throw new InvalidArgumentError('Allowed values are auto, cpu, cuda and cuda:N (e.g. cuda:1).');
  return value;
}

/** A flag with a fixed set of values; commander lists them in --help and in the error. */
export function choice(flags: string, description: string, values: readonly string[], defaultValue?: string): Option {
  const option = new Option(flags, description).choices(values);
  if (defaultValue !== undefined) option.default(defaultValue);
  return option;
}

/** A flag with a fixed set of values accepted in any letter case (for the official script's CV/CS). */
export function caseInsensitiveChoice(values: readonly string[]): (value: string) => string {
  return (value: string) => {
    const v = value.toLowerCase();
    if (!values.includes(v)) throw new InvalidArgumentError(`Allowed choices are ${values.join(', ')} (any letter case).`);
    return v;
  };
}

/** A usage error (exit code 2) that names the flag. */
export function usageError(message: string): NRNMError {
  return new NRNMError(message, 'ERR_ARG');
}

/** Rewrites API option names in an ERR_ARG message into the flags that set them. */
export function withFlagNames(err: unknown, names: Record<string, string>): unknown {
  if (!(err instanceof NRNMError) || err.code !== 'ERR_ARG') return err;
  let message = err.message;
  for (const [name, flag] of Object.entries(names)) message = message.replace(new RegExp(`\\b${name}\\b`, 'g'), flag);
  return new NRNMError(message, 'ERR_ARG', { cause: err });
}

/** Ends the command with an exit code after its own message was printed (130 for Ctrl-C). */
export class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message = '',
  ) {
    super(message);
    this.name = 'CliExit';
  }
}
