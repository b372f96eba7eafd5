/**
 * The one interface every reader implements, batching with deterministic
 * shuffling and prefetch, and the in-memory implementation.
 */
import { NRNMError, argError } from '../errors';
import { permutation } from './random';
import { shardRows } from './shard';
import { boolOption, checkKeys, intOption, typedArrayTag } from '../validate';

/**
 * One batch: `x` is [B, T, F] float32 (row-major), `y` the B labels, `indices`
 * the dataset rows; `lengths` the valid steps of each sequence when the
 * dataset holds sequences of different lengths (zero padding after them).
 */
export interface Batch {
  x: Float32Array;
  shape: [number, number, number];
  y: Int32Array;
  indices: Int32Array;
  lengths?: Int32Array;
  /** Per-step regression targets [B, T, C] when the dataset has them (task 'regress-steps'). */
  targets?: Float32Array;
}

/** One sequence: `x` is [T, F] float32. */
export interface Sample {
  x: Float32Array;
  shape: [number, number];
  y: number;
  index: number;
  /** Valid steps of x when the dataset has variable lengths (x is padded to `steps`). */
  length?: number;
}

export interface BatchOptions {
  /** Visit the rows in a random order fixed by (seed, epoch). Default false. */
  shuffle?: boolean;
  /** Default 0. */
  seed?: number;
  /** Default 0; each epoch gets its own order. */
  epoch?: number;
  /** Leave out the last batch when it has fewer than batchSize rows. Default false. */
  dropLast?: boolean;
  /** Batches read ahead while the current one is in use. Default 1; 0 turns prefetch off. */
  prefetch?: number;
  /** Data-parallel: only the rows of rank `rank` of `count` (see shardRows). */
  shard?: { rank: number; count: number };
}

export interface SequenceDataset {
  /** A short description, e.g. 'fashion-mnist/train'. */
  readonly name: string;
  /** Number of sequences N. */
  readonly length: number;
  /** Sequence length T (the longest sequence when lengths vary). */
  readonly steps: number;
  /** Valid steps of each of the N sequences, when they differ; else undefined (all T). */
  readonly lengths?: Int32Array | undefined;
  /** Per-step regression targets, [N, T, outputs] row-major, when the dataset has them. */
  readonly targets?: { data: Float32Array; outputs: number } | undefined;
  /** Features per step F. */
  readonly features: number;
  /** Number of classes; every label is in [0, classes). */
  readonly classes: number;
  /** All N labels. */
  readonly labels: Int32Array;
  /** One sequence, read synchronously. */
  get(index: number): Sample;
  /** The rows `indices`, in that order, as one batch. */
  read(indices: ArrayLike<number>): Promise<Batch>;
  /** Rows [start, start + count) as one batch. */
  readRange(start: number, count: number): Promise<Batch>;
  /** Number of batches `batches(batchSize, {dropLast, shard})` yields (`shards`: the shard count). */
  batchCount(batchSize: number, options?: { dropLast?: boolean; shards?: number }): number;
  /** All batches of one epoch; the next batch is read while the current one is in use. */
  batches(batchSize: number, options?: BatchOptions): AsyncIterableIterator<Batch>;
  /** Releases files; idempotent. Later reads throw ERR_DISPOSED. */
  close(): Promise<void>;
}

const BATCH_KEYS = ['shuffle', 'seed', 'epoch', 'dropLast', 'prefetch', 'shard'] as const;

/** Shared batching logic; a reader only says how to copy rows into a float32 buffer. */
export abstract class BaseSequenceDataset implements SequenceDataset {
  readonly name: string;
  readonly length: number;
  readonly steps: number;
  readonly features: number;
  readonly classes: number;
  readonly labels: Int32Array;
  readonly lengths: Int32Array | undefined;
  readonly targets: { data: Float32Array; outputs: number } | undefined;
  private closed = false;

  protected constructor(info: {
    name: string;
    steps: number;
    features: number;
    classes: number;
    labels: Int32Array;
    lengths?: Int32Array | undefined;
    targets?: Float32Array | undefined;
  }) {
    this.name = info.name;
    this.length = info.labels.length;
    this.steps = info.steps;
    this.features = info.features;
    this.classes = info.classes;
    this.labels = info.labels;
    this.lengths = info.lengths === undefined ? undefined : checkLengths(info.lengths, info.labels.length, info.steps, 'lengths');
    if (info.targets !== undefined) {
      const perRow = this.length === 0 ? 0 : info.targets.length / (this.length * info.steps);
      if (this.length > 0 && (!Number.isInteger(perRow) || perRow < 1)) {
        throw new NRNMError(`targets has ${info.targets.length} values, not N (${this.length}) x steps (${info.steps}) x outputs`, 'ERR_SHAPE');
      }
      this.targets = { data: info.targets, outputs: perRow };
    } else {
      this.targets = undefined;
    }
  }

  /** Copies rows `indices` into `out` (row k at k * steps * features). */
  protected abstract readRowsSync(indices: Int32Array, out: Float32Array): void;

  /** Asynchronous variant; file readers override it. The default copies on a later macrotask. */
  protected async readRows(indices: Int32Array, out: Float32Array): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.readRowsSync(indices, out);
  }

  protected onClose(): void {}

  get(index: number): Sample {
    this.checkOpen();
    const i = this.checkIndex(index, 'index');
    const x = new Float32Array(this.steps * this.features);
    this.readRowsSync(Int32Array.of(i), x);
    const sample: Sample = { x, shape: [this.steps, this.features], y: this.labels[i]!, index: i };
    if (this.lengths) sample.length = this.lengths[i]!;
    return sample;
  }

  async read(indices: ArrayLike<number>): Promise<Batch> {
    this.checkOpen();
    const idx = new Int32Array(indices.length);
    for (let k = 0; k < indices.length; k++) idx[k] = this.checkIndex(indices[k], `indices[${k}]`);
    return this.readChecked(idx);
  }

  readRange(start: number, count: number): Promise<Batch> {
    this.checkOpen();
    intOption('start', start, 0, 0, this.length);
    intOption('count', count, 0, 0, this.length - start);
    const idx = new Int32Array(count);
    for (let k = 0; k < count; k++) idx[k] = start + k;
    return this.readChecked(idx);
  }

  batchCount(batchSize: number, options: { dropLast?: boolean; shards?: number } = {}): number {
    const size = intOption('batchSize', batchSize, 0, 1);
    const dropLast = boolOption('dropLast', options.dropLast, false);
    const rows = Math.ceil(this.length / intOption('shards', options.shards, 1, 1));
    return dropLast ? Math.floor(rows / size) : Math.ceil(rows / size);
  }

  batches(batchSize: number, options: BatchOptions = {}): AsyncIterableIterator<Batch> {
    checkKeys(options, BATCH_KEYS, 'batches()');
    const size = intOption('batchSize', batchSize, 0, 1);
    const shuffle = boolOption('shuffle', options.shuffle, false);
    const seed = intOption('seed', options.seed, 0, 0);
    const epoch = intOption('epoch', options.epoch, 0, 0);
    const dropLast = boolOption('dropLast', options.dropLast, false);
    const prefetch = intOption('prefetch', options.prefetch, 1, 0, 64);
    this.checkOpen();
    let order = shuffle ? permutation(this.length, seed, epoch) : null;
    const shard = options.shard;
    if (shard !== undefined) {
      checkKeys(shard, ['rank', 'count'], 'shard');
      const count = intOption('shard.count', shard.count, 1, 1);
      order = shardRows(order, this.length, intOption('shard.rank', shard.rank, 0, 0, count - 1), count);
    }
    const count = this.batchCount(size, { dropLast, shards: shard?.count ?? 1 });
    return this.iterate(order, order?.length ?? this.length, size, count, prefetch);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }

  private async *iterate(order: Int32Array | null, rows: number, size: number, count: number, prefetch: number): AsyncGenerator<Batch> {
    const pending: Promise<Batch>[] = [];
    let issued = 0;
    const issue = (): void => {
      const start = issued * size;
      const end = Math.min(start + size, rows);
      issued++;
      let idx: Int32Array;
      if (order) idx = order.slice(start, end);
      else {
        idx = new Int32Array(end - start);
        for (let k = 0; k < idx.length; k++) idx[k] = start + k;
      }
      const p = this.readChecked(idx);
      p.catch(() => {}); // awaited below; this only keeps an abandoned read from crashing the process
      pending.push(p);
    };
    if (count > 0) issue();
    while (pending.length > 0) {
      const batch = await pending.shift()!;
      while (pending.length < prefetch && issued < count) issue();
      yield batch;
    }
  }

  private async readChecked(idx: Int32Array): Promise<Batch> {
    this.checkOpen();
    const x = new Float32Array(idx.length * this.steps * this.features);
    if (idx.length > 0) await this.readRows(idx, x);
    const y = new Int32Array(idx.length);
    for (let k = 0; k < idx.length; k++) y[k] = this.labels[idx[k]!]!;
    const batch: Batch = { x, shape: [idx.length, this.steps, this.features], y, indices: idx };
    if (this.lengths) {
      const lengths = this.lengths;
      batch.lengths = Int32Array.from(idx, (i) => lengths[i]!);
    }
    if (this.targets) {
      const row = this.steps * this.targets.outputs;
      const targets = new Float32Array(idx.length * row);
      for (let k = 0; k < idx.length; k++) targets.set(this.targets.data.subarray(idx[k]! * row, (idx[k]! + 1) * row), k * row);
      batch.targets = targets;
    }
    return batch;
  }

  private checkIndex(value: unknown, name: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value >= this.length) {
      throw argError(name, `an integer in [0, ${this.length}) for ${this.name}`, value);
    }
    return value;
  }

  protected checkOpen(): void {
    if (this.closed) throw new NRNMError(`${this.name} was closed`, 'ERR_DISPOSED');
  }
}

export interface InMemoryOptions {
  /** Sequence length T; give it or `features` (the other follows from x.length). */
  steps?: number;
  /** Features per step F. */
  features?: number;
  /** Default: the largest label + 1. */
  classes?: number;
  /** Multiplies Uint8Array data (e.g. 1 / 255). Default 1. */
  scale?: number;
  name?: string;
  /** Valid steps of each sequence (N integers in [1, steps]) when x is padded; default all steps. */
  lengths?: ArrayLike<number>;
  /** Per-step regression targets [N, steps, outputs] (task 'regress-steps'); y may then be all zeros. */
  targets?: Float32Array;
}

/**
 * Sequences held in memory: `x` is [N, T, F] row-major, float32 or uint8
 * (scaled on read, so 60k images stay 47 MB).
 */
export class InMemoryDataset extends BaseSequenceDataset {
  private readonly data: Float32Array | Uint8Array;
  private readonly table: Float32Array | null;

  constructor(x: Float32Array | Uint8Array | ArrayLike<number>, y: ArrayLike<number>, options: InMemoryOptions = {}) {
    checkKeys(options, ['steps', 'features', 'classes', 'scale', 'name', 'lengths', 'targets'], 'inMemory()');
    const tag = typedArrayTag(x);
    const data = tag === 'Float32Array' || tag === 'Uint8Array' ? (x as Float32Array | Uint8Array) : Float32Array.from(x);
    const labels = toLabels(y, 'y');
    const n = labels.length;
    const perRow = n === 0 ? 0 : data.length / n;
    if (!Number.isInteger(perRow)) {
      throw new NRNMError(`x has ${data.length} values, not a multiple of the ${n} labels in y`, 'ERR_SHAPE');
    }
    let steps = intOption('steps', options.steps, 0, 1);
    let features = intOption('features', options.features, 0, 1);
    if (steps === 0 && features === 0) throw argError('steps or features', 'a positive integer', undefined);
    if (steps === 0) steps = perRow / features;
    if (features === 0) features = perRow / steps;
    if (n > 0 && (!Number.isInteger(steps) || !Number.isInteger(features) || steps * features !== perRow)) {
      throw new NRNMError(`x has ${perRow} values per sequence, which is not steps (${steps}) x features (${features})`, 'ERR_SHAPE');
    }
    const classes = intOption('classes', options.classes, maxLabel(labels) + 1, 1);
    checkLabels(labels, classes, 'y');
    const scale = options.scale ?? 1;
    if (typeof scale !== 'number' || !Number.isFinite(scale)) throw argError('scale', 'a finite number', scale);
    const lengths = options.lengths === undefined ? undefined : Int32Array.from(options.lengths);
    super({ name: options.name ?? 'in-memory', steps, features, classes, labels, lengths, targets: options.targets });
    this.data = data;
    this.table = tag === 'Uint8Array' ? byteTable(scale) : null;
  }

  protected readRowsSync(indices: Int32Array, out: Float32Array): void {
    const row = this.steps * this.features;
    const data = this.data;
    const table = this.table;
    for (let k = 0; k < indices.length; k++) {
      const src = indices[k]! * row;
      const dst = k * row;
      if (table === null) out.set((data as Float32Array).subarray(src, src + row), dst);
      else for (let j = 0; j < row; j++) out[dst + j] = table[data[src + j]!]!;
    }
  }
}

/**
 * The 256 float32 values of scaled bytes. For scale = 1 / d with an integer d
 * it is v / d (one correctly rounded division, as torchvision's ToTensor
 * computes v / 255), not v * (1 / d), which can differ in the last bit.
 */
function byteTable(scale: number): Float32Array {
  const d = Math.round(1 / scale);
  const divide = d > 0 && Math.abs(1 / scale - d) <= 1e-9 * d;
  return Float32Array.from({ length: 256 }, (_, v) => (divide ? v / d : v * scale));
}

/** Checks N lengths in [1, steps]; returns them. */
export function checkLengths(lengths: Int32Array, n: number, steps: number, what: string): Int32Array {
  if (lengths.length !== n) throw new NRNMError(`${what} has ${lengths.length} entries but there are ${n} sequences`, 'ERR_SHAPE');
  for (let i = 0; i < n; i++) {
    const v = lengths[i]!;
    if (v < 1 || v > steps) throw new NRNMError(`${what}[${i}] is ${v}; lengths must be integers in [1, ${steps}] (the padded length)`, 'ERR_ARG');
  }
  return lengths;
}

export interface SequencesOptions {
  /** Features per step F; needed when the sequences are flat arrays. */
  features?: number;
  /** Default: the largest label + 1. */
  classes?: number;
  name?: string;
}

/**
 * Sequences of different lengths, each [T_i][F] (arrays of rows) or a flat
 * T_i * F array: padded with zeros to the longest, with their lengths, so
 * that batches carry `lengths` and the padding changes nothing.
 */
export function sequencesDataset(
  sequences: ReadonlyArray<ArrayLike<number> | ReadonlyArray<ArrayLike<number>>>,
  y: ArrayLike<number>,
  options: SequencesOptions = {},
): InMemoryDataset {
  checkKeys(options, ['features', 'classes', 'name'], 'sequences()');
  if (!Array.isArray(sequences)) throw argError('sequences', 'an array of sequences', sequences);
  let features = intOption('features', options.features, 0, 1);
  const rows: Float32Array[] = [];
  sequences.forEach((seq, i) => {
    const nested = seq.length > 0 && typeof (seq as ArrayLike<unknown>)[0] === 'object';
    if (nested) {
      const steps = seq as ReadonlyArray<ArrayLike<number>>;
      if (features === 0) features = steps[0]!.length;
      const flat = new Float32Array(steps.length * features);
      steps.forEach((step, t) => {
        if (step.length !== features) throw new NRNMError(`sequences[${i}][${t}] has ${step.length} features but the others ${features}`, 'ERR_SHAPE');
        flat.set(step, t * features);
      });
      rows.push(flat);
    } else {
      rows.push(Float32Array.from(seq as ArrayLike<number>));
    }
  });
  if (features === 0) throw argError('features', 'a positive integer (the sequences are flat arrays)', options.features);
  const lengths = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    if (r.length === 0 || r.length % features !== 0) {
      throw new NRNMError(`sequences[${i}] has ${r.length} values, not a positive multiple of features (${features})`, 'ERR_SHAPE');
    }
    lengths[i] = r.length / features;
  });
  const steps = Math.max(1, ...lengths);
  const x = new Float32Array(rows.length * steps * features);
  rows.forEach((r, i) => x.set(r, i * steps * features));
  return new InMemoryDataset(x, y, {
    steps,
    features,
    lengths,
    name: options.name ?? 'sequences',
    ...(options.classes !== undefined ? { classes: options.classes } : {}),
  });
}

/** Labels as Int32Array, each a non-negative integer. */
export function toLabels(y: ArrayLike<number> | ArrayLike<bigint>, what: string): Int32Array {
  const out = new Int32Array(y.length);
  for (let i = 0; i < y.length; i++) {
    const v = Number(y[i]);
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
      throw new NRNMError(`${what}[${i}] is ${String(y[i])}; labels must be non-negative integers`, 'ERR_ARG');
    }
    out[i] = v;
  }
  return out;
}

export function maxLabel(labels: Int32Array): number {
  let m = -1;
  for (let i = 0; i < labels.length; i++) if (labels[i]! > m) m = labels[i]!;
  return m;
}

export function checkLabels(labels: Int32Array, classes: number, what: string): void {
  const m = maxLabel(labels);
  if (m >= classes) {
    const i = labels.indexOf(m);
    throw new NRNMError(`${what}[${i}] is ${m} but classes is ${classes}; labels must be in [0, ${classes})`, 'ERR_ARG');
  }
}
