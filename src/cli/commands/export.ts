/**
 * `nrnm-native export --checkpoint X --format onnx --out model.onnx`: the
 * model of a checkpoint (or an official .pt) as an ONNX file that
 * onnxruntime runs with the outputs of `predict` (README "Deployment").
 */
import { Option, type Command } from 'commander';

import { ONNX_OPSET } from '../../index';
import { addLoadModelFlags, loadModel } from '../load-model';
import { type ModelFlagValues } from '../model-flags';
import { Output } from '../output';

interface ExportFlags extends ModelFlagValues {
  checkpoint: string;
  format: 'onnx';
  out: string;
  lengths?: boolean;
  inputSize?: number;
  classes?: number;
  json?: boolean;
  quiet?: boolean;
}

export function registerExport(program: Command): void {
  const cmd = program
    .command('export')
    .description('write a model as an ONNX file for onnxruntime: the outputs of predict, without LibTorch')
    .requiredOption('--checkpoint <file>', 'an .nrnm checkpoint, or a state_dict .pt of the official model')
    .addOption(new Option('--format <format>', 'the file format').choices(['onnx']).default('onnx'))
    .requiredOption('--out <model.onnx>', 'where the ONNX file goes')
    .option('--lengths', 'add the input lengths [batch] (int64), the valid steps of each sequence, honoured exactly as by predict --lengths')
    .option('--json', 'print a JSON summary')
    .option('--quiet', 'print nothing but errors');
  addLoadModelFlags(cmd);
  cmd.addHelpText(
    'after',
    [
      '',
      `The file is ONNX opset ${ONNX_OPSET}: input x [batch, time, inputSize] float32 (batch and time dynamic; each layer is`,
      'an ONNX Loop over its blocks of blockLength steps), output logits [batch, classes] or, for the per-step tasks,',
      '[batch, time, classes]; the evaluation-mode forward (zoneout 1 - z, no dropout), e.g.',
      '  nrnm-native export --checkpoint runs/x/best.nrnm --format onnx --out model.onnx',
      '  nrnm-native export --checkpoint runs/x/best.nrnm --format onnx --lengths --out model.onnx',
    ].join('\n'),
  );
  cmd.action((flags: ExportFlags) => exportModel(flags));
}

async function exportModel(flags: ExportFlags): Promise<void> {
  const out = new Output(flags);
  const { model, kind } = await loadModel(flags.checkpoint, 'cpu', flags);
  try {
    const lengths = flags.lengths === true;
    await model.exportOnnx(flags.out, { lengths });
    const inputs = lengths ? ['x', 'lengths'] : ['x'];
    const perStep = model.options.task !== 'classify-sequence';
    const output = perStep ? ['batch', 'time', model.options.classes] : ['batch', model.options.classes];
    if (out.mode === 'json') {
      process.stdout.write(
        `${JSON.stringify({ event: 'export', format: flags.format, out: flags.out, opset: ONNX_OPSET, inputs, outputShape: output, checkpoint: flags.checkpoint, checkpointKind: kind })}\n`,
      );
    } else {
      out.info(`${model.toString()} (${kind === 'nrnm' ? 'nrnm-native checkpoint' : 'PyTorch state_dict'})`);
      out.info(`wrote ${flags.out}: ONNX opset ${ONNX_OPSET}, inputs ${inputs.join(', ')}, output logits [${output.join(', ')}]`);
    }
  } finally {
    model.dispose();
  }
}
