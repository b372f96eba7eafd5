/**
 * Dataset readers and batching (pure TypeScript, no native code).
 *
 *   datasets.fashionMnist.load({ dir?, part: 'train' | 'test' })
 *   datasets.ntu.load(dir, { split: 'cs' | 'cv' | 'cset', part: 'train' | 'val' })
 *   datasets.ntu.preprocess({ raw, out, ignored?, onProgress? })
 *   datasets.npy.load(xPath, yPath)
 *   datasets.inMemory(x, y, { steps, features })
 *
 * Every reader returns a SequenceDataset; `.batches(batchSize, options)`
 * yields `{ x: Float32Array [B, T, F], shape, y: Int32Array [B], indices }`.
 */
import { InMemoryDataset, sequencesDataset, type InMemoryOptions } from './dataset';
import { FASHION_MNIST_CLASSES, fashionMnistDirs, loadFashionMnist, loadIdxDataset } from './fashion-mnist';
import { readIdx } from './idx';
import { NpyFile, NpyWriter, readNpy, writeNpy } from './npy';
import { loadNpy, readLabels } from './npy-dataset';
import { loadNtu, ntuPaths } from './ntu/dataset';
import { readLabelPkl, writeLabelPkl } from './ntu/labels';
import { preprocessSkeleton } from './ntu/normalize';
import { preprocess } from './ntu/preprocess';
import { parseSampleName, parseSkeleton, readSkeletonFile } from './ntu/skeleton';
import { NTU_ACTION_NAMES, NTU_TRAIN_CAMERAS, NTU_TRAIN_PERFORMERS, isTraining, missingSkeletons } from './ntu/splits';

export {
  BaseSequenceDataset,
  InMemoryDataset,
  type Batch,
  type BatchOptions,
  type InMemoryOptions,
  type Sample,
  type SequencesOptions,
  sequencesDataset,
  type SequenceDataset,
} from './dataset';
export { FASHION_MNIST_CLASSES, fashionMnistDirs, loadFashionMnist, loadIdxDataset, type FashionMnistOptions } from './fashion-mnist';
export { parseIdx, readIdx, type IdxArray } from './idx';
export {
  NpyFile,
  NpyWriter,
  dtypeOf,
  encodeNpy,
  parseNpy,
  parseNpyHeader,
  readNpy,
  writeNpy,
  type NpyArray,
  type NpyDType,
  type NpyHeader,
  type NpyTypedArray,
} from './npy';
export { NpyDataset, loadNpy, readLabels, type NpyLoadOptions } from './npy-dataset';
export { loadNtu, ntuPaths, type NtuLoadOptions, type NtuSplit } from './ntu/dataset';
export { readLabelPkl, writeLabelPkl, type NtuLabels } from './ntu/labels';
export {
  NTU_BODIES,
  NTU_FEATURES,
  NTU_FRAMES,
  alignBone,
  bodyEnergy,
  centerOnSpine,
  keptFrames,
  padNullFrames,
  preprocessSkeleton,
  selectBodies,
  toOfficialLayout,
} from './ntu/normalize';
export {
  preprocess as preprocessNtu,
  type NtuPreprocessOptions,
  type NtuPreprocessOutput,
  type NtuPreprocessProgress,
  type NtuPreprocessResult,
} from './ntu/preprocess';
export {
  KINECT_BODIES,
  NTU_JOINTS,
  SkeletonParser,
  frameRow,
  parseSampleName,
  parseSkeleton,
  parseSkeletonStream,
  readSkeletonFile,
  type NtuSampleName,
  type SkeletonSequence,
} from './ntu/skeleton';
export { NTU_ACTION_NAMES, NTU_TRAIN_CAMERAS, NTU_TRAIN_PERFORMERS, isTraining, missingSkeletons, partOf, type NtuBenchmark, type NtuPart } from './ntu/splits';
export { permutation } from './random';

/** The dataset readers, grouped by source. */
export const datasets = {
  /** Sequences held in memory (synthetic data, tests). */
  inMemory(x: Float32Array | Uint8Array | ArrayLike<number>, y: ArrayLike<number>, options: InMemoryOptions): InMemoryDataset {
    return new InMemoryDataset(x, y, options);
  },
  /** Sequences of different lengths (arrays of rows or flat arrays), padded, with their lengths. */
  sequences: sequencesDataset,
  fashionMnist: {
    load: loadFashionMnist,
    /** Where load() looks without a dir. */
    dirs: fashionMnistDirs,
    classes: FASHION_MNIST_CLASSES,
  },
  /** Any IDX image set (N, rows, cols) as rows steps of cols features. */
  idx: { load: loadIdxDataset, read: readIdx },
  ntu: {
    /** A split and part of the official preprocessed folders. */
    load: loadNtu,
    paths: ntuPaths,
    /** Raw .skeleton files -> the official preprocessed folders. */
    preprocess,
    parseSkeleton,
    readSkeleton: readSkeletonFile,
    preprocessSkeleton,
    parseSampleName,
    isTraining,
    trainPerformers: NTU_TRAIN_PERFORMERS,
    trainCameras: NTU_TRAIN_CAMERAS,
    /** The 120 action names in label order. */
    actions: NTU_ACTION_NAMES,
    /** The samples with missing skeletons the dataset's authors list (60 or 120), for preprocess's `ignored`. */
    missingSkeletons,
    readLabels: readLabelPkl,
    writeLabels: writeLabelPkl,
  },
  npy: {
    /** Sequences (N, T, F) from a .npy, labels from a .npy or a label .pkl; read lazily. */
    load: loadNpy,
    open: NpyFile.open,
    read: readNpy,
    write: writeNpy,
    writer: NpyWriter.create,
    readLabels,
  },
} as const;
