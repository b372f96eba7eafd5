/**
 * The datasets the command line knows, opened from flags:
 *   fashion-mnist     IDX files (Debian's dataset-fashion-mnist, or --data DIR)
 *   ntu               NTU RGB+D: --data is a preprocessed folder or the raw
 *                     .skeleton files (preprocessed once, into --preprocessed)
 *   ntu-preprocessed  the official preprocessed folders only
 *   npy               --data DIR holding train_x.npy/train_y.npy (+ test_ or val_;
 *                     --unpadded: <part>_lengths.npy too)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import {
  BaseSequenceDataset,
  FASHION_MNIST_CLASSES,
  NTU_ACTION_NAMES,
  fashionMnistDirs,
  loadFashionMnist,
  loadNpy,
  loadNtu,
  preprocessNtu,
  type NtuPreprocessOptions,
  type SequenceDataset,
} from '../data';
import { NRNMError } from '../errors';
import { usageError } from './flags';
import { type Output, ProgressLine } from './output';

export const DATASET_KINDS = ['fashion-mnist', 'ntu', 'ntu-preprocessed', 'npy'] as const;
export type DatasetKind = (typeof DATASET_KINDS)[number];
export const NTU_SPLITS = ['cs', 'cv', 'cset'] as const;
export type NtuSplitFlag = (typeof NTU_SPLITS)[number];

export const NTU_DOWNLOAD = 'https://rose1.ntu.edu.sg/dataset/actionRecognition/';
/** Where the official README puts the data; the default --data for NTU. */
export const NTU_DEFAULT_DIR = path.join('datasets', 'Skeleton');

export interface DataFlags {
  dataset: DatasetKind;
  data?: string | undefined;
  split?: NtuSplitFlag | undefined;
  /** Use only the first N sequences of each part. */
  limit?: number | undefined;
  /** Where raw NTU skeletons are preprocessed to (default: <data>-preprocessed). */
  preprocessed?: string | undefined;
  /** NTU: each sequence ends at its clip's last frame (`ntu.load(dir, { lengths: true })`); npy: at <part>_lengths.npy. */
  unpadded?: boolean | undefined;
}

export interface OpenedData {
  train?: SequenceDataset;
  eval?: SequenceDataset;
  classNames: string[];
  /** What was opened, for config.json and the logs. */
  description: Record<string, unknown>;
}

/** The first `count` sequences of another dataset. */
class Prefix extends BaseSequenceDataset {
  readonly #inner: SequenceDataset;

  constructor(inner: SequenceDataset, count: number) {
    super({
      name: `${inner.name}[:${count}]`,
      steps: inner.steps,
      features: inner.features,
      classes: inner.classes,
      labels: inner.labels.slice(0, count),
    });
    this.#inner = inner;
  }

  protected readRowsSync(indices: Int32Array, out: Float32Array): void {
    const row = this.steps * this.features;
    for (let k = 0; k < indices.length; k++) out.set(this.#inner.get(indices[k]!).x, k * row);
  }

  protected override async readRows(indices: Int32Array, out: Float32Array): Promise<void> {
    out.set((await this.#inner.read(indices)).x);
  }

  protected override onClose(): void {
    void this.#inner.close();
  }
}

function limited(data: SequenceDataset, limit: number | undefined): SequenceDataset {
  return limit === undefined || limit >= data.length ? data : new Prefix(data, limit);
}

export function classNamesFor(kind: DatasetKind, classes: number): string[] {
  return Array.from({ length: classes }, (_, i) => {
    if (kind === 'fashion-mnist') return FASHION_MNIST_CLASSES[i] ?? String(i);
    if (kind === 'ntu' || kind === 'ntu-preprocessed') {
      const a = `A${String(i + 1).padStart(3, '0')}`;
      return NTU_ACTION_NAMES[i] ? `${a} ${NTU_ACTION_NAMES[i]}` : a;
    }
    return String(i);
  });
}

function hasPreprocessedNtu(dir: string): boolean {
  const folders = ['xsub', 'xview', 'xset', '.'];
  return folders.some((f) => fs.existsSync(path.join(dir, f, 'train_data_joint.npy')) || fs.existsSync(path.join(dir, f, 'val_data_joint.npy')));
}

function hasRawSkeletons(dir: string): boolean {
  try {
    return fs.readdirSync(dir).some((n) => n.endsWith('.skeleton'));
  } catch {
    return false;
  }
}

function ntuMissing(dir: string, extra = ''): NRNMError {
  return new NRNMError(
    `NTU RGB+D data not found: ${path.resolve(dir)} holds neither the preprocessed folders (xsub/ or xview/ with train_data_joint.npy and train_label.pkl) ` +
      `nor raw .skeleton files.${extra} Download the skeletons (nturgbd_skeletons_s001_to_s017.zip, free registration) from ${NTU_DOWNLOAD}, ` +
      `unzip them and pass the folder with --data (it is preprocessed on first use), or run ` +
      `'nrnm-native preprocess --dataset ntu --raw <nturgb+d_skeletons> --out ${NTU_DEFAULT_DIR}'.`,
    'ERR_NOT_FOUND',
  );
}

/** Raw skeletons -> the preprocessed layout, with progress; returns the output folder. */
export async function preprocessRaw(
  raw: string,
  outDir: string,
  out: Output,
  signal?: AbortSignal,
  extra: Pick<NtuPreprocessOptions, 'workers' | 'ignored' | 'benchmarks' | 'variant'> = {},
): Promise<void> {
  const total = fs.readdirSync(raw).filter((n) => n.endsWith('.skeleton')).length;
  out.info(`preprocessing ${total} NTU RGB+D skeleton files from ${raw} into ${outDir}`);
  out.event('preprocess-start', { raw, out: outDir, files: total });
  const progress = new ProgressLine(out, 'preprocess', total);
  let lastEvent = 0;
  const result = await preprocessNtu({
    raw,
    out: outDir,
    ...extra,
    ...(signal ? { signal } : {}),
    onProgress: (p) => {
      const rate = p.done / Math.max(p.elapsedMs / 1000, 1e-3);
      progress.update(p.done, `${rate.toFixed(0)} files/s`);
      if (out.mode === 'json' && (p.done === p.total || Date.now() - lastEvent > 1000)) {
        lastEvent = Date.now();
        out.event('preprocess-progress', { done: p.done, total: p.total, filesPerSecond: rate });
      }
    },
  });
  progress.done(
    `preprocessed ${result.samples} samples (NTU-${result.variant}, ${result.ignored} ignored) in ${(result.elapsedMs / 1000).toFixed(1)} s with ${result.workers || 'no'} worker threads`,
  );
  for (const o of result.outputs) out.info(`  ${o.data}: ${o.samples} sequences`);
  out.event('preprocess-done', { ...result });
}

function findFirst(dir: string, names: string[]): string | undefined {
  return names.map((n) => path.join(dir, n)).find((p) => fs.existsSync(p));
}

function npyPart(dir: string, part: string): { x: string; y: string } | { tried: string[] } {
  const xs = [`${part}_x.npy`, `x_${part}.npy`, `${part}_data.npy`, `${part}_data_joint.npy`];
  const ys = [`${part}_y.npy`, `y_${part}.npy`, `${part}_label.npy`, `${part}_labels.npy`, `${part}_label.pkl`];
  const x = findFirst(dir, xs);
  const y = findFirst(dir, ys);
  if (x && y) return { x, y };
  return { tried: [...xs, ...ys].map((n) => path.join(dir, n)) };
}

/** --unpadded with --dataset npy: `<part>_lengths.npy` next to the part's x, N integers in [1, T]. */
function npyLengths(x: string, part: string, unpadded: boolean | undefined): { lengths?: string } {
  if (!unpadded) return {};
  const file = path.join(path.dirname(x), `${part}_lengths.npy`);
  if (!fs.existsSync(file)) {
    throw new NRNMError(`--unpadded: ${file} not found; it holds the valid steps of each sequence of ${x} (N integers in [1, T])`, 'ERR_NOT_FOUND');
  }
  return { lengths: file };
}

/**
 * Opens the training and/or evaluation part. Fashion-MNIST evaluates on its
 * test set, NTU on the val part of the split, npy on test_* (or val_*).
 */
export async function openData(
  flags: DataFlags,
  parts: { train: boolean; eval: boolean; evalOnTrain?: boolean },
  out: Output,
  signal?: AbortSignal,
): Promise<OpenedData> {
  const { dataset, limit } = flags;
  if (dataset !== 'ntu' && dataset !== 'ntu-preprocessed' && flags.split !== undefined) {
    throw usageError(`--split applies to --dataset ntu or ntu-preprocessed, not --dataset ${dataset}`);
  }
  if (dataset === 'fashion-mnist' && flags.unpadded) {
    throw usageError('--unpadded applies to --dataset ntu, ntu-preprocessed or npy, not --dataset fashion-mnist (its images all have 28 rows)');
  }
  let train: SequenceDataset | undefined;
  let evalData: SequenceDataset | undefined;
  const description: Record<string, unknown> = { dataset, limit: limit ?? null };

  if (dataset === 'fashion-mnist') {
    const dir = flags.data === undefined ? undefined : path.resolve(flags.data);
    if (parts.train || parts.evalOnTrain) train = loadFashionMnist({ part: 'train', ...(dir ? { dir } : {}) });
    if (parts.eval && !parts.evalOnTrain) evalData = loadFashionMnist({ part: 'test', ...(dir ? { dir } : {}) });
    description['data'] = dir ?? fashionMnistDirs();
  } else if (dataset === 'ntu' || dataset === 'ntu-preprocessed') {
    const dir = path.resolve(flags.data ?? NTU_DEFAULT_DIR);
    const split = flags.split ?? 'cs';
    let root = dir;
    if (!fs.existsSync(dir)) throw ntuMissing(dir, flags.data === undefined ? ` (${NTU_DEFAULT_DIR} is the default --data, as in the official README.)` : '');
    if (!hasPreprocessedNtu(dir)) {
      if (dataset === 'ntu-preprocessed' || !hasRawSkeletons(dir)) {
        throw ntuMissing(
          dir,
          dataset === 'ntu-preprocessed' && hasRawSkeletons(dir) ? ' It holds raw .skeleton files: use --dataset ntu to preprocess them.' : '',
        );
      }
      root = path.resolve(flags.preprocessed ?? `${dir.replace(/[/\\]+$/, '')}-preprocessed`);
      if (!hasPreprocessedNtu(root)) await preprocessRaw(dir, root, out, signal);
      else out.info(`using the preprocessed copy of ${dir} in ${root}`);
    }
    const load = (part: 'train' | 'val') => {
      try {
        return loadNtu(root, { split, part, ...(flags.unpadded ? { lengths: true } : {}) });
      } catch (err) {
        if (err instanceof NRNMError && err.code === 'ERR_NOT_FOUND') {
          throw new NRNMError(`${err.message} The raw skeletons are at ${NTU_DOWNLOAD}.`, 'ERR_NOT_FOUND', { cause: err });
        }
        throw err;
      }
    };
    if (parts.train || parts.evalOnTrain) train = load('train');
    if (parts.eval && !parts.evalOnTrain) evalData = load('val');
    Object.assign(description, { data: root, split, ...(root !== dir ? { raw: dir } : {}), ...(flags.unpadded ? { unpadded: true } : {}) });
  } else {
    if (flags.data === undefined) {
      throw usageError(
        '--dataset npy needs --data DIR, a folder holding train_x.npy and train_y.npy (labels as .npy or a (names, labels) .pkl) and optionally test_x.npy/test_y.npy or val_x.npy/val_y.npy',
      );
    }
    const dir = path.resolve(flags.data);
    if (parts.train || parts.evalOnTrain) {
      const found = npyPart(dir, 'train');
      if ('tried' in found) throw new NRNMError(`--dataset npy: no training data in ${dir}: looked for ${found.tried.join(', ')}`, 'ERR_NOT_FOUND');
      train = loadNpy(found.x, found.y, { name: 'npy/train', ...npyLengths(found.x, 'train', flags.unpadded) });
    }
    if (parts.eval && !parts.evalOnTrain) {
      const test = npyPart(dir, 'test');
      const found = 'tried' in test ? npyPart(dir, 'val') : test;
      if (!('tried' in found)) {
        const part = path.basename(found.x).startsWith('val') ? 'val' : 'test';
        evalData = loadNpy(found.x, found.y, { name: `npy/${part}`, ...npyLengths(found.x, part, flags.unpadded) });
      } else if (!parts.train) {
        throw new NRNMError(
          `--dataset npy: no evaluation data in ${dir}: looked for test_x.npy/test_y.npy and val_x.npy/val_y.npy (or use --part train)`,
          'ERR_NOT_FOUND',
        );
      }
    }
    Object.assign(description, { data: dir, ...(flags.unpadded ? { unpadded: true } : {}) });
  }
  if (parts.evalOnTrain) {
    evalData = train;
    train = undefined;
  }
  if (train) train = limited(train, limit);
  if (evalData) evalData = limited(evalData, limit);
  const classes = Math.max(train?.classes ?? 0, evalData?.classes ?? 0);
  const info = (d: SequenceDataset | undefined) => (d ? { name: d.name, sequences: d.length, steps: d.steps, features: d.features, classes: d.classes } : null);
  description['train'] = info(train);
  description['eval'] = info(evalData);
  const opened: OpenedData = { classNames: classNamesFor(dataset, classes), description };
  if (train) opened.train = train;
  if (evalData) opened.eval = evalData;
  return opened;
}
