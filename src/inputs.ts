/**
 * Checks model inputs before any native work and turns them into tensors:
 * sequences x as [B, T, F] float32, labels as int64 in [0, classes).
 */
import { NRNMError, describe } from './errors';
import { Tensor, checkShape } from './tensor';
import { typedArrayTag } from './validate';

/** A batch of sequences: a Tensor, or data plus shape [B, T, F]. */
export type SequenceInput = Tensor | { data: Float32Array; shape: readonly number[] };
export type LabelInput = Int32Array | BigInt64Array | readonly number[] | Tensor;
/**
 * Valid steps of each sequence of a padded batch x [B, T, F]: B integers in
 * [1, T]. Steps past a sequence's end change nothing (no state or memory
 * update, no loss); outputs are read at each sequence's last valid step.
 */
export type LengthsInput = Int32Array | BigInt64Array | readonly number[] | Tensor;

/** A tensor for x, and whether the caller owns it (else dispose after use). */
export interface Prepared {
  tensor: Tensor;
  owned: boolean;
}

export function prepareSequences(x: SequenceInput, inputSize: number, name = 'x'): Prepared {
  let shape: readonly number[];
  if (x instanceof Tensor) {
    if (x.dtype !== 'float32') throw new NRNMError(`Expected ${name} to be a float32 tensor but received ${x.dtype}`, 'ERR_DTYPE');
    shape = x.shape;
  } else if (x !== null && typeof x === 'object' && 'data' in x && 'shape' in x) {
    if (typedArrayTag(x.data) !== 'Float32Array') {
      throw new NRNMError(`Expected ${name}.data to be a Float32Array but received ${describe(x.data)}`, 'ERR_DTYPE');
    }
    checkShape(x.shape, `${name}.shape`);
    shape = x.shape;
  } else {
    throw new NRNMError(`Expected ${name} to be a Tensor or {data: Float32Array, shape: [B, T, F]} but received ${describe(x)}`, 'ERR_ARG');
  }
  if (shape.length !== 3 || shape[0] < 1 || shape[1] < 1) {
    throw new NRNMError(`Expected ${name} to have shape [batch, time, features] with batch and time >= 1 but received [${shape.join(', ')}]`, 'ERR_SHAPE');
  }
  if (shape[2] !== inputSize) {
    throw new NRNMError(`Expected ${name} to have ${inputSize} features (the model's inputSize) but received shape [${shape.join(', ')}]`, 'ERR_SHAPE');
  }
  return x instanceof Tensor ? { tensor: x, owned: false } : { tensor: Tensor.from(x.data, x.shape), owned: true };
}

/**
 * `ignored(i)`: label i lies past its sequence's end (padding), where any
 * integer is accepted (-1 and -100, PyTorch's ignore_index habit, included)
 * and none is used: it crosses as 0.
 */
export function prepareLabels(labels: LabelInput, batch: number, classes: number, name = 'labels', ignored?: (i: number) => boolean): Prepared {
  let values: ArrayLike<number | bigint>;
  if (labels instanceof Tensor) {
    if (labels.dtype !== 'int32' && labels.dtype !== 'int64') {
      throw new NRNMError(`Expected ${name} to be an int32 or int64 tensor but received ${labels.dtype}`, 'ERR_DTYPE');
    }
    if (labels.shape.length !== 1) throw new NRNMError(`Expected ${name} to have shape [${batch}] but received [${labels.shape.join(', ')}]`, 'ERR_SHAPE');
    values = labels.toArray() as Int32Array | BigInt64Array;
  } else if (Array.isArray(labels) || ['Int32Array', 'BigInt64Array'].includes(typedArrayTag(labels) ?? '')) {
    values = labels as ArrayLike<number | bigint>;
  } else {
    throw new NRNMError(`Expected ${name} to be an Int32Array, BigInt64Array, number[] or Tensor but received ${describe(labels)}`, 'ERR_ARG');
  }
  if (values.length !== batch) {
    throw new NRNMError(`Expected ${batch} ${name} (one per sequence) but received ${values.length}`, 'ERR_SHAPE');
  }
  const int64 = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const raw: unknown = values[i];
    // Number('3') would quietly accept labels read as text: only numbers are labels.
    if (typeof raw !== 'number' && typeof raw !== 'bigint') {
      throw new NRNMError(
        `Expected ${name}[${i}] to be an integer class (a number) but received ${describe(raw)}; convert labels read as text with Number() first`,
        'ERR_DTYPE',
      );
    }
    const v = Number(raw);
    if (ignored?.(i) && Number.isInteger(v)) continue; // stays 0
    if (!Number.isInteger(v) || v < 0 || v >= classes) {
      throw new NRNMError(`Expected ${name}[${i}] to be an integer class in [0, ${classes}) but received ${String(values[i])}`, 'ERR_ARG');
    }
    int64[i] = BigInt(v);
  }
  return { tensor: Tensor.from(int64, [values.length]), owned: true };
}

/** Checks lengths against x [B, T, F]; undefined stays undefined (every sequence fills T). */
export function prepareLengths(lengths: LengthsInput | undefined, shape: readonly number[], name = 'lengths'): Prepared | undefined {
  if (lengths === undefined || lengths === null) return undefined;
  const batch = shape[0]!;
  const steps = shape[1]!;
  let values: ArrayLike<number | bigint>;
  if (lengths instanceof Tensor) {
    if (lengths.dtype !== 'int32' && lengths.dtype !== 'int64') {
      throw new NRNMError(`Expected ${name} to be an int32 or int64 tensor but received ${lengths.dtype}`, 'ERR_DTYPE');
    }
    if (lengths.shape.length !== 1) {
      throw new NRNMError(`Expected ${name} to have shape [${batch}] (one length per sequence) but received [${lengths.shape.join(', ')}]`, 'ERR_SHAPE');
    }
    values = lengths.toArray() as Int32Array | BigInt64Array;
  } else if (Array.isArray(lengths) || ['Int32Array', 'BigInt64Array'].includes(typedArrayTag(lengths) ?? '')) {
    values = lengths as ArrayLike<number | bigint>;
  } else {
    throw new NRNMError(`Expected ${name} to be an Int32Array, BigInt64Array, number[] or Tensor but received ${describe(lengths)}`, 'ERR_ARG');
  }
  if (values.length !== batch) {
    throw new NRNMError(`Expected ${batch} ${name} (one per sequence of x [${shape.join(', ')}]) but received ${values.length}`, 'ERR_SHAPE');
  }
  const int64 = new BigInt64Array(batch);
  for (let i = 0; i < batch; i++) {
    const raw: unknown = values[i];
    const v = typeof raw === 'number' || typeof raw === 'bigint' ? Number(raw) : NaN;
    if (!Number.isInteger(v) || v < 1 || v > steps) {
      throw new NRNMError(`Expected ${name}[${i}] to be an integer in [1, ${steps}] (x has ${steps} steps) but received ${describe(raw)}`, 'ERR_ARG');
    }
    int64[i] = BigInt(v);
  }
  return { tensor: Tensor.from(int64, [batch]), owned: true };
}

/**
 * Targets of a batch x [B, T, F] for the model's task:
 *  - 'classify-sequence': B labels;
 *  - 'classify-steps': B labels (the sequence's class at every step) or
 *    B * T labels (row-major [B, T]);
 *  - 'regress-steps': a Float32Array of B * T * C values ([B, T, C]) or a
 *    float32 Tensor of that shape.
 */
export type TargetInput = LabelInput | Float32Array;

export function prepareTargets(
  targets: TargetInput,
  shape: readonly number[],
  model: { classes: number; task: string },
  name = 'labels',
  lengths?: Prepared,
): Prepared {
  const [batch, steps] = [shape[0]!, shape[1]!];
  const ends = lengths ? (lengths.tensor.toArray() as BigInt64Array) : undefined;
  /** Whether step t of sequence b is padding (past its length). */
  const padded = (b: number, t: number): boolean => ends !== undefined && BigInt(t) >= ends[b]!;
  if (model.task === 'regress-steps') {
    const want = [batch, steps, model.classes];
    if (targets instanceof Tensor) {
      if (targets.dtype !== 'float32')
        throw new NRNMError(`Expected ${name} to be a float32 tensor of regression targets but received ${targets.dtype}`, 'ERR_DTYPE');
      if (targets.shape.join(',') !== want.join(',')) {
        throw new NRNMError(
          `Expected ${name} of shape [${want.join(', ')}] (a value per step and output) but received [${targets.shape.join(', ')}]`,
          'ERR_SHAPE',
        );
      }
      checkFinite(targets.toArray() as Float32Array, steps, model.classes, padded, name);
      return { tensor: targets, owned: false };
    }
    if (typedArrayTag(targets) !== 'Float32Array') {
      throw new NRNMError(`Expected ${name} to be a Float32Array of regression targets [${want.join(', ')}] but received ${describe(targets)}`, 'ERR_DTYPE');
    }
    const values = targets as Float32Array;
    if (values.length !== batch * steps * model.classes) {
      throw new NRNMError(`Expected ${batch * steps * model.classes} ${name} ([${want.join(', ')}]) but received ${values.length}`, 'ERR_SHAPE');
    }
    checkFinite(values, steps, model.classes, padded, name);
    return { tensor: Tensor.from(values, want), owned: true };
  }
  if (model.task !== 'classify-steps') return prepareLabels(targets as LabelInput, batch, model.classes, name);
  // Per-step classes: [B, T], or one class per sequence repeated over its steps.
  if (targets instanceof Tensor) {
    prepareLabelTensor(targets, name);
    const dims = targets.shape.join(',');
    if (dims !== `${batch},${steps}` && dims !== `${batch}`) {
      throw new NRNMError(
        `Expected ${name} of shape [${batch}, ${steps}] (a class per step) or [${batch}] (a class per sequence) but received [${targets.shape.join(', ')}]`,
        'ERR_SHAPE',
      );
    }
  }
  const count = targets instanceof Tensor ? targets.shape.reduce((a, b) => a * b, 1) : (targets as ArrayLike<unknown>).length;
  const flat = targets instanceof Tensor ? (targets.toArray() as Int32Array | BigInt64Array) : (targets as LabelInput);
  if (count === batch * steps && (!(targets instanceof Tensor) || targets.shape.length === 2)) {
    const prepared = prepareLabels(flat as LabelInput, batch * steps, model.classes, name, (i) => padded(Math.floor(i / steps), i % steps));
    const reshaped = Tensor.from(prepared.tensor.toArray() as BigInt64Array, [batch, steps]);
    release(prepared);
    return { tensor: reshaped, owned: true };
  }
  if (count !== batch) {
    throw new NRNMError(
      `Expected ${batch} ${name} (one per sequence) or ${batch * steps} (one per step, [${batch}, ${steps}]) but received ${count}`,
      'ERR_SHAPE',
    );
  }
  const perSequence = prepareLabels(flat as LabelInput, batch, model.classes, name);
  const values = perSequence.tensor.toArray() as BigInt64Array;
  release(perSequence);
  const repeated = new BigInt64Array(batch * steps);
  for (let b = 0; b < batch; b++) repeated.fill(values[b]!, b * steps, (b + 1) * steps);
  return { tensor: Tensor.from(repeated, [batch, steps]), owned: true };
}

/**
 * Regression targets must be finite where they are scored (a NaN target
 * would make the loss NaN without a word); padding may hold anything.
 */
function checkFinite(values: Float32Array, steps: number, outputs: number, padded: (b: number, t: number) => boolean, name: string): void {
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i]!)) continue;
    const b = Math.floor(i / (steps * outputs));
    const t = Math.floor(i / outputs) % steps;
    if (padded(b, t)) continue;
    throw new NRNMError(
      `Expected finite regression ${name} but ${name}[${b}, ${t}, ${i % outputs}] is ${values[i]}; only steps past a sequence's length (lengths) may hold NaN or Inf`,
      'ERR_ARG',
    );
  }
}

function prepareLabelTensor(labels: Tensor, name: string): void {
  if (labels.dtype !== 'int32' && labels.dtype !== 'int64') {
    throw new NRNMError(`Expected ${name} to be an int32 or int64 tensor but received ${labels.dtype}`, 'ERR_DTYPE');
  }
}

/** Disposes the tensors this module created for a call. */
export function release(...prepared: (Prepared | undefined)[]): void {
  for (const p of prepared) if (p?.owned) p.tensor.dispose();
}
