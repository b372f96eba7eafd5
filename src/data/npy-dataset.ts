/**
 * A dataset backed by a .npy file of sequences, read lazily: each batch is
 * read from the file (positional reads off the event loop), so the file
 * never has to fit in memory. Labels come from a .npy of integers or from
 * an official `(names, labels)` label pickle.
 */
import * as path from 'node:path';
import { NRNMError } from '../errors';
import { BaseSequenceDataset, InMemoryDataset, type SequenceDataset, checkLabels, checkLengths, maxLabel } from './dataset';
import { NpyFile, readNpy, toInt32 } from './npy';
import { readLabelPkl } from './ntu/labels';
import { boolOption, checkKeys, intOption, stringOption } from '../validate';

export interface NpyLoadOptions {
  /** Sequence length T; needed for 2-D (N, T*F) data, else taken from the shape (N, T, F). */
  steps?: number;
  /** Features per step F; the alternative to `steps` for 2-D data. */
  features?: number;
  /** Default: the largest label + 1. */
  classes?: number;
  /** Read the whole file into memory now (faster random access when it fits). Default false. */
  preload?: boolean;
  name?: string;
  /** A .npy of N integers: the valid steps of each (padded) sequence. Default: all T. */
  lengths?: string;
}

/** Sequences read row by row from an open NpyFile. */
export class NpyDataset extends BaseSequenceDataset {
  /** Sample names, when the labels came from a label pickle. */
  readonly names: string[] | undefined;
  private readonly x: NpyFile;

  constructor(
    x: NpyFile,
    labels: Int32Array,
    info: { steps: number; features: number; classes: number; name: string; names?: string[]; lengths?: Int32Array | undefined },
  ) {
    super({ name: info.name, steps: info.steps, features: info.features, classes: info.classes, labels, lengths: info.lengths });
    this.x = x;
    this.names = info.names;
  }

  /** Consecutive runs of `indices` -> [position in batch, first row, rows]. */
  private static runs(indices: Int32Array): Array<[number, number, number]> {
    const runs: Array<[number, number, number]> = [];
    for (let k = 0; k < indices.length;) {
      let n = 1;
      while (k + n < indices.length && indices[k + n] === indices[k]! + n) n++;
      runs.push([k, indices[k]!, n]);
      k += n;
    }
    return runs;
  }

  protected readRowsSync(indices: Int32Array, out: Float32Array): void {
    const row = this.steps * this.features;
    for (const [k, start, n] of NpyDataset.runs(indices)) this.x.readFloat32Sync(start, n, out, k * row);
  }

  protected override async readRows(indices: Int32Array, out: Float32Array): Promise<void> {
    const row = this.steps * this.features;
    await Promise.all(NpyDataset.runs(indices).map(([k, start, n]) => this.x.readFloat32(start, n, out, k * row)));
  }

  protected override onClose(): void {
    this.x.close();
  }
}

/** (steps, features) for data of `shape`, from the options or the shape itself. */
function sequenceShape(file: string, shape: number[], options: NpyLoadOptions): [number, number] {
  const rowLength = shape.slice(1).reduce((a, b) => a * b, 1);
  let steps = intOption('steps', options.steps, 0, 1);
  let features = intOption('features', options.features, 0, 1);
  if (steps === 0 && features === 0) {
    if (shape.length !== 3) {
      throw new NRNMError(
        `${file}: expected sequences of shape (N, T, F) but found shape (${shape.join(', ')}); pass steps or features to read (N, T*F) data`,
        'ERR_SHAPE',
      );
    }
    return [shape[1]!, shape[2]!];
  }
  if (shape.length < 2) throw new NRNMError(`${file}: expected sequences of shape (N, T, F) but found shape (${shape.join(', ')})`, 'ERR_SHAPE');
  if (steps === 0) steps = rowLength / features;
  if (features === 0) features = rowLength / steps;
  if (!Number.isInteger(steps) || !Number.isInteger(features) || steps * features !== rowLength) {
    throw new NRNMError(`${file}: rows of ${rowLength} values cannot be ${options.steps ?? '?'} steps of ${options.features ?? '?'} features`, 'ERR_SHAPE');
  }
  return [steps, features];
}

/** Labels from a .npy (integers, shape (N)) or a `(names, labels)` .pkl. */
export function readLabels(file: string): { labels: Int32Array; names?: string[] } {
  if (file.endsWith('.pkl') || file.endsWith('.pickle')) return readLabelPkl(file);
  const y = readNpy(file);
  if (y.shape.length !== 1) throw new NRNMError(`${file}: expected labels of shape (N) but found shape (${y.shape.join(', ')})`, 'ERR_SHAPE');
  const labels = toInt32(y, file);
  const neg = labels.findIndex((v) => v < 0);
  if (neg >= 0) throw new NRNMError(`${file}: label ${neg} is ${labels[neg]}; labels must be non-negative`, 'ERR_FORMAT');
  return { labels };
}

/** Lengths from a .npy of N integers in [1, steps]. */
function readLengths(file: string, rows: number, steps: number): Int32Array {
  const a = readNpy(file);
  if (a.shape.length !== 1) throw new NRNMError(`${file}: expected lengths of shape (N) but found shape (${a.shape.join(', ')})`, 'ERR_SHAPE');
  return checkLengths(toInt32(a, file), rows, steps, file);
}

/** Sequences from `xPath` (N, T, F) with labels from `yPath` (.npy or label .pkl). */
export function loadNpy(xPath: string, yPath: string, options: NpyLoadOptions = {}): SequenceDataset & { names?: string[] | undefined } {
  checkKeys(options, ['steps', 'features', 'classes', 'preload', 'name', 'lengths'], 'npy.load()');
  stringOption('xPath', xPath);
  stringOption('yPath', yPath);
  return openNpy(xPath, { ...readLabels(yPath), source: yPath }, options);
}

/** `loadNpy` with the labels already read (`source` names their file in errors). */
export function openNpy(
  xPath: string,
  y: { labels: Int32Array; names?: string[] | undefined; source: string },
  options: NpyLoadOptions = {},
): SequenceDataset & { names?: string[] | undefined } {
  const preload = boolOption('preload', options.preload, false);
  const { labels, names } = y;
  const x = NpyFile.open(xPath);
  try {
    const [steps, features] = sequenceShape(xPath, x.shape, options);
    if (x.rows !== labels.length) {
      throw new NRNMError(`${y.source} has ${labels.length} labels but ${xPath} has ${x.rows} sequences`, 'ERR_SHAPE');
    }
    const classes = intOption('classes', options.classes, maxLabel(labels) + 1, 1);
    checkLabels(labels, classes, y.source);
    const name = options.name ?? path.basename(xPath, '.npy');
    const lengths = options.lengths === undefined ? undefined : readLengths(stringOption('lengths', options.lengths), x.rows, steps);
    if (preload) {
      const data = new Float32Array(x.count);
      if (x.rows > 0) x.readFloat32Sync(0, x.rows, data);
      x.close();
      const ds = new InMemoryDataset(data, labels, { steps, features, classes, name, ...(lengths ? { lengths } : {}) });
      return Object.assign(ds, { names });
    }
    return new NpyDataset(x, labels, { steps, features, classes, name, lengths, ...(names ? { names } : {}) });
  } catch (e) {
    x.close();
    throw e;
  }
}
