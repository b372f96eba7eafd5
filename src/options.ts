/**
 * NRNM model options: defaults reproduce the authors' code (NRNM_SPEC.md),
 * every quirk is a named option, and the `clean` preset switches them all to
 * the papers' cleaner model. Validated here with messages that name the
 * option, the expected values and what was received; C++ re-checks.
 */
import { CHOICES, type Choice } from './choices';
import { NRNMError, argError } from './errors';
import { checkKeys, intOption, oneOf } from './validate';

export type InputAggregation = Choice<'inputAggregation'>;
export type ZoneoutMode = Choice<'zoneoutMode'>;
export type MemoryDropoutMode = Choice<'memoryDropoutMode'>;
export type InitScheme = Choice<'init'>;
export type HeadKind = Choice<'head'>;
/**
 * What the model predicts: one class per sequence at its last step
 * (official), one class at every step, or C values at every step.
 */
export type Task = Choice<'task'>;
/** The recurrent backbone the memory refines: 'lstm' (official), 'gru' or 'rnn' (README "Backbones"). */
export type Backbone = Choice<'backbone'>;
/** The memory block's token mixing: 'self'-attention (official) or 'linear' (the papers' "NRNM w/o SA"). */
export type AttentionKind = Choice<'attention'>;
export type DeviceSpec = 'cpu' | 'cuda' | `cuda:${number}` | 'auto';

/** The architecture and regularisation of an NRNM network. */
export interface NRNMModelOptions {
  /** Features per time step (F of [B, T, F]). */
  inputSize: number;
  /** Number of classes of the classifier (for 'regress-steps': values per step). */
  classes: number;
  /** LSTM and memory width H (default 512); divisible by heads. */
  hiddenSize?: number;
  /** Stacked NRNM-LSTM layers, each with its own memory (default 2). */
  layers?: number;
  /** Memory update every k steps, looking back k steps (default 10). */
  blockLength?: number;
  /** Sampling stride s inside the block; memory slots n = k/s (default 5). */
  stride?: number;
  /** Attention heads (default 4). */
  heads?: number;
  /** 'dilated' (official, needs k=10, s=5) or 'strided'. */
  inputAggregation?: InputAggregation;
  /** Probability of keeping a unit's old state (default 0.2). */
  zoneout?: number;
  /** 'shared' (official: one mask per layer and forward call) or 'per-step'. */
  zoneoutMode?: ZoneoutMode;
  /** Dropout on the memory carried to the next block (default 0.5). */
  memoryDropout?: number;
  /** 'shared' (mask shared by the batch, official) or 'per-sample'. */
  memoryDropoutMode?: MemoryDropoutMode;
  /** Dropout inside the dilated aggregation (default 0.5). */
  aggregationDropout?: number;
  /** 'official' (everything U(-1/sqrt(H), 1/sqrt(H))) or 'standard'. */
  init?: InitScheme;
  /** 'linear-elu' (official) or 'linear' (the default for task 'regress-steps'). */
  head?: HeadKind;
  /** 'lstm' (official), 'gru' or 'rnn'; the memory refines the backbone's state. */
  backbone?: Backbone;
  /** 'classify-sequence' (official), 'classify-steps' or 'regress-steps'. */
  task?: Task;
  /** 'self' (official) or 'linear' (NRNM w/o SA). */
  attention?: AttentionKind;
}

export interface NRNMClassifierOptions extends NRNMModelOptions {
  /** 'cpu', 'cuda', 'cuda:N' or 'auto' (default 'auto'). */
  device?: DeviceSpec | string;
  /** Seed of the model's generator: initialisation and dropout masks (default 0). */
  seed?: number;
}

/** Every option filled in: the flat struct that crosses into C++. */
export type ResolvedModelOptions = Required<NRNMModelOptions> & { seed: number };

export const DEFAULT_MODEL_OPTIONS: Omit<ResolvedModelOptions, 'inputSize' | 'classes'> = {
  hiddenSize: 512,
  layers: 2,
  blockLength: 10,
  stride: 5,
  heads: 4,
  inputAggregation: 'dilated',
  zoneout: 0.2,
  zoneoutMode: 'shared',
  memoryDropout: 0.5,
  memoryDropoutMode: 'shared',
  aggregationDropout: 0.5,
  init: 'official',
  head: 'linear-elu',
  backbone: 'lstm',
  task: 'classify-sequence',
  attention: 'self',
  seed: 0,
};

/** Option sets: `official` reproduces the authors' code, `clean` the papers' model. */
export const VARIANTS = {
  official: {} as Partial<NRNMModelOptions>,
  clean: {
    inputAggregation: 'strided',
    zoneoutMode: 'per-step',
    memoryDropoutMode: 'per-sample',
    init: 'standard',
    head: 'linear',
  } as Partial<NRNMModelOptions>,
} as const;
export type Variant = keyof typeof VARIANTS;

/** Every model option key (the schema of the API, of config files' "model" and, through FLAG_NAMES, of the flags). */
export const MODEL_KEYS = ['inputSize', 'classes', ...Object.keys(DEFAULT_MODEL_OPTIONS)] as const;
const CLASSIFIER_KEYS = [...MODEL_KEYS, 'device'] as const;

function probability(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0 && value < 1)) throw argError(name, 'a number in [0, 1)', value);
  return value;
}

/** Validates and fills in model options; throws NRNMError(ERR_ARG). */
export function resolveModelOptions(options: NRNMClassifierOptions, allowDevice = true): ResolvedModelOptions {
  if (options === null || typeof options !== 'object') throw argError('options', 'an object', options);
  checkKeys(options, allowDevice ? CLASSIFIER_KEYS : MODEL_KEYS, 'NRNMClassifier');
  const d = DEFAULT_MODEL_OPTIONS;
  const task = oneOf('task', options.task, CHOICES.task, d.task);
  const regression = task === 'regress-steps';
  const r: ResolvedModelOptions = {
    inputSize: intOption('inputSize', options.inputSize ?? NaN, 0, 1),
    classes: intOption('classes', options.classes ?? NaN, 0, regression ? 1 : 2),
    hiddenSize: intOption('hiddenSize', options.hiddenSize, d.hiddenSize, 1),
    layers: intOption('layers', options.layers, d.layers, 1),
    blockLength: intOption('blockLength', options.blockLength, d.blockLength, 1),
    stride: intOption('stride', options.stride, d.stride, 1),
    heads: intOption('heads', options.heads, d.heads, 1),
    inputAggregation: oneOf('inputAggregation', options.inputAggregation, CHOICES.inputAggregation, d.inputAggregation),
    zoneout: probability('zoneout', options.zoneout, d.zoneout),
    zoneoutMode: oneOf('zoneoutMode', options.zoneoutMode, CHOICES.zoneoutMode, d.zoneoutMode),
    memoryDropout: probability('memoryDropout', options.memoryDropout, d.memoryDropout),
    memoryDropoutMode: oneOf('memoryDropoutMode', options.memoryDropoutMode, CHOICES.memoryDropoutMode, d.memoryDropoutMode),
    aggregationDropout: probability('aggregationDropout', options.aggregationDropout, d.aggregationDropout),
    init: oneOf('init', options.init, CHOICES.init, d.init),
    // ELU would bound regression outputs below by -1: plain linear there.
    head: oneOf('head', options.head, CHOICES.head, regression ? 'linear' : d.head),
    backbone: oneOf('backbone', options.backbone, CHOICES.backbone, d.backbone),
    task,
    attention: oneOf('attention', options.attention, CHOICES.attention, d.attention),
    seed: intOption('seed', options.seed, d.seed, 0),
  };
  if (r.stride > r.blockLength || r.blockLength % r.stride !== 0) {
    throw new NRNMError(`stride must divide blockLength (got ${r.blockLength} and ${r.stride})`, 'ERR_ARG');
  }
  if (r.inputAggregation === 'dilated' && (r.blockLength !== 10 || r.stride !== 5)) {
    throw new NRNMError(
      `inputAggregation 'dilated' needs blockLength 10 and stride 5 (got ${r.blockLength} and ${r.stride}); use inputAggregation 'strided' for other values`,
      'ERR_ARG',
    );
  }
  if (r.hiddenSize % r.heads !== 0) {
    throw new NRNMError(`hiddenSize must be divisible by heads (got ${r.hiddenSize} and ${r.heads})`, 'ERR_ARG');
  }
  return r;
}
