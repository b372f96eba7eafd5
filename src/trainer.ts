/**
 * Trainer: the native training step (forward, cross-entropy, backward,
 * clipping, optimizer, scheduler in C++ on the model's device, off the event
 * loop) driven from TypeScript: epochs, batches, callbacks, checkpoints.
 */
import { mkdir } from 'node:fs/promises';
import * as path from 'node:path';

import { CHOICES, type Choice } from './choices';
import { ASYNC_DISPOSE, DISPOSE } from './dispose';
import { FitMonitor, type MonitoredBest } from './fit-monitor';
import { checkpointHeader, fromStoredOptions, readCheckpoint, writeCheckpoint, type CheckpointHeader } from './checkpoint';
import type { SequenceDataset } from './data/dataset';
import { agreementOf, applyRankThreads, resolveDistributed, type DistributedOptions, type ResolvedDistributed } from './distributed';
import { checkKeys, intOption, oneOf } from './validate';
import { NRNMError, argError } from './errors';
import { prepareLengths, prepareTargets, prepareSequences, release, type LengthsInput, type TargetInput, type SequenceInput } from './inputs';
import { NRNMClassifier } from './model';
import { native, type NativeTrainerHandle, type NativeTrainerOptions, type Precision } from './native';
import type { DeviceSpec } from './options';
import { Tensor } from './tensor';

export interface TrainerOptions {
  /** 'adam' (weight decay added to the gradient, as torch.optim.Adam; official) or 'adamw'. */
  optimizer?: Choice<'optimizer'>;
  /** Learning rate (default 1e-3, official). */
  lr?: number;
  /** Weight decay (default 1e-4, official). */
  weightDecay?: number;
  /** Adam betas (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Adam epsilon (default 1e-8). */
  eps?: number;
  /**
   * Per epoch, as torch.optim.lr_scheduler: 'step' (StepLR, official),
   * 'cosine' (CosineAnnealingLR over `tMax` epochs down to `minLr`),
   * 'plateau' (ReduceLROnPlateau on the `monitor`ed evaluation: factor
   * `gamma`, `patience`, `minLr`) or 'none'.
   */
  scheduler?: Choice<'scheduler'>;
  /** Epochs between learning-rate decays (default 600, official). */
  stepSize?: number;
  /** Decay factor of 'step' (default 0.1, official) and of 'plateau' (then in (0, 1)). */
  gamma?: number;
  /** 'cosine': the epochs of the half cosine (PyTorch's T_max); needed with 'cosine'. */
  tMax?: number;
  /** 'cosine': the final learning rate (eta_min); 'plateau': the lowest (min_lr). Default 0. */
  minLr?: number;
  /** 'plateau': evaluations without improvement before a decay (default 10, PyTorch's). */
  patience?: number;
  /**
   * The evaluation metric that 'plateau', best.nrnm and early stopping
   * follow: 'accuracy' (higher is better; the default) or 'loss'.
   */
  monitor?: Choice<'monitor'>;
  /** Linear warm-up of the learning rate over the first N optimizer steps (LinearLR), for any scheduler; 0 = none. */
  warmupSteps?: number;
  /** Maximum global gradient norm; 0 turns clipping off (default 0, official). */
  clip?: number;
  /** 'fp32' (default), 'tf32' or 'bf16' (the last two on CUDA only). */
  precision?: Precision;
  /**
   * Data-parallel training with other processes over c10d (README "Training
   * on several GPUs or machines"; `distributedFromEnv()` reads torchrun's
   * variables). Not saved in checkpoints: a run resumes with any world size.
   */
  distributed?: DistributedOptions;
}

export interface StepResult {
  /** Mean cross-entropy of the batch, before the update. */
  loss: number;
  /** Sequences of the batch whose argmax logit is the label. */
  correct: number;
  /** Global L2 norm of the gradients, before clipping. */
  gradNorm: number;
  /** Sequences of the batch (of all ranks together when distributed). */
  batchSize: number;
  /** What loss and correct cover: sequences, or valid steps for per-step tasks. */
  targets: number;
  /** Milliseconds spent averaging the gradients over the ranks (0 on one process). */
  allreduceMs: number;
}

export interface EvaluateResult {
  /** The task's mean loss (cross-entropy, or squared error for regress-steps). */
  loss: number;
  correct: number;
  /** Targets scored: sequences, or valid steps for per-step tasks. */
  total: number;
  accuracy: number;
}

export interface StepEvent extends StepResult {
  epoch: number;
  /** Batch index within the epoch. */
  batch: number;
  batches: number;
  /** Optimizer steps so far (this one included). */
  step: number;
  /** The learning rate this step used. */
  lr: number;
  /** Training sequences per second over this step. */
  sequencesPerSecond: number;
}

export interface EpochEvent {
  epoch: number;
  step: number;
  lr: number;
  train: { loss: number; accuracy: number; sequences: number; seconds: number };
  eval?: EvaluateResult;
}

export interface FitOptions {
  epochs: number;
  batchSize?: number;
  /** Shuffle the training data each epoch (default true), in an order fixed by (seed, epoch). */
  shuffle?: boolean;
  /** Seed of the data order (default 0). The model's own seed drives dropout. */
  seed?: number;
  dropLast?: boolean;
  evalData?: SequenceDataset;
  /** Evaluate every N epochs (default 1) when evalData is given. */
  evalEvery?: number;
  /** Writes last.nrnm after every epoch (and on abort), best.nrnm on a new best eval accuracy. */
  checkpointDir?: string;
  /** Stop after this many optimizer steps in total (for quick runs). */
  maxSteps?: number;
  onStep?: (event: StepEvent) => void | Promise<void>;
  onEpoch?: (event: EpochEvent) => void | Promise<void>;
  /** Stops at the next batch boundary and writes last.nrnm (when checkpointDir is given). */
  signal?: AbortSignal;
  /**
   * Early stopping: ends the run when the trainer's `monitor` metric of the
   * evaluation (of the training epoch without evalData) has not improved
   * for this many evaluations; best.nrnm holds the best model. Off by default.
   */
  earlyStop?: number;
  /** Called in order after each step and each epoch; one that returns 'stop' ends the run (last.nrnm is written). */
  callbacks?: FitCallback[];
}

/** A fit() callback (FitOptions.callbacks): each method may return 'stop' to end the run. */
export interface FitCallback {
  /** After each step; 'stop' ends the run before the next one. */
  onStepEnd?: (event: StepEvent) => void | 'stop' | Promise<void | 'stop'>;
  /** After each epoch (its evaluation and checkpoints); 'stop' ends the run there. */
  onEpochEnd?: (event: EpochEvent) => void | 'stop' | Promise<void | 'stop'>;
}

export interface FitResult {
  epochs: EpochEvent[];
  steps: number;
  /** Why fit() returned. */
  stopped: 'completed' | 'aborted' | 'max-steps' | 'early-stop' | 'callback';
  /** Why, in words, for 'early-stop' and 'callback'. */
  reason?: string;
  /** The best evaluation by the trainer's `monitor` (best.nrnm). */
  best?: MonitoredBest;
}

/** Where a checkpoint left training: the next batch is `batch` of `epoch`. */
export interface Progress {
  epoch: number;
  batch: number;
  step: number;
  /** Early stopping's state: the best monitored result so far and the evaluations since it (absent before the first). */
  best?: MonitoredBest;
  sinceBest?: number;
}

type ResolvedTrainerOptions = Required<Omit<TrainerOptions, 'betas' | 'distributed'>> & { betas: [number, number] };

/** Every TrainerOptions key (the schema of the API, of config files' "trainer" and, through FLAG_NAMES, of the flags). */
export const TRAINER_KEYS = [
  'optimizer',
  'lr',
  'weightDecay',
  'betas',
  'eps',
  'scheduler',
  'stepSize',
  'gamma',
  'tMax',
  'minLr',
  'patience',
  'monitor',
  'warmupSteps',
  'clip',
  'precision',
  'distributed',
] as const;
/** Every FitOptions key. */
export const FIT_KEYS = [
  'epochs',
  'batchSize',
  'shuffle',
  'seed',
  'dropLast',
  'evalData',
  'evalEvery',
  'checkpointDir',
  'maxSteps',
  'onStep',
  'onEpoch',
  'signal',
  'earlyStop',
  'callbacks',
] as const;

function nonNegative(name: string, value: unknown, fallback: number, positive = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (positive && value === 0)) {
    throw argError(name, positive ? 'a positive number' : 'a non-negative number', value);
  }
  return value;
}

/** The trainer's defaults (the official script's); C++ has the same (test/options-defaults.test.ts). */
export const DEFAULT_TRAINER_OPTIONS: Readonly<ResolvedTrainerOptions> = Object.freeze<ResolvedTrainerOptions>({
  optimizer: 'adam',
  lr: 1e-3,
  weightDecay: 1e-4,
  betas: [0.9, 0.999],
  eps: 1e-8,
  scheduler: 'step',
  stepSize: 600,
  gamma: 0.1,
  tMax: 0,
  minLr: 0,
  patience: 10,
  monitor: 'accuracy',
  warmupSteps: 0,
  clip: 0,
  precision: 'fp32',
});

export function resolveTrainerOptions(options: TrainerOptions = {}): ResolvedTrainerOptions {
  checkKeys(options, TRAINER_KEYS, 'Trainer');
  const d = DEFAULT_TRAINER_OPTIONS;
  const betas = options.betas ?? d.betas;
  if (!Array.isArray(betas) || betas.length !== 2 || !betas.every((b) => typeof b === 'number' && b >= 0 && b < 1)) {
    throw argError('betas', 'two numbers in [0, 1)', betas);
  }
  const resolved: ResolvedTrainerOptions = {
    optimizer: oneOf('optimizer', options.optimizer, CHOICES.optimizer, d.optimizer),
    lr: nonNegative('lr', options.lr, d.lr, true),
    weightDecay: nonNegative('weightDecay', options.weightDecay, d.weightDecay),
    betas: [betas[0], betas[1]],
    eps: nonNegative('eps', options.eps, d.eps, true),
    scheduler: oneOf('scheduler', options.scheduler, CHOICES.scheduler, d.scheduler),
    stepSize: intOption('stepSize', options.stepSize, d.stepSize, 1),
    gamma: nonNegative('gamma', options.gamma, d.gamma, true),
    tMax: intOption('tMax', options.tMax, d.tMax, 0),
    minLr: nonNegative('minLr', options.minLr, d.minLr),
    patience: intOption('patience', options.patience, d.patience, 0),
    monitor: oneOf('monitor', options.monitor, CHOICES.monitor, d.monitor),
    warmupSteps: intOption('warmupSteps', options.warmupSteps, d.warmupSteps, 0),
    clip: nonNegative('clip', options.clip, d.clip),
    precision: oneOf('precision', options.precision, CHOICES.precision, d.precision),
  };
  if (resolved.scheduler === 'cosine' && resolved.tMax < 1) {
    throw new NRNMError(`scheduler 'cosine' needs tMax, the epochs of the cosine (an integer >= 1; got ${resolved.tMax})`, 'ERR_ARG');
  }
  if (resolved.scheduler === 'plateau' && !(resolved.gamma < 1)) {
    throw new NRNMError(`scheduler 'plateau' needs gamma, its factor, in (0, 1) (got ${resolved.gamma})`, 'ERR_ARG');
  }
  return resolved;
}

function toNative(o: ResolvedTrainerOptions): NativeTrainerOptions {
  const { betas, ...rest } = o;
  return { ...rest, beta1: betas[0], beta2: betas[1] };
}

/**
 * The stored progress of a checkpoint being resumed: non-negative integers,
 * consistent with the trainer state stored beside it (its step count and
 * at most its epoch count), so that a hand-edited or corrupt header cannot resume at a
 * position the run never reached. Names the file.
 */
function checkedProgress(file: string, stored: unknown, counts: { steps: number; epochs: number }): Progress {
  if (stored === null || stored === undefined) return { epoch: counts.epochs, batch: 0, step: counts.steps };
  const bad = (what: string): NRNMError =>
    new NRNMError(`${file}: the stored progress ${JSON.stringify(stored).slice(0, 200)} is invalid: ${what}; the file is corrupt or was edited`, 'ERR_FORMAT');
  if (typeof stored !== 'object' || Array.isArray(stored)) throw bad('expected an object { epoch, batch, step }');
  const p = stored as Record<string, unknown>;
  for (const key of ['epoch', 'batch', 'step'] as const) {
    const v = p[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`${key} must be a non-negative integer but is ${JSON.stringify(v) ?? 'missing'}`);
  }
  const progress = { epoch: p['epoch'] as number, batch: p['batch'] as number, step: p['step'] as number };
  if (progress.step !== counts.steps) throw bad(`step ${progress.step} differs from the ${counts.steps} optimizer steps of its trainer state`);
  // fit() counts epochs from 0 on each call while the trainer's count goes on: at most, not equal.
  if (progress.epoch > counts.epochs) throw bad(`epoch ${progress.epoch} is past the ${counts.epochs} epochs of its trainer state`);
  if (progress.batch > progress.step) throw bad(`batch ${progress.batch} is past its ${progress.step} steps`);
  if (p['sinceBest'] !== undefined) {
    const since = p['sinceBest'];
    if (typeof since !== 'number' || !Number.isSafeInteger(since) || since < 0)
      throw bad(`sinceBest must be a non-negative integer but is ${JSON.stringify(since)}`);
    (progress as Progress).sinceBest = since;
  }
  if (p['best'] !== undefined) {
    const b = p['best'] as Record<string, unknown> | null;
    const ok = b !== null && typeof b === 'object' && Number.isSafeInteger(b['epoch']) && typeof b['accuracy'] === 'number' && typeof b['loss'] === 'number';
    if (!ok) throw bad('best must be an object { epoch, accuracy, loss }');
    (progress as Progress).best = { epoch: b['epoch'] as number, accuracy: b['accuracy'] as number, loss: b['loss'] as number };
  }
  return progress;
}

export class Trainer {
  readonly model: NRNMClassifier;
  readonly options: Readonly<ResolvedTrainerOptions>;
  /** The data-parallel group this trainer joins on its first step, or null. */
  readonly distributed: Readonly<ResolvedDistributed> | null;
  readonly #handle: NativeTrainerHandle;
  #disposed = false;
  #joined: Promise<void> | undefined;

  constructor(model: NRNMClassifier, options: TrainerOptions = {}) {
    if (!(model instanceof NRNMClassifier)) throw argError('model', 'an NRNMClassifier', model);
    this.model = model;
    this.options = Object.freeze(resolveTrainerOptions(options));
    this.distributed = options.distributed === undefined ? null : Object.freeze(resolveDistributed(options.distributed));
    if (this.options.precision !== 'fp32' && !model.device.startsWith('cuda')) {
      throw new NRNMError(
        `precision '${this.options.precision}' needs a CUDA device; the model is on ${model.device}. Use precision 'fp32' on the CPU.`,
        'ERR_ARG',
      );
    }
    if (this.options.scheduler === 'plateau') this.#checkMonitor("scheduler 'plateau'");
    this.#handle = new (native().TrainerHandle)(model.native().handle, toNative(this.options));
  }

  /** A regression has no accuracy to follow (it is always 0): the plateau and early stopping need monitor 'loss'. */
  #checkMonitor(what: string): void {
    if (this.model.options.task === 'regress-steps' && this.options.monitor === 'accuracy') {
      throw new NRNMError(`${what} follows monitor 'accuracy', which task 'regress-steps' does not have; use monitor 'loss'`, 'ERR_ARG');
    }
  }

  /**
   * One optimisation step on a batch, in training mode, off the event loop.
   * `lengths` (B values in [1, T]): each sequence's valid steps; padding
   * past them changes nothing and adds nothing to the loss.
   */
  async step(x: SequenceInput, labels: TargetInput, lengths?: LengthsInput): Promise<StepResult> {
    await this.#join();
    const input = prepareSequences(x, this.model.options.inputSize);
    let steps: ReturnType<typeof prepareLengths>;
    try {
      steps = prepareLengths(lengths, input.tensor.shape);
      const y = prepareTargets(labels, input.tensor.shape, this.model.options, 'labels', steps);
      try {
        const r = await this.#run(() => this.#handle.step(input.tensor.handle(), y.tensor.handle(), steps?.tensor.handle()));
        return { loss: r.loss, correct: r.correct, gradNorm: r.gradNorm, batchSize: r.samples, targets: r.targets, allreduceMs: r.allreduceMs };
      } finally {
        release(y);
      }
    } finally {
      release(input, steps);
    }
  }

  /** Loss and accuracy in eval mode without autograd (the model's mode is restored). */
  async evaluate(x: SequenceInput, labels: TargetInput, lengths?: LengthsInput): Promise<EvaluateResult & { logits: Tensor<'float32'> }> {
    const input = prepareSequences(x, this.model.options.inputSize);
    let steps: ReturnType<typeof prepareLengths>;
    try {
      steps = prepareLengths(lengths, input.tensor.shape);
      const y = prepareTargets(labels, input.tensor.shape, this.model.options, 'labels', steps);
      try {
        const r = await this.#run(() => this.#handle.evaluate(input.tensor.handle(), y.tensor.handle(), steps?.tensor.handle()));
        const total = r.targets;
        return { loss: r.lossSum / total, correct: r.correct, total, accuracy: r.correct / total, logits: Tensor.fromHandle<'float32'>(r.logits) };
      } finally {
        release(y);
      }
    } finally {
      release(input, steps);
    }
  }

  /** Loss and accuracy over a whole dataset, in eval mode (data-parallel: each rank a part, summed). */
  async evaluateDataset(data: SequenceDataset, batchSize = 256): Promise<EvaluateResult> {
    let lossSum = 0;
    let correct = 0;
    let total = 0;
    const d = this.distributed;
    // Contiguous parts without padding, so every row counts exactly once.
    const first = d ? Math.floor((data.length * d.rank) / d.worldSize) : 0;
    const end = d ? Math.floor((data.length * (d.rank + 1)) / d.worldSize) : data.length;
    for (let start = first; start < end; start += batchSize) {
      const batch = await data.readRange(start, Math.min(batchSize, end - start));
      const r = await this.evaluate({ data: batch.x, shape: batch.shape }, batch.targets ?? batch.y, batch.lengths);
      r.logits.dispose();
      lossSum += r.loss * r.total;
      correct += r.correct;
      total += r.total;
    }
    if (d) {
      await this.#join();
      [lossSum, correct, total] = (await this.#run(() => this.#handle.sumOverRanks([lossSum, correct, total]))) as [number, number, number];
    }
    return { loss: total ? lossSum / total : NaN, correct, total, accuracy: total ? correct / total : NaN };
  }

  /** Learning rate of the next step. */
  get lr(): number {
    this.#live();
    return this.#handle.lr();
  }

  set lr(value: number) {
    this.#live();
    this.#handle.setLr(nonNegative('lr', value, 0, true));
  }

  /**
   * Ends an epoch: steps the scheduler; 'plateau' takes `metric`, the
   * epoch's evaluation of the `monitor` option (without one it waits).
   */
  endEpoch(metric?: number): void {
    this.#live();
    if (metric !== undefined && (typeof metric !== 'number' || Number.isNaN(metric))) throw argError('metric', 'a number', metric);
    this.#handle.endEpoch(metric);
  }

  /** Optimizer steps and epochs so far. */
  get counts(): { steps: number; epochs: number } {
    this.#live();
    return this.#handle.counts();
  }

  /**
   * Writes a checkpoint (model options and parameters, generator, optimizer
   * and scheduler state, progress, metrics) atomically.
   */
  async save(file: string, extra: { progress?: Progress; seed?: number; metrics?: Record<string, unknown> } = {}): Promise<void> {
    const bytes = await this.#run(() => {
      const counts = this.#handle.counts(); // in the queue: after the steps queued before
      const header = checkpointHeader({
        model: { ...this.model.options },
        trainer: { ...this.options },
        progress: extra.progress ?? { epoch: counts.epochs, batch: 0, step: counts.steps },
        seed: extra.seed,
        metrics: extra.metrics,
      });
      return this.#handle.save(JSON.stringify(header));
    });
    await writeCheckpoint(file, bytes);
  }

  /**
   * Rebuilds model and trainer from a checkpoint written by save() or fit(),
   * ready to continue exactly where it stopped.
   */
  static async resume(
    file: string,
    options: { device?: DeviceSpec | string; distributed?: DistributedOptions } = {},
  ): Promise<{ trainer: Trainer; progress: Progress; seed: number | null; header: CheckpointHeader }> {
    const { header, bytes } = await readCheckpoint(file);
    if (!header.trainer) {
      throw new NRNMError(`${file} holds a model without trainer state; load it with NRNMClassifier.load()`, 'ERR_FORMAT');
    }
    const model = fromStoredOptions(file, () => new NRNMClassifier({ ...header.model, device: options.device ?? 'auto' }));
    try {
      const trainer = new Trainer(model, { ...(header.trainer as TrainerOptions), ...(options.distributed ? { distributed: options.distributed } : {}) });
      await trainer.#run(() => trainer.#handle.load(bytes, file));
      const progress = checkedProgress(file, header.progress, trainer.counts);
      return { trainer, progress, seed: header.seed, header };
    } catch (err) {
      model.dispose();
      throw err;
    }
  }

  /**
   * Trains for `epochs` epochs over `data`. With `resumeFrom` (from
   * Trainer.resume) it continues mid-run and gives the same losses as an
   * uninterrupted run on the CPU.
   */
  async fit(data: SequenceDataset, options: FitOptions, resumeFrom?: Progress): Promise<FitResult> {
    checkKeys(options, FIT_KEYS, 'fit()');
    const epochs = intOption('epochs', options.epochs, 0, 1);
    const batchSize = intOption('batchSize', options.batchSize, 256, 1);
    const seed = intOption('seed', options.seed, 0, 0);
    const evalEvery = intOption('evalEvery', options.evalEvery, 1, 1);
    const maxSteps = options.maxSteps === undefined ? Infinity : intOption('maxSteps', options.maxSteps, 0, 1);
    const earlyStop = options.earlyStop === undefined ? 0 : intOption('earlyStop', options.earlyStop, 0, 1);
    if (earlyStop > 0) this.#checkMonitor('earlyStop');
    const shuffle = options.shuffle ?? true;
    const dropLast = options.dropLast ?? false;
    if (data.features !== this.model.options.inputSize) {
      throw new NRNMError(`The data has ${data.features} features per step but the model's inputSize is ${this.model.options.inputSize}`, 'ERR_SHAPE');
    }
    if (this.model.options.task === 'regress-steps') {
      if (data.targets?.outputs !== this.model.options.classes) {
        throw new NRNMError(
          `Task 'regress-steps' needs a dataset with per-step targets of ${this.model.options.classes} values (the model's classes); ${data.name} has ${data.targets ? data.targets.outputs : 'none'}`,
          'ERR_SHAPE',
        );
      }
    } else if (data.classes > this.model.options.classes) {
      throw new NRNMError(`The data has ${data.classes} classes but the model only ${this.model.options.classes}`, 'ERR_SHAPE');
    }
    await this.#join();
    // Data-parallel: only rank 0 writes checkpoints; each rank takes its
    // share of every batch (batchSize stays the batch of all ranks together).
    const d = this.distributed;
    const world = d?.worldSize ?? 1;
    const rankBatch = Math.ceil(batchSize / world);
    const shard = d ? { shard: { rank: d.rank, count: world } } : {};
    const checkpoint = (name: string) => (options.checkpointDir && (d?.rank ?? 0) === 0 ? path.join(options.checkpointDir, name) : undefined);
    // The checkpoint folder is made once, up front: the atomic writer puts its
    // temp file beside the target and never creates folders itself.
    if (checkpoint('.')) await mkdir(options.checkpointDir!, { recursive: true });
    const result: FitResult = { epochs: [], steps: this.counts.steps, stopped: 'completed' };
    // A regression's accuracy is always 0: its best.nrnm follows the loss (a plateau or early stop on accuracy was refused above).
    const monitor = this.model.options.task === 'regress-steps' ? 'loss' : this.options.monitor;
    const callbacks = options.callbacks ?? [];
    if (!Array.isArray(callbacks)) throw argError('callbacks', 'an array of { onStepEnd?, onEpochEnd? } objects', callbacks);
    // A resumed run goes on counting from the best of the run it continues.
    const tracker = new FitMonitor(monitor, options.evalData ? 'eval' : 'train', resumeFrom);
    if (options.evalData && tracker.best) result.best = { ...tracker.best };
    let stopRequest = '';
    const batches = data.batchCount(rankBatch, { dropLast, shards: world });
    if (d) {
      // What decides each rank's collectives (steps, evaluations): ranks
      // that differ here would wait for each other or fail inside Gloo.
      const facts: Array<[string, string]> = [
        ['fit epochs', String(epochs)],
        ['fit batchSize', String(batchSize)],
        ['fit batches per epoch', String(batches)],
        // Each rank takes its shard of one shuffled order: other seeds would
        // overlap the shards silently.
        ['fit shuffle', String(shuffle)],
        ['fit data-order seed', String(seed)],
        ['fit training rows', String(data.length)],
        ['fit maxSteps', String(maxSteps)],
        ['fit evalEvery', String(evalEvery)],
        ['fit evalData rows', options.evalData ? String(options.evalData.length) : 'none'],
        ['fit resumes from', JSON.stringify(resumeFrom ?? null)],
      ];
      await this.#run(() => this.#handle.agreeOverRanks(facts, 'fit'));
    }
    let epoch = resumeFrom?.epoch ?? 0;
    let skip = resumeFrom?.batch ?? 0;

    for (; epoch < epochs; epoch++) {
      this.model.train();
      const started = performance.now();
      let lossSum = 0;
      let correct = 0;
      let seen = 0; // targets: sequences, or valid steps for per-step tasks
      let sequences = 0;
      let batchIndex = 0;
      const iterator = data.batches(rankBatch, { shuffle, seed, epoch, dropLast, ...shard });
      for await (const batch of iterator) {
        if (batchIndex < skip) {
          batchIndex++;
          continue;
        }
        const aborted = await this.#anyRankAborted(options.signal);
        if (aborted || result.steps >= maxSteps || stopRequest) {
          result.stopped = aborted ? 'aborted' : stopRequest ? 'callback' : 'max-steps';
          if (stopRequest && !aborted) result.reason = stopRequest;
          await iterator.return?.();
          const file = checkpoint('last.nrnm');
          if (file)
            await this.save(file, { progress: { epoch, batch: batchIndex, step: result.steps, ...tracker.state() }, seed, metrics: { epochs: result.epochs } });
          return result;
        }
        const lr = this.lr; // the rate this step uses (warm-up changes it every step)
        const t0 = performance.now();
        const r = await this.step({ data: batch.x, shape: batch.shape }, batch.targets ?? batch.y, batch.lengths);
        const seconds = (performance.now() - t0) / 1000;
        result.steps += 1;
        lossSum += r.loss * r.targets;
        correct += r.correct;
        seen += r.targets;
        sequences += r.batchSize;
        const stepEvent: StepEvent = {
          ...r,
          epoch,
          batch: batchIndex,
          batches,
          step: result.steps,
          lr,
          sequencesPerSecond: r.batchSize / Math.max(seconds, 1e-9),
        };
        await options.onStep?.(stepEvent);
        for (const c of callbacks) if ((await c.onStepEnd?.(stepEvent)) === 'stop') stopRequest ||= `a callback stopped the run after step ${result.steps}`;
        batchIndex++;
      }
      skip = 0;
      const train = { loss: seen ? lossSum / seen : NaN, accuracy: seen ? correct / seen : NaN, sequences, seconds: (performance.now() - started) / 1000 };
      const evaluation = options.evalData && (epoch + 1) % evalEvery === 0 ? await this.evaluateDataset(options.evalData, batchSize) : undefined;
      // What the plateau, best.nrnm and early stopping follow: the evaluation, or the epoch itself without evalData.
      const monitored = evaluation ?? (options.evalData ? undefined : train);
      const metric = monitored?.[monitor];
      this.endEpoch(metric !== undefined && Number.isFinite(metric) ? metric : undefined);
      const event: EpochEvent = { epoch, step: result.steps, lr: this.lr, train, ...(evaluation ? { eval: evaluation } : {}) };
      result.epochs.push(event);
      const progress = { epoch: epoch + 1, batch: 0, step: result.steps };
      if (monitored && tracker.update(epoch, monitored) && evaluation) {
        result.best = { ...tracker.best! };
        const best = checkpoint('best.nrnm');
        if (best) await this.save(best, { progress, seed, metrics: { epoch: event } });
      }
      const last = checkpoint('last.nrnm');
      if (last) await this.save(last, { progress: { ...progress, ...tracker.state() }, seed, metrics: { epochs: result.epochs } });
      await options.onEpoch?.(event);
      for (const c of callbacks) if ((await c.onEpochEnd?.(event)) === 'stop') stopRequest ||= `a callback stopped the run after epoch ${epoch + 1}`;
      if (earlyStop > 0 && tracker.sinceBest >= earlyStop) {
        result.stopped = 'early-stop';
        result.reason = tracker.reason();
        return result;
      }
      if (stopRequest) {
        result.stopped = 'callback';
        result.reason = stopRequest;
        return result;
      }
    }
    return result;
  }

  /** Frees the optimizer state. Idempotent; the model stays usable. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#handle.dispose();
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** `using trainer = new Trainer(model)`: dispose() at the end of the block (the model is its own). */
  [DISPOSE](): void {
    this.dispose();
  }

  /** `await using`: waits for the steps already queued (a step not awaited), then disposes. */
  async [ASYNC_DISPOSE](): Promise<void> {
    if (this.#disposed) return;
    if (!this.model.disposed)
      await this.model
        .native()
        .queue.run(() => undefined)
        .catch(() => undefined);
    this.dispose();
  }

  /** Joins the group once, before the first collective (after a resume's load). */
  #join(): Promise<void> {
    const d = this.distributed;
    if (!d) return Promise.resolve();
    if (!this.#joined && this.model.device === 'cpu') applyRankThreads(d.localWorldSize);
    this.#joined ??= this.#run(() => this.#handle.join({ ...d, agreement: agreementOf(this.model.options, this.options) }));
    return this.#joined;
  }

  /** Whether the signal was aborted here or on another rank: all ranks stop at the same step. */
  async #anyRankAborted(signal: AbortSignal | undefined): Promise<boolean> {
    const here = signal?.aborted ?? false;
    if (!this.distributed) return here;
    const [count] = await this.#run(() => this.#handle.sumOverRanks([here ? 1 : 0]));
    return (count ?? 0) > 0;
  }

  #run<T>(task: () => Promise<T> | T): Promise<T> {
    this.#live();
    return this.model.native().queue.run(task);
  }

  #live(): void {
    if (this.#disposed) throw new NRNMError('The Trainer was disposed', 'ERR_DISPOSED');
    this.model.native();
  }
}
