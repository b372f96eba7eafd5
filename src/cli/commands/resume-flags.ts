/**
 * `train --resume`: the one rule for the flags that describe the run (data,
 * model, optimizer, fit settings). A resumed run keeps what it was started
 * with, so each such flag given again must equal the stored value (the
 * checkpoint's options, else config.json's); a flag that differs is refused
 * naming both values. Only --epochs, --max-steps, --eval-every, --early-stop, --device and
 * the output flags change on resume.
 */
import * as path from 'node:path';

import type { Command } from 'commander';

import type { CheckpointHeader } from '../../checkpoint';
import type { TrainerOptions } from '../../trainer';
import { FLAG_NAMES, type ModelFlagValues, type TrainerFlagValues, modelFlagOverrides, resolveTrainerFlags } from '../model-flags';
import { usageError } from '../flags';
import type { TrainFlags } from './train-flags';

/** Every flag that describes the run: given with --resume, it must equal the stored value. */
const RUN_FLAGS = [
  'dataset', 'data', 'split', 'data_mode', 'limit', 'preprocessed', 'unpadded', 'seed', 'batchSize', 'out', 'sb',
  'variant', 'layers', 'hidden', 'blockLength', 'stride', 'heads', 'aggregation', 'zoneout', 'zoneoutMode', 'memoryDropout',
  'memoryDropoutMode', 'aggregationDropout', 'init', 'head', 'task', 'backbone', 'attention', 'nlayers', 'nhid', 'bl', 'dm',
  'lr', 'weightDecay', 'wd', 'optimizer', 'clip', 'scheduler', 'stepSize', 'gamma', 'precision',
  'tMax', 'minLr', 'plateauPatience', 'warmup', 'monitor',
] as const; // prettier-ignore

/** What the run being resumed was started with. */
export interface StoredRun {
  dir: string;
  config: Record<string, unknown>;
  header: CheckpointHeader;
}

interface Difference {
  flag: string;
  given: unknown;
  stored: unknown;
}

function show(value: unknown): string {
  if (value === undefined) return "(the dataset's default)";
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function same(given: unknown, stored: unknown): boolean {
  return given === stored || (typeof given === 'number' && typeof stored === 'number' && Object.is(given, stored));
}

/** Throws a usage error listing every flag given with --resume that differs from the stored run. */
export function checkResumeFlags(flags: TrainFlags, command: Command, stored: StoredRun): void {
  const given = new Set<string>(RUN_FLAGS.filter((name) => command.getOptionValueSource(name) === 'cli'));
  if (given.size === 0) return;
  const explicit = Object.fromEntries([...given].map((name) => [name, (flags as unknown as Record<string, unknown>)[name]])) as Partial<TrainFlags>;
  const differences: Difference[] = [];
  const compare = (flag: string, value: unknown, storedValue: unknown) => {
    if (!same(value, storedValue)) differences.push({ flag, given: value, stored: storedValue });
  };
  // Model and trainer options, aliases (--nhid, --wd, ...) resolved as for a new run.
  const model = modelFlagOverrides(explicit as ModelFlagValues) as Record<string, unknown>;
  for (const [key, value] of Object.entries(model)) compare(FLAG_NAMES[key] ?? key, value, (stored.header.model as unknown as Record<string, unknown>)[key]);
  const storedTrainer = stored.header.trainer ?? (stored.config['trainer'] as Record<string, unknown> | undefined) ?? {};
  // Over the stored options, as a flag given to a new run goes over the defaults (--gamma keeps a plateau schedule).
  const trainer = resolveTrainerFlags(explicit as TrainerFlagValues, {
    model: {},
    trainer: storedTrainer as TrainerOptions,
    epochs: 0,
    batchSize: 0,
    evalEvery: 0,
    variant: 'official',
  });
  for (const [key, value] of Object.entries(trainer)) compare(FLAG_NAMES[key] ?? key, value, storedTrainer[key]);
  if (given.has('variant')) compare('--variant', explicit.variant, stored.config['variant']);
  // Data and fit settings, from config.json.
  const data = (stored.config['data'] ?? {}) as Record<string, unknown>;
  const fit = (stored.config['fit'] ?? {}) as Record<string, unknown>;
  const cwd = typeof stored.config['cwd'] === 'string' ? stored.config['cwd'] : process.cwd();
  for (const name of ['dataset', 'limit', 'preprocessed', 'unpadded'] as const) {
    if (given.has(name)) compare(`--${name}`, explicit[name], data[name]);
  }
  if (given.has('split') || given.has('data_mode')) {
    compare(given.has('split') ? '--split' : '--data_mode', explicit.split ?? explicit.data_mode, data['split']);
  }
  if (given.has('data')) {
    const storedData = typeof data['data'] === 'string' ? path.resolve(cwd, data['data']) : undefined;
    compare('--data', path.resolve(explicit.data!), storedData);
  }
  if (given.has('seed')) compare('--seed', explicit.seed, fit['seed']);
  if (given.has('batchSize')) compare('--batch-size', explicit.batchSize, fit['batchSize']);
  if (given.has('out')) compare('--out', path.resolve(explicit.out!), stored.dir);
  if (given.has('sb')) compare('--sb', path.resolve('runs', explicit.sb!), stored.dir);
  if (differences.length === 0) return;
  const list = differences.map((d) => `${d.flag} ${show(d.given)} differs from the run's ${show(d.stored)}`).join('; ');
  throw usageError(
    `${list}: the run in ${stored.dir} keeps its data, model and optimizer settings when resumed; leave ${differences.length === 1 ? 'that flag' : 'those flags'} out or give the run's value (only --epochs, --max-steps, --eval-every, --early-stop, --device and the output flags change)`,
  );
}
