/**
 * The NTU RGB+D benchmarks, decided by the file name alone:
 * - xsub (cross-subject): training performers listed below (NTU-60 uses the
 *   first 20; NTU-120 adds 33, all above 40, so one list serves both);
 * - xview (cross-view): training cameras 2 and 3;
 * - xset (cross-setup, NTU-120): even setup numbers train.
 */
import type { NtuSampleName } from './skeleton';

export type NtuBenchmark = 'xsub' | 'xview' | 'xset';
export type NtuPart = 'train' | 'val';

export const NTU_BENCHMARKS: readonly NtuBenchmark[] = ['xsub', 'xview', 'xset'];

/** Training performers of the cross-subject benchmark (NTU-60: the first 20). */
export const NTU_TRAIN_PERFORMERS: readonly number[] = [
  1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38,
  45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83,
  84, 85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103,
]; // prettier-ignore

/** Training cameras of the cross-view benchmark. */
export const NTU_TRAIN_CAMERAS: readonly number[] = [2, 3];

const performers = new Set(NTU_TRAIN_PERFORMERS);

/** True when the sample belongs to the training part of `benchmark`. */
export function isTraining(sample: NtuSampleName, benchmark: NtuBenchmark): boolean {
  switch (benchmark) {
    case 'xsub':
      return performers.has(sample.performer);
    case 'xview':
      return NTU_TRAIN_CAMERAS.includes(sample.camera);
    case 'xset':
      return sample.setup % 2 === 0;
  }
}

export function partOf(sample: NtuSampleName, benchmark: NtuBenchmark): NtuPart {
  return isTraining(sample, benchmark) ? 'train' : 'val';
}

/** 120 when a name uses a setup, performer or action that only NTU-120 has, else 60. */
export function detectVariant(samples: readonly NtuSampleName[]): 60 | 120 {
  return samples.some((s) => s.setup > 17 || s.performer > 40 || s.action > 60) ? 120 : 60;
}
