/**
 * ONNX export of an NRNM model: the evaluation-mode forward (NRNM_SPEC.md;
 * zoneout as the scalar 1 - z, no dropout) as an opset-17 graph, encoded
 * with protobufjs from onnx.proto's schema (schema.ts).
 *
 * Inputs: `x` [batch, time, inputSize] float32, both batch and time dynamic;
 * with `lengths: true` also `lengths` [batch] int64, each in [1, time]: the
 * valid steps of each sequence, honoured exactly as `predict(x, lengths)`
 * does (padding changes nothing, NaN included). The graph cannot check them:
 * a length of 0 gives the outputs of the zero state, one above time counts
 * as time. Output `logits`
 * [batch, classes] (classify-sequence) or [batch, time, classes] (the
 * per-step tasks; past a sequence's end they repeat its last step's).
 *
 * The graph pads x with zero steps to a multiple of k (steps after the last
 * real one change none before it), runs each layer as a Loop over blocks of
 * k steps (layer.ts), reads the top layer at the real steps and applies the
 * head.
 */
import { NRNMError } from '../errors';
import type { ResolvedModelOptions } from '../options';
import { checkKeys, boolOption } from '../validate';
import { GraphBuilder, valueInfo } from './graph';
import { layerGraph } from './layer';
import { linear, unsqueeze } from './ops';
import { DataType, ModelProto } from './schema';
import { Weights, type Parameters } from './weights';

export type { Parameters } from './weights';

export const OPSET = 17;
const IR_VERSION = 8; // the IR of opset 17 (ONNX 1.12)
/** A protobuf message is at most 2 GiB; leave room for the nodes. */
const MAX_INITIALIZER_BYTES = 2 ** 31 - 2 ** 26;

export interface OnnxExportOptions {
  /** Add the input `lengths` [batch] (int64): each sequence's valid steps, honoured exactly. Default false. */
  lengths?: boolean;
}

/** What the exporter knows how to write, option by option; anything else is refused, never approximated. */
const REPRESENTABLE = {
  backbone: ['lstm', 'gru', 'rnn'],
  attention: ['self', 'linear'],
  task: ['classify-sequence', 'classify-steps', 'regress-steps'],
  inputAggregation: ['dilated', 'strided'],
  head: ['linear-elu', 'linear'],
} as const satisfies Partial<Record<keyof ResolvedModelOptions, readonly string[]>>;

/** Throws ERR_ARG naming the option when the graph could not compute what `predict` does. */
export function checkExportable(o: Readonly<ResolvedModelOptions>): void {
  for (const [key, allowed] of Object.entries(REPRESENTABLE) as [keyof typeof REPRESENTABLE, readonly string[]][]) {
    if (!allowed.includes(o[key])) {
      throw new NRNMError(`ONNX export cannot represent ${key} '${String(o[key])}' (it writes ${allowed.map((a) => `'${a}'`).join(', ')})`, 'ERR_ARG');
    }
  }
  const k = o.blockLength;
  if (o.blockLength % o.stride !== 0 || (o.inputAggregation === 'dilated' && (k !== 10 || o.stride !== 5))) {
    throw new NRNMError(`ONNX export cannot represent blockLength ${k} with stride ${o.stride} and ${o.inputAggregation} aggregation`, 'ERR_ARG');
  }
  if (o.hiddenSize % o.heads !== 0) throw new NRNMError(`ONNX export: hiddenSize ${o.hiddenSize} is not divisible by heads ${o.heads}`, 'ERR_ARG');
  if (!(o.zoneout >= 0 && o.zoneout < 1)) throw new NRNMError(`ONNX export cannot represent zoneout ${o.zoneout}`, 'ERR_ARG');
}

/** The ModelProto bytes of a model with these options and parameters (official names, as stateDict() gives them). */
export function onnxModelBytes(
  options: Readonly<ResolvedModelOptions>,
  parameters: Parameters,
  producerVersion: string,
  exportOptions: OnnxExportOptions = {},
): Uint8Array {
  checkKeys(exportOptions, ['lengths'], 'exportOnnx');
  const withLengths = boolOption('lengths', exportOptions.lengths, false);
  checkExportable(options);
  const g = new GraphBuilder('nrnm');
  const w = new Weights(g, parameters);
  const k = options.blockLength;
  g.inputs.push(valueInfo('x', DataType.FLOAT, ['batch', 'time', options.inputSize]));
  if (withLengths) g.inputs.push(valueInfo('lengths', DataType.INT64, ['batch']));

  // (T_pad, B, F) with T_pad = k ceil(T / k).
  const shape = g.op1('Shape', ['x']);
  const T = g.op1('Gather', [shape, g.ints(1)], { axis: 0 }); // scalar
  const B = g.op1('Gather', [shape, g.ints(0)], { axis: 0 }); // scalar
  const kConst = g.ints(k);
  const pad = g.op1('Mod', [g.op1('Sub', [kConst, g.op1('Mod', [T, kConst])]), kConst]);
  const pads = g.op1('Concat', [g.ints([0, 0, 0]), unsqueeze(g, pad, 0), g.ints([0, 0])], { axis: 0 }); // end of the time axis
  let sequence = g.op1('Pad', [g.op1('Transpose', ['x'], { perm: [1, 0, 2] }), pads]);
  const paddedSteps = g.op1('Add', [T, pad]);
  const blocks = g.op1('Div', [paddedSteps, kConst]);
  // valid (T_pad, B, 1): step < length.
  const valid = withLengths
    ? unsqueeze(g, g.op1('Less', [unsqueeze(g, g.op1('Range', [g.ints(0), paddedSteps, g.ints(1)]), 1), unsqueeze(g, 'lengths', 0)]), 2)
    : undefined;

  const batch = unsqueeze(g, B, 0); // [B]
  for (let layer = 0; layer < options.layers; layer++) {
    sequence = layerGraph(g, w, options, layer, { x: sequence, blocks, batch, valid });
  }

  // The top layer at the real steps, then the head.
  let top: string;
  let outputDims: (number | string)[];
  if (options.task === 'classify-sequence') {
    // h at T-1 is h at each sequence's last valid step: the state is kept past it.
    top = g.op1('Gather', [sequence, g.op1('Sub', [T, g.ints(1)])], { axis: 0 }); // (B, H)
    outputDims = ['batch', options.classes];
  } else {
    const real = g.op1('Slice', [sequence, g.ints([0]), unsqueeze(g, T, 0), g.ints([0])]);
    top = g.op1('Transpose', [real], { perm: [1, 0, 2] }); // (B, T, H)
    outputDims = ['batch', 'time', options.classes];
  }
  let logits = linear(g, w, top, 'decoder.0');
  if (options.head === 'linear-elu') logits = g.op1('Elu', [logits], { alpha: { float: 1 } });
  g.opTo('Identity', [logits], ['logits']);
  g.outputs.push(valueInfo('logits', DataType.FLOAT, outputDims));

  const graph = g.build();
  const bytes = graph.initializer.reduce((sum, t) => sum + t.raw_data.byteLength, 0);
  if (bytes > MAX_INITIALIZER_BYTES) {
    throw new NRNMError(
      `ONNX export: the parameters take ${(bytes / 2 ** 30).toFixed(2)} GiB, above the 2 GiB that one ONNX protobuf file can hold (external data is not written)`,
      'ERR_ARG',
    );
  }
  const model = {
    ir_version: IR_VERSION,
    producer_name: 'nrnm-native',
    producer_version: producerVersion,
    doc_string: `NRNM (${options.backbone}, attention ${options.attention}, ${options.task}), evaluation mode`,
    opset_import: [{ domain: '', version: OPSET }],
    graph,
    metadata_props: [{ key: 'nrnm.options', value: JSON.stringify(options) }],
  };
  const problem = ModelProto.verify(model);
  if (problem) throw new NRNMError(`ONNX export built an invalid ModelProto (${problem}); please report this`, 'ERR_NATIVE');
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}
