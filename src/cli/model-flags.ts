/**
 * Model and trainer flags shared by train, eval and predict, the aliases of
 * the official script (action_mylstm_cv.py: --nlayers, --nhid, --bl, --dm,
 * --wd, --data_mode, --cell_type, --sb) and the per-dataset defaults.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';

import { CHOICES, DEFAULT_MODEL_OPTIONS, DEFAULT_TRAINER_OPTIONS, VARIANTS, type Choice, type NRNMModelOptions, type TrainerOptions } from '../index';
import { caseInsensitiveChoice, choice, nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber, probability, usageError } from './flags';
import type { DatasetKind } from './data';

/** API option name -> the flag that sets it, for error messages. */
export const FLAG_NAMES: Record<string, string> = {
  hiddenSize: '--hidden',
  layers: '--layers',
  blockLength: '--block-length',
  stride: '--stride',
  heads: '--heads',
  inputAggregation: '--aggregation',
  zoneoutMode: '--zoneout-mode',
  zoneout: '--zoneout',
  memoryDropoutMode: '--memory-dropout-mode',
  memoryDropout: '--memory-dropout',
  aggregationDropout: '--aggregation-dropout',
  init: '--init',
  head: '--head',
  task: '--task',
  backbone: '--backbone',
  attention: '--attention',
  inputSize: '--input-size',
  classes: '--classes',
  lr: '--lr',
  weightDecay: '--weight-decay',
  stepSize: '--step-size',
  gamma: '--gamma',
  clip: '--clip',
  precision: '--precision',
  optimizer: '--optimizer',
  scheduler: '--scheduler',
  tMax: '--t-max',
  minLr: '--min-lr',
  patience: '--plateau-patience',
  monitor: '--monitor',
  warmupSteps: '--warmup',
  earlyStop: '--early-stop',
  batchSize: '--batch-size',
  epochs: '--epochs',
  evalEvery: '--eval-every',
  maxSteps: '--max-steps',
  seed: '--seed',
};

/** What a preset or the user sets; everything else falls back to the spec's defaults. */
export interface Defaults {
  model: Partial<NRNMModelOptions>;
  trainer: TrainerOptions;
  epochs: number;
  batchSize: number;
  evalEvery: number;
  variant: 'official' | 'clean';
  /**
   * The model options of a --config file: over the variant's option set and
   * under the flags (a --variant flag goes over them too).
   */
  configModel?: Partial<NRNMModelOptions>;
}

/**
 * Fashion-MNIST (28 steps of 28 pixels): a small model that trains in about
 * five minutes on two CPU cores to about 88.5% test accuracy. `clean`
 * variant (strided aggregation over the 28 features, per-step zoneout,
 * standard init, plain linear head), k=10, s=5 as the spec (memory updates
 * at steps 10 and 20); hidden 128 (256 is three times slower), a decay of
 * the learning rate for the last two epochs (+1.5 points).
 */
export const FASHION_DEFAULTS: Defaults = {
  model: { hiddenSize: 128, layers: 1, blockLength: 10, stride: 5, heads: 4 },
  trainer: { lr: 2e-3, weightDecay: 0, scheduler: 'step', stepSize: 4, gamma: 0.25, clip: 5 },
  epochs: 6,
  batchSize: 128,
  evalEvery: 1,
  variant: 'clean',
};

/** NTU RGB+D: the official script (hidden 512, 2 layers, Adam lr 1e-3, wd 1e-4, StepLR 600/0.1, batch 256, eval every 5 epochs). */
export const NTU_DEFAULTS: Defaults = {
  model: {},
  trainer: {},
  epochs: 1000,
  batchSize: 256,
  evalEvery: 5,
  variant: 'official',
};

/** Any .npy data: the spec's defaults, evaluated every epoch. */
export const NPY_DEFAULTS: Defaults = { model: {}, trainer: {}, epochs: 100, batchSize: 256, evalEvery: 1, variant: 'official' };

export function defaultsFor(kind: DatasetKind): Defaults {
  return kind === 'fashion-mnist' ? FASHION_DEFAULTS : kind === 'npy' ? NPY_DEFAULTS : NTU_DEFAULTS;
}

function hidden(option: Option): Option {
  return option.hideHelp();
}

export function officialCellType(value: string): string {
  if (value !== 'ORG_MEMO') throw new InvalidArgumentError('Only ORG_MEMO (the NRNM cell) is implemented; it is the default.');
  return value;
}

/** "(Fashion-MNIST: 128, official: 512)": the defaults as --help shows them, read from the presets. */
function shownDefaults(fashion: unknown, official: unknown, more = ''): string {
  const parts = fashion === undefined || fashion === official ? [] : [`Fashion-MNIST: ${String(fashion)}`];
  return `(${[...parts, `official: ${String(official)}${more}`].join(', ')})`;
}

function modelDefault(key: keyof typeof DEFAULT_MODEL_OPTIONS): string {
  const fashion = { ...FASHION_DEFAULTS.model, ...variantOptions(FASHION_DEFAULTS.variant) } as Partial<NRNMModelOptions>;
  return shownDefaults(fashion[key as keyof NRNMModelOptions], DEFAULT_MODEL_OPTIONS[key]);
}

function trainerDefault(key: keyof typeof DEFAULT_TRAINER_OPTIONS): string {
  return shownDefaults(FASHION_DEFAULTS.trainer[key as keyof TrainerOptions], DEFAULT_TRAINER_OPTIONS[key]);
}

/** Architecture flags (train; predict and eval for official .pt files). */
export function addModelFlags(cmd: Command): Command {
  return cmd
    .addOption(
      choice('--variant <name>', "option set: official (the authors' code) or clean (the papers' model); single flags override it", ['official', 'clean']),
    )
    .option('--layers <n>', `stacked NRNM layers ${modelDefault('layers')}`, positiveInt)
    .option('--hidden <n>', `hidden and memory width, divisible by --heads ${modelDefault('hiddenSize')}`, positiveInt)
    .option('--block-length <k>', `memory update every k steps ${modelDefault('blockLength')}`, positiveInt)
    .option('--stride <s>', `sampling stride inside a block; memory slots = k/s ${modelDefault('stride')}`, positiveInt)
    .option('--heads <n>', `attention heads ${modelDefault('heads')}`, positiveInt)
    .addOption(choice('--aggregation <kind>', `input aggregation; dilated needs k=10, s=5 ${modelDefault('inputAggregation')}`, CHOICES.inputAggregation))
    .option('--zoneout <p>', `probability of keeping a unit's old state ${modelDefault('zoneout')}`, probability)
    .addOption(choice('--zoneout-mode <mode>', modelDefault('zoneoutMode'), CHOICES.zoneoutMode))
    .option('--memory-dropout <p>', `dropout on the carried memory ${modelDefault('memoryDropout')}`, probability)
    .addOption(choice('--memory-dropout-mode <mode>', modelDefault('memoryDropoutMode'), CHOICES.memoryDropoutMode))
    .option('--aggregation-dropout <p>', `dropout in the dilated aggregation ${modelDefault('aggregationDropout')}`, probability)
    .addOption(choice('--init <scheme>', modelDefault('init'), CHOICES.init))
    .addOption(choice('--head <kind>', `classifier head ${modelDefault('head')}; linear for regress-steps`, CHOICES.head))
    .addOption(choice('--backbone <kind>', `recurrent backbone the memory refines ${modelDefault('backbone')}`, CHOICES.backbone))
    .addOption(choice('--task <task>', `one class per sequence, a class or values at every step ${modelDefault('task')}`, CHOICES.task))
    .addOption(choice('--attention <kind>', `memory block: self-attention or linear (NRNM w/o SA) ${modelDefault('attention')}`, CHOICES.attention))
    .addOption(hidden(new Option('--nlayers <n>', 'alias of --layers (official script)').argParser(positiveInt)))
    .addOption(hidden(new Option('--nhid <n>', 'alias of --hidden (official script)').argParser(positiveInt)))
    .addOption(hidden(new Option('--bl <k>', 'alias of --block-length (official script)').argParser(positiveInt)))
    .addOption(hidden(new Option('--dm <p>', 'alias of --zoneout (official script)').argParser(probability)))
    .addOption(hidden(new Option('--cell_type <type>', 'official script: only ORG_MEMO').argParser(officialCellType)));
}

/** Optimisation flags (train). */
export function addTrainerFlags(cmd: Command): Command {
  const run = (key: 'epochs' | 'batchSize') => `(Fashion-MNIST: ${FASHION_DEFAULTS[key]}, NTU: ${NTU_DEFAULTS[key]}, npy: ${NPY_DEFAULTS[key]})`;
  return cmd
    .option('--epochs <n>', `training epochs ${run('epochs')}`, positiveInt)
    .option('--batch-size <n>', `sequences per step ${run('batchSize')}`, positiveInt)
    .option('--lr <x>', `Adam learning rate ${trainerDefault('lr')}`, positiveNumber)
    .option('--weight-decay <x>', `L2 weight decay ${trainerDefault('weightDecay')}`, nonNegativeNumber)
    .addOption(choice('--optimizer <name>', `adam (L2 added to the gradient) or adamw ${trainerDefault('optimizer')}`, CHOICES.optimizer))
    .option('--clip <x>', `maximum gradient norm, 0 = off ${trainerDefault('clip')}`, nonNegativeNumber)
    .addOption(
      choice(
        '--scheduler <kind>',
        `learning-rate schedule per epoch, as PyTorch's StepLR, CosineAnnealingLR, ReduceLROnPlateau, or none ${trainerDefault('scheduler')}`,
        CHOICES.scheduler,
      ),
    )
    .option('--step-size <n>', `StepLR: epochs between decays ${trainerDefault('stepSize')}`, positiveInt)
    .option('--gamma <x>', `StepLR and plateau: decay factor ${trainerDefault('gamma')}`, positiveNumber)
    .option('--t-max <epochs>', 'cosine: epochs of the half cosine (default: --epochs)', positiveInt)
    .option('--min-lr <x>', `cosine: the final learning rate; plateau: the lowest ${trainerDefault('minLr')}`, nonNegativeNumber)
    .option('--plateau-patience <n>', `plateau: evaluations without improvement before a decay (default ${DEFAULT_TRAINER_OPTIONS.patience})`, nonNegativeInt)
    .option(
      '--warmup <steps>',
      `linear learning-rate warm-up over the first N optimizer steps, with any scheduler; 0 = none ${trainerDefault('warmupSteps')}`,
      nonNegativeInt,
    )
    .addOption(
      choice(
        '--monitor <metric>',
        `the eval metric that best.nrnm, plateau and --early-stop follow (default ${DEFAULT_TRAINER_OPTIONS.monitor})`,
        CHOICES.monitor,
      ),
    )
    .addOption(choice('--precision <p>', 'fp32, or tf32/bf16 on CUDA', CHOICES.precision, DEFAULT_TRAINER_OPTIONS.precision))
    .addOption(hidden(new Option('--wd <x>', 'alias of --weight-decay (official script)').argParser(nonNegativeNumber)));
}

export interface ModelFlagValues {
  variant?: 'official' | 'clean';
  layers?: number;
  hidden?: number;
  blockLength?: number;
  stride?: number;
  heads?: number;
  aggregation?: Choice<'inputAggregation'>;
  zoneout?: number;
  zoneoutMode?: Choice<'zoneoutMode'>;
  memoryDropout?: number;
  memoryDropoutMode?: Choice<'memoryDropoutMode'>;
  aggregationDropout?: number;
  init?: Choice<'init'>;
  head?: Choice<'head'>;
  task?: Choice<'task'>;
  backbone?: Choice<'backbone'>;
  attention?: Choice<'attention'>;
  nlayers?: number;
  nhid?: number;
  bl?: number;
  dm?: number;
}

export interface TrainerFlagValues {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  optimizer?: Choice<'optimizer'>;
  clip?: number;
  scheduler?: Choice<'scheduler'>;
  stepSize?: number;
  gamma?: number;
  tMax?: number;
  minLr?: number;
  plateauPatience?: number;
  warmup?: number;
  monitor?: Choice<'monitor'>;
  precision?: Choice<'precision'>;
  wd?: number;
}

/** `--hidden` or its alias `--nhid`; both with different values is a usage error. */
export function aliased<T>(main: T | undefined, alias: T | undefined, mainFlag: string, aliasFlag: string): T | undefined {
  if (main !== undefined && alias !== undefined && main !== alias) {
    throw usageError(`${mainFlag} ${String(main)} and its alias ${aliasFlag} ${String(alias)} disagree; give one of them`);
  }
  return main ?? alias;
}

/** The variant's option set in full (official spells out the defaults that clean changes). */
export function variantOptions(variant: 'official' | 'clean'): Partial<NRNMModelOptions> {
  if (variant === 'clean') return { ...VARIANTS.clean };
  const official: Partial<NRNMModelOptions> = {};
  for (const key of Object.keys(VARIANTS.clean) as (keyof NRNMModelOptions)[]) {
    (official as Record<string, unknown>)[key] = DEFAULT_MODEL_OPTIONS[key as keyof typeof DEFAULT_MODEL_OPTIONS];
  }
  return official;
}

/** Model options given on the command line (no defaults). */
export function modelFlagOverrides(f: ModelFlagValues): Partial<NRNMModelOptions> {
  const o: Partial<NRNMModelOptions> = {};
  const set = <K extends keyof NRNMModelOptions>(key: K, value: NRNMModelOptions[K] | undefined) => {
    if (value !== undefined) o[key] = value;
  };
  set('layers', aliased(f.layers, f.nlayers, '--layers', '--nlayers'));
  set('hiddenSize', aliased(f.hidden, f.nhid, '--hidden', '--nhid'));
  set('blockLength', aliased(f.blockLength, f.bl, '--block-length', '--bl'));
  set('stride', f.stride);
  set('heads', f.heads);
  set('inputAggregation', f.aggregation);
  set('zoneout', aliased(f.zoneout, f.dm, '--zoneout', '--dm'));
  set('zoneoutMode', f.zoneoutMode);
  set('memoryDropout', f.memoryDropout);
  set('memoryDropoutMode', f.memoryDropoutMode);
  set('aggregationDropout', f.aggregationDropout);
  set('init', f.init);
  set('head', f.head);
  set('task', f.task);
  set('backbone', f.backbone);
  set('attention', f.attention);
  return o;
}

/**
 * Dataset defaults, then the variant's option set, then single flags. With
 * the official variant and a block length or stride other than 10/5, the
 * aggregation becomes strided (dilated only exists for k=10, s=5) unless
 * --aggregation dilated was given, which then fails with its reason.
 */
export function resolveModelFlags(f: ModelFlagValues, defaults: Defaults): Partial<NRNMModelOptions> {
  const variant = f.variant ?? defaults.variant;
  const flags = modelFlagOverrides(f);
  const file = defaults.configModel ?? {};
  const merged: Partial<NRNMModelOptions> =
    f.variant === undefined
      ? { ...defaults.model, ...variantOptions(variant), ...file, ...flags }
      : { ...defaults.model, ...file, ...variantOptions(variant), ...flags };
  // What the user chose: the flags and the config file.
  const given = { ...file, ...flags };
  const k = merged.blockLength ?? 10;
  const s = merged.stride ?? 5;
  if (given.inputAggregation === undefined && merged.inputAggregation === 'dilated' && (k !== 10 || s !== 5)) merged.inputAggregation = 'strided';
  // A variant's head is a classifier's; regression keeps the model's own default (linear) unless --head is given.
  if (merged.task === 'regress-steps' && given.head === undefined) delete merged.head;
  return merged;
}

export function resolveTrainerFlags(f: TrainerFlagValues, defaults: Defaults): TrainerOptions {
  const o: TrainerOptions = { ...defaults.trainer };
  const weightDecay = aliased(f.weightDecay, f.wd, '--weight-decay', '--wd');
  if (f.lr !== undefined) o.lr = f.lr;
  if (weightDecay !== undefined) o.weightDecay = weightDecay;
  if (f.optimizer !== undefined) o.optimizer = f.optimizer;
  if (f.clip !== undefined) o.clip = f.clip;
  if (f.scheduler !== undefined) o.scheduler = f.scheduler;
  if (f.stepSize !== undefined) {
    o.stepSize = f.stepSize;
    if (f.scheduler === undefined) o.scheduler = 'step';
  }
  if (f.gamma !== undefined) {
    o.gamma = f.gamma;
    // --gamma alone means StepLR, unless the schedule is already the plateau (whose factor it also is).
    if (f.scheduler === undefined && o.scheduler !== 'plateau') o.scheduler = 'step';
  }
  if (f.tMax !== undefined) o.tMax = f.tMax;
  if (f.minLr !== undefined) o.minLr = f.minLr;
  if (f.plateauPatience !== undefined) o.patience = f.plateauPatience;
  if (f.warmup !== undefined) o.warmupSteps = f.warmup;
  if (f.monitor !== undefined) o.monitor = f.monitor;
  if (f.precision !== undefined) o.precision = f.precision;
  return o;
}

export const splitAlias = caseInsensitiveChoice(['cs', 'cv']);
