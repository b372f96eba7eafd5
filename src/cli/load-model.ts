/**
 * --checkpoint: an .nrnm checkpoint (options inside) or a PyTorch state_dict
 * of the official model (.pt/.pth). For the latter the sizes are read from
 * the tensor shapes (layers, hidden size, input size, classes, memory
 * slots); every other option comes from the model flags (official variant
 * by default).
 */
import * as fs from 'node:fs';

import type { Command } from 'commander';

import { NRNMError } from '../errors';
import { NRNMClassifier, resolveModelOptions, type NRNMModelOptions } from '../index';
import { readStateDict } from '../serialization';
import { positiveInt, usageError, withFlagNames } from './flags';
import { FLAG_NAMES, addModelFlags, modelFlagOverrides, resolveModelFlags, type ModelFlagValues, NTU_DEFAULTS, variantOptions } from './model-flags';

/** The flags of every command that loads a model with loadModel(): an official .pt's sizes, then the model flags. */
export function addLoadModelFlags(cmd: Command): Command {
  cmd
    .option('--input-size <n>', 'official .pt: features per step (default: from its tensors)', positiveInt)
    .option('--classes <n>', 'official .pt: classes (default: from its tensors)', positiveInt);
  return addModelFlags(cmd);
}

export interface LoadedModel {
  model: NRNMClassifier;
  kind: 'nrnm' | 'pytorch';
  /** The resolved options the official .pt was read with. */
  inferred?: Record<string, number>;
}

/**
 * Whether `file` is a PyTorch zip: the zip signature, then a version field
 * that is not 0. Bytes 4..7 of a safetensors file are the high half of its
 * header length (at most 1e8), always 0, so no file is both, and everything
 * that is not a zip goes to the checkpoint reader, which alone decides
 * whether it is an .nrnm (a header after spaces, a header of exactly 1e8
 * bytes: whatever NRNMClassifier.load accepts).
 */
function isZip(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new NRNMError(`--checkpoint ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, 'ERR_NOT_FOUND');
  }
  try {
    const head = Buffer.alloc(8);
    const n = fs.readSync(fd, head, 0, 8, 0);
    return n === 8 && head.readUInt32LE(0) === 0x04034b50 && head.readUInt32LE(4) !== 0;
  } finally {
    fs.closeSync(fd);
  }
}

/** The model options a flag sets that contradict the loaded .nrnm, refused naming both values. */
function checkFlagsAgree(file: string, model: NRNMClassifier, flags: ModelFlagValues & { inputSize?: number; classes?: number }): void {
  const given: Partial<Record<string, unknown>> = { ...(flags.variant ? variantOptions(flags.variant) : {}), ...modelFlagOverrides(flags) };
  if (flags.inputSize !== undefined) given['inputSize'] = flags.inputSize;
  if (flags.classes !== undefined) given['classes'] = flags.classes;
  for (const [key, value] of Object.entries(given)) {
    const stored = (model.options as unknown as Record<string, unknown>)[key];
    if (value === undefined || value === stored) continue;
    const flag =
      flags.variant && !(key in modelFlagOverrides(flags))
        ? `--variant ${flags.variant} (${key} ${String(value)})`
        : `${FLAG_NAMES[key] ?? key} ${String(value)}`;
    throw usageError(`${flag} contradicts --checkpoint ${file}, whose model has ${key} ${JSON.stringify(stored)}; an .nrnm carries its options: drop the flag`);
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
  if (!isZip(file)) {
    const model = await NRNMClassifier.load(file, { device }).catch((err: unknown) => {
      if (err instanceof NRNMError && err.code === 'ERR_FORMAT' && err.message.includes('is not a valid safetensors checkpoint')) {
        throw new NRNMError(`${err.message} (--checkpoint takes an .nrnm checkpoint or a PyTorch state_dict .pt in zip format)`, 'ERR_FORMAT', { cause: err });
      }
      throw err;
    });
    try {
      checkFlagsAgree(file, model, flags);
    } catch (err) {
      model.dispose();
      throw err;
    }
    return { model, kind: 'nrnm' };
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
