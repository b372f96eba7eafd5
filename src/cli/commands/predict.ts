/**
 * `nrnm-native predict`: the outputs of a checkpoint (or an official .pt)
 * for the sequences of a .npy, written as a float32 .npy: (N, classes) for
 * 'classify-sequence', (N, T, classes) for 'classify-steps' and
 * 'regress-steps' (steps past --lengths are NaN).
 */
import * as fs from 'node:fs';

import type { Command } from 'commander';

import { NpyFile, readNpy, writeNpy } from '../../data';
import { checkLengths } from '../../data/dataset';
import { toInt32 } from '../../data/npy';
import { NRNMError } from '../../errors';
import { CliExit, deviceFlag, positiveInt, usageError } from '../flags';
import { onInterrupt } from '../interrupt';
import { addLoadModelFlags, loadModel } from '../load-model';
import { type ModelFlagValues } from '../model-flags';
import { Output, ProgressLine } from '../output';
import { maskPadded, predictedClasses, predictionLayout, softmaxRows } from '../prediction';

interface PredictFlags extends ModelFlagValues {
  checkpoint: string;
  input: string;
  output: string;
  lengths?: string;
  batchSize: number;
  device: string;
  inputSize?: number;
  classes?: number;
  softmax?: boolean;
  json?: boolean;
  quiet?: boolean;
}

export function registerPredict(program: Command): void {
  const cmd = program
    .command('predict')
    .description('write the outputs of a model (logits, or values for regress-steps) for the sequences of a .npy file')
    .requiredOption('--checkpoint <file>', 'an .nrnm checkpoint, or a state_dict .pt of the official model')
    .requiredOption('--input <x.npy>', 'sequences (N, T, F), or one sequence (T, F); any numeric dtype')
    .requiredOption('--output <out.npy>', 'where the float32 outputs go: (N, classes), or (N, T, classes) for the per-step tasks')
    .option('--lengths <lengths.npy>', "N integers in [1, T]: each sequence's valid steps (default: all T); per-step outputs past them are NaN")
    .option('--softmax', 'write class probabilities instead of logits (classification tasks)')
    .option('--batch-size <n>', 'sequences per batch', positiveInt, 256)
    .option('--device <device>', 'auto, cpu, cuda or cuda:N', deviceFlag, 'auto')
    .option('--json', 'print a JSON summary (shape, output file, predicted classes)')
    .option('--quiet', 'print nothing but errors');
  addLoadModelFlags(cmd);
  cmd.addHelpText(
    'after',
    [
      '',
      'An official .pt (torch.save(model.state_dict())) is read without Python; its layers, hidden size, input size',
      'and classes come from its tensors, the rest from the model flags (default: the official variant), e.g.',
      '  nrnm-native predict --checkpoint official.pt --input x.npy --output logits.npy',
      '  nrnm-native predict --checkpoint official.pt --bl 10 --stride 5 --input x.npy --output logits.npy',
      'The task comes from an .nrnm checkpoint (from --task for an official .pt): classify-sequence writes (N, classes),',
      'classify-steps and regress-steps write (N, T, classes); with --lengths the steps past each length are NaN, e.g.',
      '  nrnm-native predict --checkpoint runs/x/best.nrnm --input x.npy --lengths lengths.npy --output out.npy --json',
    ].join('\n'),
  );
  cmd.action((flags: PredictFlags) => predict(flags));
}

/** --lengths: N integers in [1, T], the valid steps of each sequence. */
function readLengthsFlag(file: string, n: number, steps: number): Int32Array {
  if (!fs.existsSync(file)) throw new NRNMError(`--lengths ${file}: no such file`, 'ERR_NOT_FOUND');
  const a = readNpy(file);
  if (a.shape.length !== 1) throw usageError(`--lengths ${file} has shape (${a.shape.join(', ')}); expected (N) with N = ${n}, the sequences of --input`);
  return checkLengths(toInt32(a, file), n, steps, `--lengths ${file}`);
}

async function predict(flags: PredictFlags): Promise<void> {
  const out = new Output(flags);
  const interrupt = onInterrupt(out, 'stopping');
  let x: NpyFile | undefined;
  try {
    if (!fs.existsSync(flags.input)) throw new NRNMError(`--input ${flags.input}: no such file`, 'ERR_NOT_FOUND');
    x = NpyFile.open(flags.input);
    const single = x.shape.length === 2;
    if (x.shape.length !== 3 && !single) {
      throw usageError(`--input ${flags.input} has shape (${x.shape.join(', ')}); expected sequences (N, T, F) or one sequence (T, F)`);
    }
    const [n, steps, features] = single ? [1, x.shape[0]!, x.shape[1]!] : [x.shape[0]!, x.shape[1]!, x.shape[2]!];
    if (steps < 1) throw usageError(`--input ${flags.input} has sequences of length 0`);
    const lengths = flags.lengths === undefined ? undefined : readLengthsFlag(flags.lengths, n, steps);
    const { model, kind } = await loadModel(flags.checkpoint, flags.device, flags);
    try {
      if (features !== model.options.inputSize) {
        throw usageError(`--input ${flags.input} has ${features} features per step but the model's input size is ${model.options.inputSize}`);
      }
      const task = model.options.task;
      if (flags.softmax && task === 'regress-steps') throw usageError('--softmax applies to the classification tasks, not --task regress-steps');
      model.eval();
      const outputs = model.options.classes;
      const layout = predictionLayout(task, n, steps, outputs, flags.softmax === true);
      const values = new Float32Array(layout.shape.reduce((a, b) => a * b, 1));
      const perSequence = values.length / n;
      const row = steps * features;
      const bar = new ProgressLine(out, 'predict', n);
      for (let start = 0; start < n; start += flags.batchSize) {
        if (interrupt.signal.aborted) throw new CliExit(interrupt.exitCode, 'interrupted; nothing written');
        const count = Math.min(flags.batchSize, n - start);
        const batch = new Float32Array(count * row);
        if (single) x.readFloat32Sync(0, steps, batch);
        else x.readFloat32Sync(start, count, batch);
        const batchLengths = lengths?.subarray(start, start + count);
        const result = await model.predict({ data: batch, shape: [count, steps, features] }, batchLengths);
        try {
          const part = result.toArray() as Float32Array;
          if (layout.perStep && batchLengths) maskPadded(part, steps, outputs, batchLengths);
          values.set(part, start * perSequence);
        } finally {
          result.dispose();
        }
        bar.update(start + count, '');
      }
      bar.done();
      if (layout.values === 'probabilities') softmaxRows(values, outputs);
      writeNpy(flags.output, values, layout.shape);
      const predicted = predictedClasses(values, layout, task, lengths);
      const padded = layout.perStep && lengths ? 'NaN' : null;
      if (out.mode === 'json') {
        process.stdout.write(
          `${JSON.stringify({
            event: 'prediction',
            output: flags.output,
            shape: layout.shape,
            task,
            values: layout.values,
            lengths: flags.lengths ?? null,
            padded,
            checkpoint: flags.checkpoint,
            checkpointKind: kind,
            ...(predicted ? { predicted } : {}),
          })}\n`,
        );
      } else {
        out.info(`${model.toString()} on ${model.device} (${kind === 'nrnm' ? 'nrnm-native checkpoint' : 'PyTorch state_dict'})`);
        out.info(`wrote ${layout.values} (${layout.shape.join(', ')}) float32 to ${flags.output}${padded ? '; steps past each length are NaN' : ''}`);
        if (predicted && !layout.perStep && n <= 20) out.info(`predicted classes: ${predicted.join(' ')}`);
        if (predicted && layout.perStep && n <= 5) {
          (predicted as number[][]).forEach((p, i) => out.info(`sequence ${i}, predicted class at each step: ${p.join(' ')}`));
        }
      }
    } finally {
      model.dispose();
    }
  } finally {
    x?.close();
    interrupt.dispose();
  }
}
