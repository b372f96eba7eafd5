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
import { type DataFlags, type OpenedData, openData } from '../data';
import { usageError, withFlagNames } from '../flags';
import { type Defaults, FLAG_NAMES, defaultsFor, resolveModelFlags, resolveTrainerFlags } from '../model-flags';
import type { Output } from '../output';
import { RunDir } from '../run-dir';
import { checkResumeFlags } from './resume-flags';
import type { TrainFlags } from './train-flags';
import { type RunConfigFile, readRunConfig } from './train-config';

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
  fit: { epochs: number; batchSize: number; seed: number; evalEvery: number; maxSteps?: number; earlyStop?: number };
  trainer: Trainer;
  model: NRNMClassifier;
  resumeFrom?: { epoch: number; batch: number; step: number };
  config: Record<string, unknown>;
}

function dataFlags(flags: TrainFlags, file: Partial<DataFlags> = {}): DataFlags {
  if (flags.split && flags.data_mode && flags.split !== flags.data_mode) {
    throw usageError(`--split ${flags.split} and --data_mode ${flags.data_mode.toUpperCase()} disagree; give one of them`);
  }
  // Each flag given overrides the config file's value.
  const split = flags.split ?? flags.data_mode ?? file.split;
  // The official script's --data_mode means NTU; so does --split.
  const dataset = flags.dataset ?? file.dataset ?? (split !== undefined ? 'ntu' : 'fashion-mnist');
  const unpadded = flags.unpadded ?? file.unpadded;
  return {
    dataset,
    data: flags.data ?? file.data,
    split,
    limit: flags.limit ?? file.limit,
    preprocessed: flags.preprocessed ?? file.preprocessed,
    ...(unpadded ? { unpadded: true } : {}),
  };
}

/** An option error named by its flag; with a --config file, also where else the value may come from. */
function optionError(err: unknown, file: RunConfigFile | undefined): unknown {
  const named = withFlagNames(err, FLAG_NAMES);
  if (!file || !(named instanceof NRNMError) || named.code !== 'ERR_ARG') return named;
  return new NRNMError(`${named.message} (the flags and ${file.file} "model"/"trainer" set the options)`, 'ERR_ARG', { cause: err });
}

/** The dataset's defaults under a --config file's settings. */
function withConfigFile(defaults: Defaults, file: RunConfigFile | undefined): Defaults {
  if (!file) return defaults;
  return {
    model: defaults.model,
    configModel: file.model,
    trainer: { ...defaults.trainer, ...file.trainer },
    epochs: file.fit.epochs ?? defaults.epochs,
    batchSize: file.fit.batchSize ?? defaults.batchSize,
    evalEvery: file.fit.evalEvery ?? defaults.evalEvery,
    variant: file.variant ?? defaults.variant,
  };
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
  if (flags.config !== undefined && flags.resume !== undefined) {
    throw usageError('--config starts a new run from a file; --resume continues a run with its own config.json: give one of them');
  }
  const file = flags.config !== undefined ? readRunConfig(flags.config) : undefined;
  // The file's device, unless --device was given (or this is one rank of a data-parallel run, which picks its own).
  if (file?.device !== undefined && command.getOptionValueSource('device') !== 'cli' && !distributedFromEnv()) flags = { ...flags, device: file.device };
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
    if (flags.earlyStop !== undefined) fit.earlyStop = flags.earlyStop;
    if (main) run.truncateMetricsAfter(progress.step);
    const resumes = Array.isArray(config['resumes']) ? (config['resumes'] as unknown[]) : [];
    config['resumes'] = [...resumes, { at: new Date().toISOString(), command: argv, from: progress, device: trainer.model.device }];
    config['fit'] = fit;
    plan = { run, data, fit, trainer, model: trainer.model, resumeFrom: progress, config };
    out.info(`resuming ${run.dir} at epoch ${progress.epoch + 1}, batch ${progress.batch}, step ${progress.step}`);
  } else {
    const data = dataFlags(flags, file?.data);
    const defaults = withConfigFile(defaultsFor(data.dataset), file);
    const outDir = flags.out ?? (flags.sb ? path.join('runs', flags.sb) : defaultRunDir(data.dataset));
    const run = main ? RunDir.create(outDir) : new RunDir(outDir);
    opened = await openData(data, { train: true, eval: true }, out, signal);
    const trainData = checkDataFits(opened.train);
    const dataClasses = Math.max(trainData.classes, opened.eval?.classes ?? 0);
    const classes = file?.model.classes ?? dataClasses;
    const fileInputs = file?.model.inputSize;
    if (fileInputs !== undefined && fileInputs !== trainData.features) {
      throw new NRNMError(
        `${file!.file}: "model" inputSize ${String(fileInputs)} differs from the ${trainData.features} features per step of ${trainData.name}`,
        'ERR_ARG',
      );
    }
    const seed = flags.seed ?? file?.fit.seed ?? (file?.model as { seed?: number } | undefined)?.seed ?? 0;
    let modelOptions;
    let trainerOptions: TrainerOptions;
    try {
      modelOptions = resolveModelOptions({ ...resolveModelFlags(flags, defaults), inputSize: trainData.features, classes, seed });
      trainerOptions = resolveTrainerFlags(flags, defaults);
      // The cosine spans the run unless --t-max says otherwise.
      if (trainerOptions.scheduler === 'cosine' && !trainerOptions.tMax) trainerOptions.tMax = flags.epochs ?? defaults.epochs;
    } catch (err) {
      throw optionError(err, file);
    }
    const model = new NRNMClassifier({ ...modelOptions, device });
    let trainer: Trainer;
    try {
      trainer = new Trainer(model, { ...trainerOptions, ...(distributed ? { distributed } : {}) });
    } catch (err) {
      model.dispose();
      throw optionError(err, file);
    }
    const fit: Plan['fit'] = {
      epochs: flags.epochs ?? defaults.epochs,
      batchSize: flags.batchSize ?? defaults.batchSize,
      seed,
      evalEvery: flags.evalEvery ?? defaults.evalEvery,
    };
    const maxSteps = flags.maxSteps ?? file?.fit.maxSteps;
    const earlyStop = flags.earlyStop ?? file?.fit.earlyStop;
    if (maxSteps !== undefined) fit.maxSteps = maxSteps;
    if (earlyStop !== undefined) fit.earlyStop = earlyStop;
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
