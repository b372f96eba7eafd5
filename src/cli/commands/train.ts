/**
 * `nrnm-native train`: trains an NRNM classifier into a run directory
 * (config.json, metrics.jsonl, last.nrnm, best.nrnm, curves.svg,
 * confusion.svg, eval.json), with progress, Ctrl-C and --resume.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { type Command, Option } from 'commander';

import type { SequenceDataset } from '../../data';
import { NRNMError } from '../../errors';
import { distributedFromEnv, rankDevice, type DistributedOptions } from '../../distributed';
import { NRNMClassifier, Trainer, resolveModelOptions, runtimeReport, type EpochEvent, type FitOptions, type StepEvent, type TrainerOptions } from '../../index';
import { DEFAULT_MODEL_OPTIONS } from '../../options';
import { DEFAULT_TRAINER_OPTIONS } from '../../trainer';
import { DATASET_KINDS, type DataFlags, type DatasetKind, NTU_SPLITS, type NtuSplitFlag, type OpenedData, openData } from '../data';
import { evaluateModel, formatEvaluation } from '../evaluation';
import { CliExit, choice, deviceFlag, nonNegativeInt, positiveInt, usageError, withFlagNames } from '../flags';
import { onInterrupt } from '../interrupt';
import {
  FASHION_DEFAULTS,
  FLAG_NAMES,
  NPY_DEFAULTS,
  NTU_DEFAULTS,
  type Defaults,
  type ModelFlagValues,
  type TrainerFlagValues,
  addModelFlags,
  addTrainerFlags,
  defaultsFor,
  resolveModelFlags,
  resolveTrainerFlags,
  splitAlias,
  variantOptions,
} from '../model-flags';
import { launchWorkers } from '../launch';
import { Output, ProgressLine, formatDuration } from '../output';
import { RunDir } from '../run-dir';

interface TrainFlags extends ModelFlagValues, TrainerFlagValues {
  dataset?: DatasetKind;
  data?: string;
  split?: NtuSplitFlag;
  data_mode?: 'cs' | 'cv';
  limit?: number;
  preprocessed?: string;
  seed?: number;
  device: string;
  evalEvery?: number;
  maxSteps?: number;
  out?: string;
  resume?: string;
  sb?: string;
  finalEval: boolean;
  json?: boolean;
  quiet?: boolean;
  nproc?: number;
  distTimeout?: number;
}

/** Flags fixed by the run being resumed (its checkpoint and config.json hold them). */
const FIXED_ON_RESUME = [
  'dataset', 'data', 'split', 'data_mode', 'limit', 'preprocessed', 'seed', 'batchSize', 'out', 'sb',
  'variant', 'layers', 'hidden', 'blockLength', 'stride', 'heads', 'aggregation', 'zoneout', 'zoneoutMode', 'memoryDropout',
  'memoryDropoutMode', 'aggregationDropout', 'init', 'head', 'nlayers', 'nhid', 'bl', 'dm',
  'lr', 'weightDecay', 'wd', 'optimizer', 'clip', 'scheduler', 'stepSize', 'gamma', 'precision',
]; // prettier-ignore

function flagOf(attribute: string): string {
  if (['data_mode', 'nlayers', 'nhid', 'bl', 'dm', 'wd', 'sb', 'cell_type'].includes(attribute)) return `--${attribute}`;
  return `--${attribute.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

function describeDefaults(name: string, d: Defaults): string {
  const m = { ...DEFAULT_MODEL_OPTIONS, ...d.model, ...variantOptions(d.variant) };
  const k = m.blockLength;
  const s = m.stride;
  const aggregation = m.inputAggregation === 'dilated' && (k !== 10 || s !== 5) ? 'strided' : m.inputAggregation;
  const t = { ...DEFAULT_TRAINER_OPTIONS, ...d.trainer } as Required<TrainerOptions>;
  const schedule = t.scheduler === 'step' ? `--scheduler step --step-size ${t.stepSize} --gamma ${t.gamma}` : '--scheduler none';
  return [
    `  ${name}:`,
    `    --variant ${d.variant} --hidden ${m.hiddenSize} --layers ${m.layers} --block-length ${k} --stride ${s} --heads ${m.heads} --aggregation ${aggregation}`,
    `    --epochs ${d.epochs} --batch-size ${d.batchSize} --lr ${t.lr} --weight-decay ${t.weightDecay} --clip ${t.clip} ${schedule} --eval-every ${d.evalEvery}`,
  ].join('\n');
}

export function trainHelp(): string {
  return [
    '',
    'Defaults depend on --dataset (flags override them):',
    describeDefaults('fashion-mnist (the default; 28 steps of 28 pixels; no download once Debian\'s dataset-fashion-mnist is installed)', FASHION_DEFAULTS),
    '    a small model: `nrnm-native train` takes 3.5 to 5 minutes on 2 CPU cores and reaches about 88% test accuracy',
    describeDefaults('ntu, ntu-preprocessed (the official script: action_mylstm_cv.py)', NTU_DEFAULTS),
    describeDefaults('npy', NPY_DEFAULTS),
    `  every dataset: --zoneout ${DEFAULT_MODEL_OPTIONS.zoneout} --memory-dropout ${DEFAULT_MODEL_OPTIONS.memoryDropout} --aggregation-dropout ${DEFAULT_MODEL_OPTIONS.aggregationDropout} --seed ${DEFAULT_MODEL_OPTIONS.seed} --device auto --precision ${DEFAULT_TRAINER_OPTIONS.precision}`,
    '',
    'The official script\'s flags work as aliases: --nlayers, --nhid, --bl (block length), --dm (zoneout), --wd,',
    '--data_mode CV|CS (= --split cv|cs, implies --dataset ntu), --cell_type ORG_MEMO, --sb NAME (run directory runs/NAME):',
    '  nrnm-native train --nlayers=2 --data_mode=CV --lr=0.001 --cell_type=ORG_MEMO --nhid=512 --sb=cv_MEMO_512_2layer',
    '',
    'Data: --dataset ntu reads --data (default datasets/Skeleton, as the official README) holding either the',
    'preprocessed xsub/ and xview/ folders or the raw .skeleton files (preprocessed once into --preprocessed).',
    '--dataset npy reads --data DIR with train_x.npy + train_y.npy (or train_label.pkl) and test_x.npy + test_y.npy.',
    '',
    'The run directory (--out, default runs/<dataset>-<date>-<time>) gets config.json, metrics.jsonl, last.nrnm,',
    'best.nrnm, curves.svg, and after the final evaluation eval.json and confusion.svg.',
    'Ctrl-C stops after the current step and writes last.nrnm (exit code 130); --resume RUN_DIR continues.',
    'Output: a progress bar on a terminal, a line every 10 s otherwise (NRNM_PROGRESS_INTERVAL=seconds),',
    '--json for one JSON object per line, --quiet for the final result only.',
  ].join('\n');
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train an NRNM classifier (default: sequential Fashion-MNIST, a few minutes on a CPU)')
    .addOption(choice('--dataset <name>', 'fashion-mnist (default), ntu, ntu-preprocessed or npy', DATASET_KINDS))
    .option('--data <dir>', 'where the dataset is (see below)')
    .addOption(choice('--split <split>', 'NTU benchmark: cs (cross-subject, default), cv (cross-view), cset (NTU-120)', NTU_SPLITS))
    .option('--limit <n>', 'use only the first N sequences of the training and of the evaluation data (quick runs)', positiveInt)
    .option('--preprocessed <dir>', 'ntu: where raw skeletons are preprocessed to (default: <data>-preprocessed)')
    .addOption(new Option('--data_mode <mode>', 'official script: CV or CS').argParser(splitAlias).hideHelp());
  addModelFlags(cmd);
  addTrainerFlags(cmd);
  cmd
    .option('--seed <n>', 'seed of initialisation, dropout and data order (default 0)', nonNegativeInt)
    .option('--device <device>', 'auto, cpu, cuda or cuda:N', deviceFlag, 'auto')
    .option('--eval-every <n>', 'evaluate every N epochs (Fashion-MNIST and npy: 1, NTU: 5)', positiveInt)
    .option('--max-steps <n>', 'stop after N optimizer steps in total (quick runs); writes last.nrnm', positiveInt)
    .option('--out <dir>', 'run directory (default runs/<dataset>-<date>-<time>)')
    .option('--resume <dir>', 'continue the run in this directory from its last.nrnm')
    .option('--no-final-eval', 'skip the evaluation with per-class accuracy and confusion matrix at the end')
    .option('--json', 'one JSON object per line on stdout (events: start, step, epoch, evaluation, done)')
    .option('--quiet', 'print only the final result')
    .option('--nproc <n>', 'data-parallel: train with N worker processes on this machine (README "Training on several GPUs or machines")', positiveInt)
    .option('--dist-timeout <seconds>', 'data-parallel: how long a rank waits for the others before failing (default 300)', positiveInt)
    .addOption(new Option('--sb <name>', 'official script: run name (run directory runs/NAME)').hideHelp())
    .addHelpText('after', trainHelp())
    .action(async (flags: TrainFlags, command: Command) => {
      if (flags.nproc !== undefined && flags.nproc > 1) {
        await launchWorkers(flags.nproc, process.argv.slice(2));
        return;
      }
      await train(flags, command);
    });
}

function defaultRunDir(dataset: string): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, '0');
  const base = path.join('runs', `${dataset}-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`);
  let dir = base;
  for (let i = 2; fs.existsSync(dir); i++) dir = `${base}-${i}`;
  return dir;
}

interface Plan {
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
  return { dataset, data: flags.data, split, limit: flags.limit, preprocessed: flags.preprocessed };
}

function checkDataFits(train: SequenceDataset | undefined): SequenceDataset {
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

async function train(flags: TrainFlags, command: Command): Promise<void> {
  // Data-parallel: only rank 0 prints, writes the run directory and evaluates at the end.
  const out = new Output({ ...flags, silent: (distributedFromEnv()?.rank ?? 0) !== 0 });
  const interrupt = onInterrupt(out, 'finishing the current step, then writing last.nrnm');
  try {
    await trainWith(flags, command, out, interrupt);
  } catch (err) {
    // Ctrl-C while preprocessing or in the final evaluation.
    if (interrupt.signal.aborted && !(err instanceof CliExit)) throw new CliExit(interrupt.exitCode, 'interrupted');
    throw err;
  } finally {
    interrupt.dispose();
  }
}

async function trainWith(flags: TrainFlags, command: Command, out: Output, interrupt: ReturnType<typeof onInterrupt>): Promise<void> {
  const argv = ((command.parent as unknown as { rawArgs?: string[] } | null)?.rawArgs ?? process.argv).slice(2);
  const rank = rankOf(flags);
  const distributed = rank?.distributed;
  const device = rank?.device ?? flags.device;
  const main = (distributed?.rank ?? 0) === 0;
  let plan: Plan;
  let opened: OpenedData;
  if (flags.resume !== undefined) {
    const given = FIXED_ON_RESUME.filter((name) => command.getOptionValueSource(name) === 'cli');
    if (given.length > 0) {
      throw usageError(
        `${given.map(flagOf).join(', ')} cannot be changed when resuming: the run in ${flags.resume} keeps its data, model and optimizer settings (only --epochs, --max-steps, --eval-every, --device and the output flags can change)`,
      );
    }
    const run = RunDir.open(flags.resume);
    const config = run.readConfig();
    if (!config) throw new NRNMError(`--resume ${flags.resume}: its config.json is missing or unreadable`, 'ERR_FORMAT');
    const data = config['data'] as DataFlags;
    const fitConfig = config['fit'] as Plan['fit'];
    opened = await openData(data, { train: true, eval: true }, out, interrupt.signal);
    const { trainer, progress } = await Trainer.resume(run.file('last.nrnm'), { device, ...(distributed ? { distributed } : {}) });
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
    opened = await openData(data, { train: true, eval: true }, out, interrupt.signal);
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

  const { run, fit, trainer, model } = plan;
  const trainData = checkDataFits(opened.train);
  const evalData = opened.eval;
  const config = { ...plan.config, ...(distributed ? { distributed: { worldSize: distributed.worldSize } } : {}) };
  if (main) run.make();
  // A resumed run records itself in config.json once it has run: a --resume
  // that fails leaves the file as it was.
  if (main && !plan.resumeFrom) run.writeJson('config.json', config);
  const title = `NRNM on ${plan.data.dataset}${plan.data.split ? ` (${plan.data.split})` : ''}`;
  const parameters = Object.values(model.parameterShapes()).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  out.info(`run directory: ${run.dir}`);
  out.info(`data: ${trainData.name} ${trainData.length} sequences of ${trainData.steps} x ${trainData.features}${evalData ? `, eval on ${evalData.name} (${evalData.length})` : ', no evaluation data'}`);
  out.info(`model: ${model.toString()} on ${model.device}, ${parameters.toLocaleString('en-US')} parameters`);
  const t = trainer.options;
  out.info(
    `training: ${fit.epochs} epochs, batch ${fit.batchSize}, ${t.optimizer} lr ${t.lr} weight decay ${t.weightDecay}, clip ${t.clip || 'off'}, ` +
      `${t.scheduler === 'step' ? `StepLR ${t.stepSize}/${t.gamma}` : 'constant lr'}, ${t.precision}${fit.maxSteps ? `, at most ${fit.maxSteps} steps` : ''}`,
  );
  out.event('start', { runDir: run.dir, config: plan.config, trainSequences: trainData.length, evalSequences: evalData?.length ?? 0, parameters });

  const batches = trainData.batchCount(fit.batchSize);
  const started = performance.now();
  let progress: ProgressLine | undefined;
  let epochStats = { loss: 0, correct: 0, seen: 0, started: performance.now() };
  const onStep = (e: StepEvent): void => {
    if (!progress || e.batch === 0) {
      // This pass started when its first step did (a resumed run starts mid-epoch).
      const startedAt = performance.now() - (1000 * e.batchSize) / e.sequencesPerSecond;
      progress = new ProgressLine(out, `epoch ${e.epoch + 1}/${fit.epochs}`, e.batches, e.batch, startedAt);
      epochStats = { loss: 0, correct: 0, seen: 0, started: startedAt };
    }
    epochStats.loss += e.loss * e.batchSize;
    epochStats.correct += e.correct;
    epochStats.seen += e.batchSize;
    const accuracy = e.correct / e.batchSize;
    const rate = epochStats.seen / ((performance.now() - epochStats.started) / 1000);
    run.appendMetric({
      type: 'step',
      epoch: e.epoch,
      batch: e.batch,
      batches: e.batches,
      step: e.step,
      loss: e.loss,
      accuracy,
      correct: e.correct,
      batchSize: e.batchSize,
      gradNorm: e.gradNorm,
      lr: e.lr,
      sequencesPerSecond: e.sequencesPerSecond,
      ...(distributed ? { allreduceMs: e.allreduceMs } : {}),
      time: (performance.now() - started) / 1000,
    });
    out.event('step', { epoch: e.epoch, batch: e.batch, batches: e.batches, step: e.step, loss: e.loss, accuracy, gradNorm: e.gradNorm, lr: e.lr, sequencesPerSecond: e.sequencesPerSecond });
    progress.update(
      e.batch + 1,
      `loss ${(epochStats.loss / epochStats.seen).toFixed(4)} acc ${((100 * epochStats.correct) / epochStats.seen).toFixed(1)}% ${rate.toFixed(0)} seq/s`,
    );
    if (e.batch + 1 === e.batches && evalData && (e.epoch + 1) % fit.evalEvery === 0 && !interrupt.signal.aborted) {
      const text = `epoch ${e.epoch + 1}/${fit.epochs} evaluating on ${evalData.name} (${evalData.length} sequences)...`;
      if (out.mode === 'tty') out.bar(text);
      else out.info(text);
    }
  };
  const onEpoch = (e: EpochEvent): void => {
    run.appendMetric({ type: 'epoch', ...e });
    out.event('epoch', { ...e });
    const evalText = e.eval ? `, eval loss ${e.eval.loss.toFixed(4)} acc ${(100 * e.eval.accuracy).toFixed(2)}%` : '';
    progress?.done(
      `epoch ${e.epoch + 1}/${fit.epochs}: train loss ${e.train.loss.toFixed(4)} acc ${(100 * e.train.accuracy).toFixed(2)}%${evalText} ` +
        `(${formatDuration(e.train.seconds)}, ${(e.train.sequences / e.train.seconds).toFixed(0)} seq/s, lr ${e.lr})`,
    );
    progress = undefined;
    run.writeCurves(title);
  };

  const fitOptions: FitOptions = {
    epochs: fit.epochs,
    batchSize: fit.batchSize,
    seed: fit.seed,
    evalEvery: fit.evalEvery,
    checkpointDir: run.dir,
    signal: interrupt.signal,
    ...(main ? { onStep, onEpoch } : {}),
    ...(evalData ? { evalData } : {}),
    ...(fit.maxSteps !== undefined ? { maxSteps: fit.maxSteps } : {}),
  };
  if (batches === 0) throw new NRNMError(`${trainData.name} has no batches`, 'ERR_FORMAT');
  let result;
  try {
    result = await trainer.fit(trainData, fitOptions, plan.resumeFrom);
  } catch (err) {
    progress?.done();
    throw withFlagNames(err, FLAG_NAMES);
  }
  progress?.done();
  if (main && plan.resumeFrom) run.writeJson('config.json', config);
  if (main) run.writeCurves(title);
  const seconds = (performance.now() - started) / 1000;
  const counts = trainer.counts;

  if (result.stopped === 'aborted') {
    out.result(`stopped after step ${counts.steps} (${formatDuration(seconds)}); wrote ${run.file('last.nrnm')}. Continue with: nrnm-native train --resume ${path.relative(process.cwd(), run.dir) || '.'}`);
    out.event('done', { stopped: 'aborted', steps: counts.steps, seconds, runDir: run.dir });
    await closeAll(trainer, model, trainData, evalData);
    throw new CliExit(interrupt.exitCode || 130);
  }

  let final;
  if (main && evalData && flags.finalEval !== false) {
    const bestFile = run.file('best.nrnm');
    const useBest = fs.existsSync(bestFile) && result.best !== undefined;
    const evalModel = useBest ? await NRNMClassifier.load(bestFile, { device: model.device }) : model;
    const which = useBest ? `best.nrnm (epoch ${result.best!.epoch + 1})` : 'the last model';
    const bar = new ProgressLine(out, 'final evaluation', evalData.length);
    try {
      final = await evaluateModel(evalModel, evalData, {
        batchSize: fit.batchSize,
        classNames: opened.classNames,
        onBatch: (done) => {
          if (interrupt.signal.aborted) throw new CliExit(interrupt.exitCode, 'interrupted during the final evaluation; the checkpoints are written');
          bar.update(done, '');
        },
      });
    } finally {
      bar.done();
      if (evalModel !== model) evalModel.dispose();
    }
    run.writeJson('eval.json', { checkpoint: useBest ? bestFile : run.file('last.nrnm'), ...final });
    run.appendMetric({ type: 'evaluation', step: counts.steps, checkpoint: useBest ? 'best.nrnm' : 'last.nrnm', loss: final.loss, accuracy: final.accuracy, total: final.total });
    run.writeConfusion(final, `${title}: confusion matrix of ${which}`);
    run.writeAccuracyByStep(final, `${title}: accuracy by steps seen (${which})`);
    out.info(`final evaluation of ${which}:`);
    out.info(formatEvaluation(final));
    out.event('evaluation', { checkpoint: useBest ? 'best.nrnm' : 'last.nrnm', ...final });
  }
  const summary = final
    ? `done: ${counts.steps} steps in ${formatDuration(seconds)}; ${final.dataset} accuracy ${(100 * final.accuracy).toFixed(2)}%, loss ${final.loss.toFixed(4)}; run directory ${run.dir}`
    : `done: ${counts.steps} steps in ${formatDuration(seconds)}${result.stopped === 'max-steps' ? ' (--max-steps reached)' : ''}; run directory ${run.dir}`;
  out.result(summary);
  out.event('done', { stopped: result.stopped, steps: counts.steps, seconds, runDir: run.dir, accuracy: final?.accuracy ?? null, loss: final?.loss ?? null, best: result.best ?? null });
  await closeAll(trainer, model, trainData, evalData);
}

async function closeAll(trainer: Trainer, model: NRNMClassifier, ...data: Array<SequenceDataset | undefined>): Promise<void> {
  trainer.dispose();
  model.dispose();
  for (const d of data) await d?.close();
}
