/** The flags of `nrnm-native train`, as commander parses them (read by the plan and by the resume check). */
import type { DatasetKind, NtuSplitFlag } from '../data';
import type { ModelFlagValues, TrainerFlagValues } from '../model-flags';

export interface TrainFlags extends ModelFlagValues, TrainerFlagValues {
  dataset?: DatasetKind;
  data?: string;
  split?: NtuSplitFlag;
  data_mode?: 'cs' | 'cv';
  limit?: number;
  preprocessed?: string;
  unpadded?: boolean;
  seed?: number;
  device: string;
  evalEvery?: number;
  maxSteps?: number;
  earlyStop?: number;
  /** A JSON file of the run's settings (train-config.ts); the flags override it. */
  config?: string;
  out?: string;
  resume?: string;
  sb?: string;
  finalEval: boolean;
  /** A folder, true (the run directory, the default) or false (--no-tensorboard). */
  tensorboard?: string | boolean;
  json?: boolean;
  quiet?: boolean;
  nproc?: number;
  oversubscribe?: boolean;
  distTimeout?: number;
}
