/**
 * The official preprocessed NTU RGB+D folders:
 *   <dir>/xsub|xview|xset/{train,val}_data_joint.npy  (N, 100, 150) float32
 *   <dir>/xsub|xview|xset/{train,val}_label.pkl       (names, labels)
 *   <dir>/xsub|xview|xset/{train,val}_lengths.npy     (N) int32, written by
 *     `preprocess()`: each clip's own frames (at most 100), read with
 *     `{ lengths: true }` to keep clips unpadded
 * The data is read lazily from the .npy; labels through the safe unpickler.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NRNMError } from '../../errors';
import { openNpy } from '../npy-dataset';
import { readLabelPkl } from './labels';
import { boolOption, checkKeys, intOption, oneOf, stringOption } from '../../validate';
import { type SequenceDataset, maxLabel } from '../dataset';
import type { NtuBenchmark, NtuPart } from './splits';

export type NtuSplit = 'cs' | 'cv' | 'cset';

export interface NtuLoadOptions {
  /** 'cs' cross-subject (xsub), 'cv' cross-view (xview), 'cset' cross-setup (xset, NTU-120); the folder names work too. Default 'cs'. */
  split?: NtuSplit | NtuBenchmark;
  /** 'train' or 'val' ('test' is the same as 'val'). Default 'train'. */
  part?: NtuPart | 'test';
  /** Default 60, or 120 when a label is 60 or more. */
  classes?: number;
  /** Read the whole .npy into memory now. Default false. */
  preload?: boolean;
  /**
   * Keep clips unpadded: each sequence ends at its clip's own last frame
   * (from `<part>_lengths.npy`, which `preprocess()` writes), so the official
   * fill after it (repeated frames) changes nothing. Default false (the
   * official 100 steps for every clip).
   */
  lengths?: boolean;
}

const FOLDER: Record<NtuSplit | NtuBenchmark, NtuBenchmark> = { cs: 'xsub', cv: 'xview', cset: 'xset', xsub: 'xsub', xview: 'xview', xset: 'xset' };

/** The data and label paths of one split and part; `dir` is the root or the split folder itself. */
export function ntuPaths(dir: string, split: NtuSplit | NtuBenchmark, part: NtuPart): { data: string; label: string } {
  const tried: string[] = [];
  for (const folder of [path.join(dir, FOLDER[split]), dir]) {
    const data = path.join(folder, `${part}_data_joint.npy`);
    const label = path.join(folder, `${part}_label.pkl`);
    if (fs.existsSync(data) && fs.existsSync(label)) return { data, label };
    tried.push(data, label);
  }
  throw new NRNMError(
    `NTU RGB+D ${FOLDER[split]}/${part} not found: looked for ${tried.join(', ')}. ` +
      `Create them from the raw skeletons with 'nrnm-native preprocess --dataset ntu --raw <nturgb+d_skeletons> --out ${dir}'.`,
    'ERR_NOT_FOUND',
  );
}

/** One split and part of a preprocessed NTU RGB+D folder, as sequences of 100 steps x 150 features. */
export function loadNtu(dir: string, options: NtuLoadOptions = {}): SequenceDataset & { names?: string[] | undefined } {
  checkKeys(options, ['split', 'part', 'classes', 'preload', 'lengths'], 'ntu.load()');
  stringOption('dir', dir);
  const split = oneOf('split', options.split, ['cs', 'cv', 'cset', 'xsub', 'xview', 'xset'] as const, 'cs');
  const partOption = oneOf('part', options.part, ['train', 'val', 'test'] as const, 'train');
  const part: NtuPart = partOption === 'test' ? 'val' : partOption;
  const { data, label } = ntuPaths(dir, split, part);
  const y = readLabelPkl(label);
  const classes = intOption('classes', options.classes, maxLabel(y.labels) >= 60 ? 120 : 60, 1);
  const unpadded = boolOption('lengths', options.lengths, false);
  const lengths = path.join(path.dirname(data), `${part}_lengths.npy`);
  if (unpadded && !fs.existsSync(lengths)) {
    throw new NRNMError(
      `${lengths} not found: { lengths: true } reads each clip's length from it. ` +
        `'nrnm-native preprocess --dataset ntu' writes it next to ${path.basename(data)} (the official preprocessed folders have none).`,
      'ERR_NOT_FOUND',
    );
  }
  return openNpy(
    data,
    { ...y, source: label },
    { name: `ntu/${FOLDER[split]}/${part}`, classes, preload: options.preload ?? false, ...(unpadded ? { lengths } : {}) },
  );
}
