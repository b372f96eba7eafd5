/**
 * `train --config run.json`: a run's settings from a file, in the form of
 * the config.json every run writes into its run directory (so an earlier
 * run's config.json repeats it exactly). Its sections use the API's option
 * names and checks, the schema the flags map onto (FLAG_NAMES):
 *
 *   data     dataset, data, split, limit, preprocessed, unpadded (the data flags)
 *   model    NRNMClassifier options (resolveModelOptions)
 *   trainer  Trainer options (resolveTrainerOptions)
 *   fit      epochs, batchSize, seed, evalEvery, maxSteps, earlyStop
 *   variant, device
 *
 * and what a run records about itself (command, cwd, createdAt, versions,
 * dataset, resumes, distributed), which is read past. Flags given on the
 * command line override the file; a relative path is relative to the
 * file's `cwd` when it has one (a run's config.json does), else to the
 * current directory. An unknown key is an error naming the key and the
 * nearest valid one.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { NRNMError, argError } from '../../errors';
import type { NRNMModelOptions, TrainerOptions } from '../../index';
import { MODEL_KEYS } from '../../options';
import { TRAINER_KEYS } from '../../trainer';
import { boolOption, intOption, nearestKey, oneOf, stringOption } from '../../validate';
import { DATASET_KINDS, NTU_SPLITS, type DataFlags } from '../data';

const FILE_KEYS = ['data', 'model', 'trainer', 'fit', 'variant', 'device'] as const;
/** What a run writes about itself into config.json: accepted, not used. */
const RECORD_KEYS = ['command', 'cwd', 'createdAt', 'versions', 'dataset', 'resumes', 'distributed'] as const;
const DATA_KEYS = ['dataset', 'data', 'split', 'limit', 'preprocessed', 'unpadded'] as const;
/** The fit settings a run records (FitOptions' plain values). */
export const FIT_SETTING_KEYS = ['epochs', 'batchSize', 'seed', 'evalEvery', 'maxSteps', 'earlyStop'] as const;
const FILE_TRAINER_KEYS = TRAINER_KEYS.filter((k) => k !== 'distributed');

export interface FitSettings {
  epochs?: number;
  batchSize?: number;
  seed?: number;
  evalEvery?: number;
  maxSteps?: number;
  earlyStop?: number;
}

/** A config file, checked: each section holds only the keys it names. */
export interface RunConfigFile {
  file: string;
  data: Partial<DataFlags>;
  model: Partial<NRNMModelOptions>;
  trainer: TrainerOptions;
  fit: FitSettings;
  variant?: 'official' | 'clean';
  device?: string;
}

function checkSection(file: string, section: string | undefined, value: unknown, allowed: readonly string[]): Record<string, unknown> {
  const where = section === undefined ? file : `${file} "${section}"`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new NRNMError(`${where}: expected an object but received ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}`, 'ERR_ARG');
  }
  for (const key of Object.keys(value)) {
    if (allowed.includes(key)) continue;
    const near = nearestKey(key, allowed);
    throw new NRNMError(`Unknown key '${key}' in ${where}${near === undefined ? '' : `; did you mean '${near}'?`}`, 'ERR_ARG');
  }
  return value as Record<string, unknown>;
}

/** The message of a bad value names the file and section: "run.json "fit": Expected epochs to be ...". */
function inFile<T>(where: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof NRNMError) throw new NRNMError(`${where}: ${err.message}`, err.code);
    throw err;
  }
}

function dataSection(file: string, value: unknown, base: string): Partial<DataFlags> {
  const d = checkSection(file, 'data', value, DATA_KEYS);
  const where = `${file} "data"`;
  return inFile(where, () => {
    const out: Partial<DataFlags> = {};
    const resolved = (name: string, v: unknown) => path.resolve(base, stringOption(name, v));
    if (d['dataset'] !== undefined) out.dataset = oneOf('dataset', d['dataset'], DATASET_KINDS);
    if (d['data'] !== undefined && d['data'] !== null) out.data = resolved('data', d['data']);
    if (d['split'] !== undefined && d['split'] !== null) out.split = oneOf('split', d['split'], NTU_SPLITS);
    if (d['limit'] !== undefined && d['limit'] !== null) out.limit = intOption('limit', d['limit'], 0, 1);
    if (d['preprocessed'] !== undefined && d['preprocessed'] !== null) out.preprocessed = resolved('preprocessed', d['preprocessed']);
    if (d['unpadded'] !== undefined && boolOption('unpadded', d['unpadded'], false)) out.unpadded = true;
    return out;
  });
}

function fitSection(file: string, value: unknown): FitSettings {
  const f = checkSection(file, 'fit', value, FIT_SETTING_KEYS);
  return inFile(`${file} "fit"`, () => {
    const out: FitSettings = {};
    for (const key of FIT_SETTING_KEYS) {
      if (f[key] !== undefined) out[key] = intOption(key, f[key], 0, key === 'seed' ? 0 : 1);
    }
    return out;
  });
}

/** Reads and checks `file`; values are checked again where they are used (resolveModelOptions, the Trainer). */
export function readRunConfig(file: string): RunConfigFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new NRNMError(`--config ${file}: ${(err as Error).message}`, 'ERR_NOT_FOUND');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new NRNMError(`--config ${file} is not valid JSON: ${(err as Error).message}`, 'ERR_FORMAT');
  }
  const top = checkSection(file, undefined, json, [...FILE_KEYS, ...RECORD_KEYS]);
  const base = typeof top['cwd'] === 'string' ? top['cwd'] : process.cwd();
  const out: RunConfigFile = {
    file,
    data: top['data'] === undefined ? {} : dataSection(file, top['data'], base),
    model: top['model'] === undefined ? {} : (checkSection(file, 'model', top['model'], MODEL_KEYS) as Partial<NRNMModelOptions>),
    trainer: top['trainer'] === undefined ? {} : (checkSection(file, 'trainer', top['trainer'], FILE_TRAINER_KEYS) as TrainerOptions),
    fit: top['fit'] === undefined ? {} : fitSection(file, top['fit']),
  };
  inFile(file, () => {
    if (top['variant'] !== undefined) out.variant = oneOf('variant', top['variant'], ['official', 'clean'] as const);
    const device = top['device'];
    if (device !== undefined && (typeof device !== 'string' || device === '')) throw argError('device', "a device name such as 'cpu' or 'cuda:0'", device);
    if (typeof device === 'string') out.device = device;
  });
  return out;
}
