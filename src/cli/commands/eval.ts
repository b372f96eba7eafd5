/**
 * `nrnm-native eval`: accuracy, loss, per-class accuracy and confusion
 * matrix of a checkpoint on a dataset; writes eval.json and confusion.svg.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { type Command, Option } from 'commander';

import { NRNMError } from '../../errors';
import { DATASET_KINDS, type DataFlags, type DatasetKind, NTU_SPLITS, type NtuSplitFlag, openData } from '../data';
import { evaluateModel, formatEvaluation } from '../evaluation';
import { CliExit, choice, deviceFlag, positiveInt, usageError } from '../flags';
import { onInterrupt } from '../interrupt';
import { addLoadModelFlags, loadModel } from '../load-model';
import { type ModelFlagValues, splitAlias } from '../model-flags';
import { Output, ProgressLine } from '../output';
import { RunDir } from '../run-dir';

interface EvalFlags extends ModelFlagValues {
  checkpoint: string;
  dataset?: DatasetKind;
  data?: string;
  split?: NtuSplitFlag;
  data_mode?: 'cs' | 'cv';
  limit?: number;
  preprocessed?: string;
  unpadded?: boolean;
  part: 'eval' | 'train';
  batchSize: number;
  device: string;
  out?: string;
  inputSize?: number;
  classes?: number;
  json?: boolean;
  quiet?: boolean;
}

export function registerEval(program: Command): void {
  const cmd = program
    .command('eval')
    .description('evaluate a checkpoint: accuracy, loss, per-class accuracy, confusion matrix')
    .requiredOption('--checkpoint <file>', 'an .nrnm checkpoint, or a state_dict .pt of the official model (give its options as flags)')
    .addOption(choice('--dataset <name>', "fashion-mnist, ntu, ntu-preprocessed or npy (default: the checkpoint's run, else fashion-mnist)", DATASET_KINDS))
    .option('--data <dir>', 'where the dataset is (as for train)')
    .addOption(choice('--split <split>', 'NTU benchmark: cs, cv or cset', NTU_SPLITS))
    .addOption(choice('--part <part>', 'eval: the test/val part; train: the training part', ['eval', 'train'], 'eval'))
    .option('--limit <n>', 'use only the first N sequences', positiveInt)
    .option('--preprocessed <dir>', 'ntu: where raw skeletons are preprocessed to')
    .option('--unpadded', "ntu, npy: each sequence ends at its length in <part>_lengths.npy (default: the checkpoint's run, else padded)")
    .option('--batch-size <n>', 'sequences per batch', positiveInt, 256)
    .option('--device <device>', 'auto, cpu, cuda or cuda:N', deviceFlag, 'auto')
    .option('--out <dir>', "where eval.json and confusion.svg are written (default: the checkpoint's directory)")
    .option('--json', 'print the result as one JSON object')
    .option('--quiet', 'print only the accuracy line')
    .addOption(new Option('--data_mode <mode>', 'official script: CV or CS').argParser(splitAlias).hideHelp());
  addLoadModelFlags(cmd);
  cmd.addHelpText(
    'after',
    [
      '',
      "With a checkpoint of a run directory, the dataset flags default to that run's (its config.json).",
      'Examples:',
      '  nrnm-native eval --checkpoint runs/fashion-mnist-20250101-120000/best.nrnm',
      '  nrnm-native eval --checkpoint model.pt --dataset ntu --data datasets/Skeleton --split cv --nhid 512 --nlayers 2',
    ].join('\n'),
  );
  cmd.action((flags: EvalFlags, command: Command) => evaluate(flags, command));
}

/** Dataset flags: given ones, else those of the run the checkpoint belongs to, else Fashion-MNIST. */
function dataFlags(flags: EvalFlags, command: Command): DataFlags {
  const split = flags.split ?? flags.data_mode;
  const config = new RunDir(path.dirname(path.resolve(flags.checkpoint))).readConfig();
  const fromRun = config?.['data'] as DataFlags | undefined;
  const given = ['dataset', 'data', 'split', 'data_mode'].some((n) => command.getOptionValueSource(n) === 'cli');
  const unpadded = flags.unpadded ? { unpadded: true } : {};
  if (fromRun && !given) {
    return { ...fromRun, limit: flags.limit ?? undefined, preprocessed: flags.preprocessed ?? fromRun.preprocessed, ...unpadded };
  }
  const dataset = flags.dataset ?? (split !== undefined ? 'ntu' : 'fashion-mnist');
  return { dataset, data: flags.data, split, limit: flags.limit, preprocessed: flags.preprocessed, ...unpadded };
}

async function evaluate(flags: EvalFlags, command: Command): Promise<void> {
  const out = new Output(flags);
  const interrupt = onInterrupt(out, 'stopping the evaluation');
  try {
    if (!fs.existsSync(flags.checkpoint)) throw new NRNMError(`--checkpoint ${flags.checkpoint}: no such file`, 'ERR_NOT_FOUND');
    const data = dataFlags(flags, command);
    const opened = await openData(data, { train: false, eval: true, evalOnTrain: flags.part === 'train' }, out, interrupt.signal);
    const evalData = opened.eval!;
    const { model, kind } = await loadModel(flags.checkpoint, flags.device, {
      ...flags,
      ...(flags.inputSize === undefined ? {} : { inputSize: flags.inputSize }),
      ...(flags.classes === undefined ? {} : { classes: flags.classes }),
    });
    try {
      if (model.options.task === 'regress-steps') {
        throw usageError(
          `${flags.checkpoint} is a regress-steps model: eval scores classes; write its values with 'nrnm-native predict' and compare them with your targets`,
        );
      }
      if (evalData.features !== model.options.inputSize) {
        throw usageError(
          `${evalData.name} has ${evalData.features} features per step but the model's input size is ${model.options.inputSize}: is --dataset right?`,
        );
      }
      if (evalData.classes > model.options.classes) {
        throw usageError(`${evalData.name} has labels up to ${evalData.classes - 1} but the model has ${model.options.classes} classes: is --dataset right?`);
      }
      out.info(
        `evaluating ${flags.checkpoint} (${kind === 'nrnm' ? 'nrnm-native checkpoint' : 'PyTorch state_dict'}, ${model.toString()} on ${model.device}) on ${evalData.name} (${evalData.length} sequences)`,
      );
      const bar = new ProgressLine(out, 'eval', evalData.length);
      const classNames =
        opened.classNames.length >= model.options.classes
          ? opened.classNames
          : Array.from({ length: model.options.classes }, (_, i) => opened.classNames[i] ?? String(i));
      const report = await evaluateModel(model, evalData, {
        batchSize: flags.batchSize,
        classNames,
        onBatch: (done) => {
          if (interrupt.signal.aborted) throw new CliExit(interrupt.exitCode);
          bar.update(done, '');
        },
      });
      bar.done();
      const dir = new RunDir(flags.out ?? path.dirname(path.resolve(flags.checkpoint)));
      fs.mkdirSync(dir.dir, { recursive: true });
      const result = { checkpoint: path.resolve(flags.checkpoint), data, ...report };
      dir.writeJson('eval.json', result);
      dir.writeConfusion(report, `Confusion matrix of ${path.basename(flags.checkpoint)}`);
      const files = { json: dir.file('eval.json'), confusion: dir.file('confusion.svg') };
      if (out.mode === 'json') process.stdout.write(`${JSON.stringify({ event: 'evaluation', ...result, files })}\n`);
      else if (out.mode === 'quiet')
        out.result(`accuracy ${(100 * report.accuracy).toFixed(2)}% (${report.correct}/${report.total}), loss ${report.loss.toFixed(4)}`);
      else {
        out.info(formatEvaluation(report));
        out.info(`wrote ${files.json} and ${files.confusion}`);
      }
    } finally {
      model.dispose();
      await evalData.close();
    }
  } finally {
    interrupt.dispose();
  }
}
