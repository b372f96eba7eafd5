/**
 * The NTU RGB+D benchmarks, decided by the file name alone
 * (datasets/ntu/splits.json, their one definition):
 * - xsub (cross-subject): the training performers (NTU-60 uses the first
 *   20; NTU-120 adds 33, all above 40, so one list serves both);
 * - xview (cross-view): training cameras 2 and 3;
 * - xset (cross-setup, NTU-120): even setup numbers train.
 */
import { shippedJson, shippedLines } from '../shipped';
import type { NtuSampleName } from './skeleton';

interface SplitFile {
  xsub: { trainPerformers: number[] };
  xview: { trainCameras: number[] };
  xset: { trainSetups: 'even' };
}

const SPLITS = shippedJson<SplitFile>('ntu', 'splits.json');

export type NtuBenchmark = 'xsub' | 'xview' | 'xset';
export type NtuPart = 'train' | 'val';

export const NTU_BENCHMARKS: readonly NtuBenchmark[] = ['xsub', 'xview', 'xset'];

/** Training performers of the cross-subject benchmark (NTU-60: the first 20). */
export const NTU_TRAIN_PERFORMERS: readonly number[] = Object.freeze(SPLITS.xsub.trainPerformers);

/** Training cameras of the cross-view benchmark. */
export const NTU_TRAIN_CAMERAS: readonly number[] = Object.freeze(SPLITS.xview.trainCameras);

/** The action names in label order (label = action - 1), 120 of them (datasets/ntu/actions.txt). */
export const NTU_ACTION_NAMES: readonly string[] = Object.freeze(shippedLines('ntu', 'actions.txt'));

/**
 * The samples the dataset's authors list as having missing or incomplete
 * skeletons (datasets/ntu/samples_with_missing_skeletons*.txt): 302 of
 * NTU-60, 535 of NTU-120. Pass them as preprocess's `ignored` to skip them.
 */
export function missingSkeletons(variant: 60 | 120 = 60): string[] {
  return shippedLines('ntu', variant === 120 ? 'samples_with_missing_skeletons_120.txt' : 'samples_with_missing_skeletons.txt');
}

const performers = new Set(NTU_TRAIN_PERFORMERS);

/** True when the sample belongs to the training part of `benchmark`. */
export function isTraining(sample: NtuSampleName, benchmark: NtuBenchmark): boolean {
  switch (benchmark) {
    case 'xsub':
      return performers.has(sample.performer);
    case 'xview':
      return NTU_TRAIN_CAMERAS.includes(sample.camera);
    case 'xset':
      return sample.setup % 2 === 0; // splits.json: even setups train
  }
}

export function partOf(sample: NtuSampleName, benchmark: NtuBenchmark): NtuPart {
  return isTraining(sample, benchmark) ? 'train' : 'val';
}

/** 120 when a name uses a setup, performer or action that only NTU-120 has, else 60. */
export function detectVariant(samples: readonly NtuSampleName[]): 60 | 120 {
  return samples.some((s) => s.setup > 17 || s.performer > 40 || s.action > 60) ? 120 : 60;
}
