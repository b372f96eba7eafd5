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
import { distributedFromEnv } from '../../distributed';
import { NRNMClassifier, Trainer, type FitOptions, type TrainerOptions } from '../../index';
import { DEFAULT_MODEL_OPTIONS } from '../../options';
import { DEFAULT_TRAINER_OPTIONS } from '../../trainer';
import { DATASET_KINDS, NTU_SPLITS } from '../data';
import { evaluateModel, formatEvaluation } from '../evaluation';
import { CliExit, choice, deviceFlag, nonNegativeInt, positiveInt, withFlagNames } from '../flags';
import { onInterrupt } from '../interrupt';
import {
  FASHION_DEFAULTS,
  FLAG_NAMES,
  NPY_DEFAULTS,
  NTU_DEFAULTS,
  type Defaults,
  addModelFlags,
  addTrainerFlags,
  splitAlias,
  variantOptions,
} from '../model-flags';
import { launchWorkers } from '../launch';
import { Output, ProgressLine, formatDuration } from '../output';
import type { TrainFlags } from './train-flags';
import { type Plan, checkDataFits, planRun } from './train-plan';
import type { OpenedData } from '../data';
import { RunTensorBoard } from '../run-tensorboard';
import { TrainProgress } from './train-progress';

/** The schedule in words, for the start of a run. */
function scheduleText(t: Trainer['options']): string {
  const warmup = t.warmupSteps ? `, ${t.warmupSteps} warm-up steps` : '';
  if (t.scheduler === 'step') return `StepLR ${t.stepSize}/${t.gamma}${warmup}`;
  if (t.scheduler === 'cosine') return `cosine over ${t.tMax} epochs to ${t.minLr}${warmup}`;
  if (t.scheduler === 'plateau') return `ReduceLROnPlateau on eval ${t.monitor} (factor ${t.gamma}, patience ${t.patience}, min ${t.minLr})${warmup}`;
  return `constant lr${warmup}`;
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
    describeDefaults("fashion-mnist (the default; 28 steps of 28 pixels; no download once Debian's dataset-fashion-mnist is installed)", FASHION_DEFAULTS),
    '    a small model: `nrnm-native train` takes 3.5 to 5 minutes on 2 CPU cores and reaches about 88% test accuracy',
    describeDefaults('ntu, ntu-preprocessed (the official script: action_mylstm_cv.py)', NTU_DEFAULTS),
    describeDefaults('npy', NPY_DEFAULTS),
    '    try it on the sample in datasets/npy/sample (3 classes of sine waves, seconds on a CPU):',
    '    nrnm-native train --dataset npy --data datasets/npy/sample --hidden 32 --layers 1 --aggregation strided --epochs 20 --batch-size 16 --lr 0.01',
    `  every dataset: --zoneout ${DEFAULT_MODEL_OPTIONS.zoneout} --memory-dropout ${DEFAULT_MODEL_OPTIONS.memoryDropout} --aggregation-dropout ${DEFAULT_MODEL_OPTIONS.aggregationDropout} --seed ${DEFAULT_MODEL_OPTIONS.seed} --device auto --precision ${DEFAULT_TRAINER_OPTIONS.precision}`,
    '',
    "The official script's flags work as aliases: --nlayers, --nhid, --bl (block length), --dm (zoneout), --wd,",
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
    .option(
      '--unpadded',
      "ntu: each sequence ends at its clip's last frame (from <part>_lengths.npy, which preprocess writes) instead of the official 100 steps; npy: at the lengths in <part>_lengths.npy",
    )
    .addOption(new Option('--data_mode <mode>', 'official script: CV or CS').argParser(splitAlias).hideHelp());
  addModelFlags(cmd);
  addTrainerFlags(cmd);
  cmd
    .option('--seed <n>', 'seed of initialisation, dropout and data order (default 0)', nonNegativeInt)
    .option('--device <device>', 'auto, cpu, cuda or cuda:N', deviceFlag, 'auto')
    .option('--eval-every <n>', 'evaluate every N epochs (Fashion-MNIST and npy: 1, NTU: 5)', positiveInt)
    .option('--max-steps <n>', 'stop after N optimizer steps in total (quick runs); writes last.nrnm', positiveInt)
    .option('--early-stop <patience>', 'stop when the --monitor eval metric has not improved for N evaluations; best.nrnm keeps the best', positiveInt)
    .option('--config <file>', "read the run's settings from a JSON file (an earlier run's config.json repeats it); flags override it")
    .option('--out <dir>', 'run directory (default runs/<dataset>-<date>-<time>)')
    .option('--resume <dir>', 'continue the run in this directory from its last.nrnm')
    .option('--tensorboard <dir>', 'where the TensorBoard event file goes (default: the run directory)')
    .option('--no-tensorboard', 'write no TensorBoard event file')
    .option('--no-final-eval', 'skip the evaluation with per-class accuracy and confusion matrix at the end')
    .option('--json', 'one JSON object per line on stdout (events: start, step, epoch, evaluation, done)')
    .option('--quiet', 'print only the final result')
    .option('--nproc <n>', 'data-parallel: train with N worker processes on this machine (README "Training on several GPUs or machines")', positiveInt)
    .option('--oversubscribe', 'data-parallel: allow --nproc above the cores this process may use')
    .option('--dist-timeout <seconds>', 'data-parallel: how long a rank waits for the others before failing (default 300)', positiveInt)
    .addOption(new Option('--sb <name>', 'official script: run name (run directory runs/NAME)').hideHelp())
    .addHelpText('after', trainHelp())
    .action(async (flags: TrainFlags, command: Command) => {
      if (flags.nproc !== undefined && flags.nproc > 1) {
        await launchWorkers(flags.nproc, process.argv.slice(2), flags.oversubscribe === true);
        return;
      }
      await train(flags, command);
    });
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
  const { plan, opened, distributed, main } = await planRun(flags, command, out, interrupt.signal);
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
  out.info(
    `data: ${trainData.name} ${trainData.length} sequences of ${trainData.steps} x ${trainData.features}${evalData ? `, eval on ${evalData.name} (${evalData.length})` : ', no evaluation data'}`,
  );
  out.info(`model: ${model.toString()} on ${model.device}, ${parameters.toLocaleString('en-US')} parameters`);
  const t = trainer.options;
  out.info(
    `training: ${fit.epochs} epochs, batch ${fit.batchSize}, ${t.optimizer} lr ${t.lr} weight decay ${t.weightDecay}, clip ${t.clip || 'off'}, ` +
      `${scheduleText(t)}, ${t.precision}${fit.maxSteps ? `, at most ${fit.maxSteps} steps` : ''}${fit.earlyStop ? `, early stop after ${fit.earlyStop} evaluations without a better eval ${t.monitor}` : ''}`,
  );
  out.event('start', { runDir: run.dir, config: plan.config, trainSequences: trainData.length, evalSequences: evalData?.length ?? 0, parameters });

  const batches = trainData.batchCount(fit.batchSize);
  const tensorboard = main && flags.tensorboard !== false ? openTensorBoard(flags, run.dir, config, plan.resumeFrom) : undefined;
  if (tensorboard) out.info(`TensorBoard: ${tensorboard.writer.file} (tensorboard --logdir ${path.relative(process.cwd(), tensorboard.writer.logDir) || '.'})`);
  const report = new TrainProgress(out, run, fit, evalData, interrupt.signal, title, distributed !== undefined, tensorboard);
  const { onStep, onEpoch } = report;

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
    ...(fit.earlyStop !== undefined ? { earlyStop: fit.earlyStop } : {}),
  };
  if (batches === 0) throw new NRNMError(`${trainData.name} has no batches`, 'ERR_FORMAT');
  try {
    await trainAndReport({ flags, out, interrupt, plan, opened, fitOptions, report, tensorboard, title, config, main });
  } finally {
    tensorboard?.close();
  }
}

function openTensorBoard(flags: TrainFlags, runDir: string, config: Record<string, unknown>, resumeFrom: Plan['resumeFrom']): RunTensorBoard {
  return new RunTensorBoard(typeof flags.tensorboard === 'string' ? flags.tensorboard : runDir, config, resumeFrom?.step);
}

/** What the run trains with and reports to, once it is set up. */
interface RunContext {
  flags: TrainFlags;
  out: Output;
  interrupt: ReturnType<typeof onInterrupt>;
  plan: Plan;
  opened: OpenedData;
  fitOptions: FitOptions;
  report: TrainProgress;
  tensorboard: RunTensorBoard | undefined;
  title: string;
  config: Record<string, unknown>;
  /** Rank 0 (or the only process): the one that writes. */
  main: boolean;
}

async function trainAndReport(c: RunContext): Promise<void> {
  const { flags, out, interrupt, plan, opened, fitOptions, report, tensorboard, title, config, main } = c;
  const { run, fit, trainer, model } = plan;
  const trainData = opened.train!;
  const evalData = opened.eval;
  const { started } = report;
  let result;
  try {
    result = await trainer.fit(trainData, fitOptions, plan.resumeFrom);
  } catch (err) {
    report.done();
    throw withFlagNames(err, FLAG_NAMES);
  }
  report.done();
  if (main && plan.resumeFrom) run.writeJson('config.json', config);
  if (main) run.writeCurves(title);
  const seconds = (performance.now() - started) / 1000;
  const counts = trainer.counts;

  if (result.stopped === 'aborted') {
    out.result(
      `stopped after step ${counts.steps} (${formatDuration(seconds)}); wrote ${run.file('last.nrnm')}. Continue with: nrnm-native train --resume ${path.relative(process.cwd(), run.dir) || '.'}`,
    );
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
    run.appendMetric({
      type: 'evaluation',
      step: counts.steps,
      checkpoint: useBest ? 'best.nrnm' : 'last.nrnm',
      loss: final.loss,
      accuracy: final.accuracy,
      total: final.total,
    });
    tensorboard?.final(final, counts.steps);
    run.writeConfusion(final, `${title}: confusion matrix of ${which}`);
    run.writeAccuracyByStep(final, `${title}: accuracy by steps seen (${which})`);
    out.info(`final evaluation of ${which}:`);
    out.info(formatEvaluation(final));
    out.event('evaluation', { checkpoint: useBest ? 'best.nrnm' : 'last.nrnm', ...final });
  }
  const summary = final
    ? `done: ${counts.steps} steps in ${formatDuration(seconds)}; ${final.dataset} accuracy ${(100 * final.accuracy).toFixed(2)}%, loss ${final.loss.toFixed(4)}; run directory ${run.dir}`
    : `done: ${counts.steps} steps in ${formatDuration(seconds)}${result.stopped === 'max-steps' ? ' (--max-steps reached)' : ''}; run directory ${run.dir}`;
  if (result.stopped === 'early-stop') out.info(`stopped early after epoch ${result.epochs[result.epochs.length - 1]!.epoch + 1}: ${result.reason}`);
  out.result(summary);
  out.event('done', {
    stopped: result.stopped,
    ...(result.reason ? { reason: result.reason } : {}),
    steps: counts.steps,
    seconds,
    runDir: run.dir,
    accuracy: final?.accuracy ?? null,
    loss: final?.loss ?? null,
    best: result.best ?? null,
  });
  await closeAll(trainer, model, trainData, evalData);
}

async function closeAll(trainer: Trainer, model: NRNMClassifier, ...data: Array<SequenceDataset | undefined>): Promise<void> {
  trainer.dispose();
  model.dispose();
  for (const d of data) await d?.close();
}
