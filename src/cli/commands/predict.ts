/**
 * `nrnm-native predict`: logits of a checkpoint (or an official .pt) for
 * the sequences of a .npy, written as a float32 .npy of shape (N, classes).
 */
import * as fs from 'node:fs';

import type { Command } from 'commander';

import { NpyFile, writeNpy } from '../../data';
import { NRNMError } from '../../errors';
import { CliExit, deviceFlag, positiveInt, usageError } from '../flags';
import { onInterrupt } from '../interrupt';
import { loadModel } from '../load-model';
import { type ModelFlagValues, addModelFlags } from '../model-flags';
import { Output, ProgressLine } from '../output';

interface PredictFlags extends ModelFlagValues {
  checkpoint: string;
  input: string;
  output: string;
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
    .description('write the logits of a model for the sequences of a .npy file')
    .requiredOption('--checkpoint <file>', 'an .nrnm checkpoint, or a state_dict .pt of the official model')
    .requiredOption('--input <x.npy>', 'sequences (N, T, F), or one sequence (T, F); any numeric dtype')
    .requiredOption('--output <logits.npy>', 'where the float32 (N, classes) logits go')
    .option('--softmax', 'write class probabilities instead of logits')
    .option('--batch-size <n>', 'sequences per batch', positiveInt, 256)
    .option('--device <device>', 'auto, cpu, cuda or cuda:N', deviceFlag, 'auto')
    .option('--input-size <n>', 'official .pt: features per step (default: from its tensors)', positiveInt)
    .option('--classes <n>', 'official .pt: classes (default: from its tensors)', positiveInt)
    .option('--json', 'print a JSON summary (shape, output file, predicted classes)')
    .option('--quiet', 'print nothing but errors');
  addModelFlags(cmd);
  cmd.addHelpText(
    'after',
    [
      '',
      'An official .pt (torch.save(model.state_dict())) is read without Python; its layers, hidden size, input size',
      'and classes come from its tensors, the rest from the model flags (default: the official variant), e.g.',
      '  nrnm-native predict --checkpoint official.pt --input x.npy --output logits.npy',
      '  nrnm-native predict --checkpoint official.pt --bl 10 --stride 5 --input x.npy --output logits.npy',
    ].join('\n'),
  );
  cmd.action((flags: PredictFlags) => predict(flags));
}

function softmaxRows(logits: Float32Array, classes: number): void {
  for (let r = 0; r < logits.length; r += classes) {
    let max = -Infinity;
    for (let j = 0; j < classes; j++) max = Math.max(max, logits[r + j]!);
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += logits[r + j] = Math.exp(logits[r + j]! - max);
    for (let j = 0; j < classes; j++) logits[r + j]! /= sum;
  }
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
    const { model, kind } = await loadModel(flags.checkpoint, flags.device, flags);
    try {
      if (features !== model.options.inputSize) {
        throw usageError(`--input ${flags.input} has ${features} features per step but the model's input size is ${model.options.inputSize}`);
      }
      if (steps < 1) throw usageError(`--input ${flags.input} has sequences of length 0`);
      model.eval();
      const classes = model.options.classes;
      const logits = new Float32Array(n * classes);
      const row = steps * features;
      const bar = new ProgressLine(out, 'predict', n);
      for (let start = 0; start < n; start += flags.batchSize) {
        if (interrupt.signal.aborted) throw new CliExit(interrupt.exitCode, 'interrupted; nothing written');
        const count = Math.min(flags.batchSize, n - start);
        const batch = new Float32Array(count * row);
        if (single) x.readFloat32Sync(0, steps, batch);
        else x.readFloat32Sync(start, count, batch);
        const result = await model.predict({ data: batch, shape: [count, steps, features] });
        try {
          logits.set(result.toArray(), start * classes);
        } finally {
          result.dispose();
        }
        bar.update(start + count, '');
      }
      bar.done();
      if (flags.softmax) softmaxRows(logits, classes);
      writeNpy(flags.output, logits, [n, classes]);
      const predicted = new Array<number>(n);
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let j = 1; j < classes; j++) if (logits[i * classes + j]! > logits[i * classes + best]!) best = j;
        predicted[i] = best;
      }
      const what = flags.softmax ? 'probabilities' : 'logits';
      if (out.mode === 'json') {
        process.stdout.write(
          `${JSON.stringify({ event: 'prediction', output: flags.output, shape: [n, classes], values: what, checkpoint: flags.checkpoint, checkpointKind: kind, predicted })}\n`,
        );
      } else {
        out.info(`${model.toString()} on ${model.device} (${kind === 'nrnm' ? 'nrnm-native checkpoint' : 'PyTorch state_dict'})`);
        out.info(`wrote ${what} (${n}, ${classes}) float32 to ${flags.output}`);
        if (n <= 20) out.info(`predicted classes: ${predicted.join(' ')}`);
      }
    } finally {
      model.dispose();
    }
  } finally {
    x?.close();
    interrupt.dispose();
  }
}
