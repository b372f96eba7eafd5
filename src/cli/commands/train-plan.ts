/**
 * The run plan of `nrnm-native train`: from the flags (a new run) or from
 * the run directory being resumed, the data, model, trainer, fit settings
 * and config.json that the command then trains with.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { Command } from 'commander';

import type { SequenceDataset } from '../../data';
import { NRNMError } from '../../errors';
import { distributedFromEnv, rankDevice, type DistributedOptions } from '../../distributed';
import { NRNMClassifier, Trainer, resolveModelOptions, runtimeReport, type TrainerOptions } from '../../index';
import { type DataFlags, type DatasetKind, type NtuSplitFlag, type OpenedData, openData } from '../data';
import { usageError, withFlagNames } from '../flags';
import { FLAG_NAMES, type ModelFlagValues, type TrainerFlagValues, defaultsFor, resolveModelFlags, resolveTrainerFlags } from '../model-flags';
import type { Output } from '../output';
import { RunDir } from '../run-dir';
import { checkResumeFlags } from './resume-flags';

export interface TrainFlags extends ModelFlagValues, TrainerFlagValues {
  dataset?: DatasetKind;
  data?: string;
  split?: NtuSplitFlag;
  data_mode?: 'cs' | 'cv';
  limit?: number;
  preprocessed?: string;
  unpadded?: boolean;
  seed?: number;
  device: string;
  evalEvery?: number;
  maxSteps?: number;
  out?: string;
  resume?: string;
  sb?: string;
  finalEval: boolean;
  /** A folder, true (the run directory, the default) or false (--no-tensorboard). */
  tensorboard?: string | boolean;
  json?: boolean;
  quiet?: boolean;
  nproc?: number;
  oversubscribe?: boolean;
  distTimeout?: number;
}

function defaultRunDir(dataset: string): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  const base = path.join(
    'runs',
    `${dataset}-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`,
  );
  let dir = base;
  for (let i = 2; fs.existsSync(dir); i++) dir = `${base}-${i}`;
  return dir;
}

export interface Plan {
  run: RunDir;
  data: DataFlags;
  fit: { epochs: number; batchSize: number; seed: number; evalEvery: number; maxSteps?: number };
  trainer: Trainer;
  model: NRNMClassifier;
  resumeFrom?: { epoch: number; batch: number; step: number };
  config: Record<string, unknown>;
}

function dataFlags(flags: TrainFlags): DataFlags {
  const split = flags.split ?? flags.data_mode;
  if (flags.split && flags.data_mode && flags.split !== flags.data_mode) {
    throw usageError(`--split ${flags.split} and --data_mode ${flags.data_mode.toUpperCase()} disagree; give one of them`);
  }
  // The official script's --data_mode means NTU; so does --split.
  const dataset = flags.dataset ?? (split !== undefined ? 'ntu' : 'fashion-mnist');
  return { dataset, data: flags.data, split, limit: flags.limit, preprocessed: flags.preprocessed, ...(flags.unpadded ? { unpadded: true } : {}) };
}

export function checkDataFits(train: SequenceDataset | undefined): SequenceDataset {
  if (!train) throw new NRNMError('no training data', 'ERR_NOT_FOUND');
  if (train.length === 0) throw new NRNMError(`${train.name} holds no sequences`, 'ERR_FORMAT');
  return train;
}

/**
 * This worker's rank and device when torchrun or --nproc started it: its
 * own GPU and NCCL on CUDA, Gloo on the CPU. Undefined for one process.
 */
function rankOf(flags: TrainFlags): { distributed: DistributedOptions; device: string } | undefined {
  const d = distributedFromEnv();
  if (!d) return undefined;
  const device = rankDevice(flags.device, d);
  const backend = device.startsWith('cuda') ? 'nccl' : 'gloo';
  return { distributed: { ...d, backend, ...(flags.distTimeout !== undefined ? { timeout: flags.distTimeout } : {}) }, device };
}

/** What the command trains with, where, and whether this process is rank 0 (the one that writes). */
export interface PlannedRun {
  plan: Plan;
  opened: OpenedData;
  distributed: DistributedOptions | undefined;
  main: boolean;
}

/** The plan of a new run (from the flags and the dataset's defaults) or of the run being resumed (--resume). */
export async function planRun(flags: TrainFlags, command: Command, out: Output, signal: AbortSignal): Promise<PlannedRun> {
  const argv = ((command.parent as unknown as { rawArgs?: string[] } | null)?.rawArgs ?? process.argv).slice(2);
  const rank = rankOf(flags);
  const distributed = rank?.distributed;
  const device = rank?.device ?? flags.device;
  const main = (distributed?.rank ?? 0) === 0;
  let plan: Plan;
  let opened: OpenedData;
  if (flags.resume !== undefined) {
    const run = RunDir.open(flags.resume);
    const config = run.readConfig();
    if (!config) throw new NRNMError(`--resume ${flags.resume}: its config.json is missing or unreadable`, 'ERR_FORMAT');
    const data = config['data'] as DataFlags;
    const fitConfig = config['fit'] as Plan['fit'];
    const { trainer, progress, header } = await Trainer.resume(run.file('last.nrnm'), { device, ...(distributed ? { distributed } : {}) });
    try {
      checkResumeFlags(flags, command, { dir: run.dir, config, header });
      opened = await openData(data, { train: true, eval: true }, out, signal);
    } catch (err) {
      trainer.dispose();
      trainer.model.dispose();
      throw err;
    }
    const fit = { ...fitConfig };
    if (flags.epochs !== undefined) fit.epochs = flags.epochs;
    if (flags.evalEvery !== undefined) fit.evalEvery = flags.evalEvery;
    if (flags.maxSteps !== undefined) fit.maxSteps = flags.maxSteps;
    else delete fit.maxSteps;
    if (main) run.truncateMetricsAfter(progress.step);
    const resumes = Array.isArray(config['resumes']) ? (config['resumes'] as unknown[]) : [];
    config['resumes'] = [...resumes, { at: new Date().toISOString(), command: argv, from: progress, device: trainer.model.device }];
    config['fit'] = fit;
    plan = { run, data, fit, trainer, model: trainer.model, resumeFrom: progress, config };
    out.info(`resuming ${run.dir} at epoch ${progress.epoch + 1}, batch ${progress.batch}, step ${progress.step}`);
  } else {
    const data = dataFlags(flags);
    const defaults = defaultsFor(data.dataset);
    const outDir = flags.out ?? (flags.sb ? path.join('runs', flags.sb) : defaultRunDir(data.dataset));
    const run = main ? RunDir.create(outDir) : new RunDir(outDir);
    opened = await openData(data, { train: true, eval: true }, out, signal);
    const trainData = checkDataFits(opened.train);
    const classes = Math.max(trainData.classes, opened.eval?.classes ?? 0);
    const seed = flags.seed ?? 0;
    let modelOptions;
    let trainerOptions: TrainerOptions;
    try {
      modelOptions = resolveModelOptions({ ...resolveModelFlags(flags, defaults), inputSize: trainData.features, classes, seed });
      trainerOptions = resolveTrainerFlags(flags, defaults);
    } catch (err) {
      throw withFlagNames(err, FLAG_NAMES);
    }
    const model = new NRNMClassifier({ ...modelOptions, device });
    let trainer: Trainer;
    try {
      trainer = new Trainer(model, { ...trainerOptions, ...(distributed ? { distributed } : {}) });
    } catch (err) {
      model.dispose();
      throw withFlagNames(err, FLAG_NAMES);
    }
    const fit: Plan['fit'] = {
      epochs: flags.epochs ?? defaults.epochs,
      batchSize: flags.batchSize ?? defaults.batchSize,
      seed,
      evalEvery: flags.evalEvery ?? defaults.evalEvery,
      ...(flags.maxSteps !== undefined ? { maxSteps: flags.maxSteps } : {}),
    };
    const report = runtimeReport();
    const config: Record<string, unknown> = {
      command: argv,
      cwd: process.cwd(),
      createdAt: new Date().toISOString(),
      versions: {
        nrnmNative: report.packageVersion,
        node: process.version,
        libtorch: report.libtorch.version,
        libtorchVariant: report.libtorch.variant,
        cuda: report.cuda.runtimeVersion,
        platform: report.platform,
        binary: report.binary.path,
      },
      device: model.device,
      data,
      dataset: opened.description,
      model: { ...model.options },
      trainer: { ...trainer.options },
      fit,
      variant: flags.variant ?? defaults.variant,
    };
    plan = { run, data, fit, trainer, model, config };
  }

  return { plan, opened, distributed, main };
}
