/**
 * --checkpoint: an .nrnm checkpoint (options inside) or a PyTorch state_dict
 * of the official model (.pt/.pth). For the latter the sizes are read from
 * the tensor shapes (layers, hidden size, input size, classes, memory
 * slots); every other option comes from the model flags (official variant
 * by default).
 */
import * as fs from 'node:fs';

import { NRNMError } from '../errors';
import { NRNMClassifier, resolveModelOptions, type NRNMModelOptions } from '../index';
import { readStateDict } from '../serialization';
import { usageError, withFlagNames } from './flags';
import { FLAG_NAMES, resolveModelFlags, type ModelFlagValues, NTU_DEFAULTS } from './model-flags';

export interface LoadedModel {
  model: NRNMClassifier;
  kind: 'nrnm' | 'pytorch';
  /** The resolved options the official .pt was read with. */
  inferred?: Record<string, number>;
}

function sniff(file: string): 'nrnm' | 'zip' | 'other' {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new NRNMError(`--checkpoint ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, 'ERR_NOT_FOUND');
  }
  try {
    const head = Buffer.alloc(9);
    const n = fs.readSync(fd, head, 0, 9, 0);
    // A safetensors file (u64 header length, then the JSON header), or a
    // format-1 checkpoint, which NRNMClassifier.load refuses saying how to convert it.
    if (n === 9 && head[8] === 0x7b && head.readBigUInt64LE(0) < 100_000_000n) return 'nrnm';
    if (n >= 8 && head.subarray(0, 8).toString('latin1') === 'NRNMCKPT') return 'nrnm';
    if (n >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
    return 'other';
  } finally {
    fs.closeSync(fd);
  }
}

/** Sizes of the official model read from its tensor shapes. */
export function inferOfficialSizes(shapes: Map<string, readonly number[]>): Record<string, number> {
  const sizes: Record<string, number> = {};
  let layers = 0;
  while (shapes.has(`rnn.cell_${layers}.weight_ih`)) layers++;
  if (layers === 0) {
    throw new NRNMError(
      `it has no tensor 'rnn.cell_0.weight_ih': not a state_dict of the official NRNM model (MyRNNModel with cell_type ORG_MEMO). Found: ${[...shapes.keys()].slice(0, 8).join(', ')}${shapes.size > 8 ? ', ...' : ''}`,
      'ERR_FORMAT',
    );
  }
  sizes['layers'] = layers;
  const ih = shapes.get('rnn.cell_0.weight_ih')!;
  const hh = shapes.get('rnn.cell_0.weight_hh');
  if (hh && hh.length === 2) sizes['hiddenSize'] = hh[0]!;
  if (ih.length === 2) sizes['inputSize'] = ih[0]!;
  const decoder = shapes.get('decoder.0.weight');
  if (decoder && decoder.length === 2) sizes['classes'] = decoder[0]!;
  const memh = shapes.get('rnn.cell_0.weight_memh');
  if (memh && sizes['hiddenSize']) sizes['slots'] = memh[0]! / sizes['hiddenSize'];
  return sizes;
}

export async function loadModel(file: string, device: string, flags: ModelFlagValues & { inputSize?: number; classes?: number }): Promise<LoadedModel> {
  const kind = sniff(file);
  if (kind === 'nrnm') return { model: await NRNMClassifier.load(file, { device }), kind: 'nrnm' };
  if (kind === 'other') {
    throw new NRNMError(
      `--checkpoint ${file} is neither an nrnm-native checkpoint (.nrnm) nor a PyTorch state_dict in zip format (torch.save of PyTorch >= 1.6)`,
      'ERR_FORMAT',
    );
  }
  const entries = await readStateDict(file);
  const sizes = inferOfficialSizes(new Map(entries.map((e) => [e.name, e.shape])));
  const options: Partial<NRNMModelOptions> = resolveModelFlags(flags, NTU_DEFAULTS);
  for (const key of ['layers', 'hiddenSize'] as const) if (options[key] === undefined && sizes[key]) options[key] = sizes[key];
  const inputSize = flags.inputSize ?? sizes['inputSize'];
  const classes = flags.classes ?? sizes['classes'];
  if (inputSize === undefined || classes === undefined) throw usageError(`${file}: give the model's --input-size and --classes`);
  const k = options.blockLength ?? 10;
  const s = options.stride ?? 5;
  if (sizes['slots'] !== undefined && sizes['slots'] !== k / s) {
    throw usageError(
      `${file} has ${sizes['slots']} memory slots per layer but --block-length ${k} / --stride ${s} gives ${k / s}; pass the --block-length (--bl) and --stride the model was trained with`,
    );
  }
  let resolved;
  try {
    resolved = resolveModelOptions({ ...options, inputSize, classes });
  } catch (err) {
    throw withFlagNames(err, FLAG_NAMES);
  }
  const model = NRNMClassifier.fromStateDictEntries(entries, { ...resolved, device }, file); // read once, above
  return { model, kind: 'pytorch', inferred: { ...sizes, inputSize, classes } };
}
