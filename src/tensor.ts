/**
 * Typed tensors backed by LibTorch memory. Data crosses the boundary as a
 * typed array plus a shape, always copied.
 */
import { ASYNC_DISPOSE, DISPOSE } from './dispose';
import { NRNMError, describe } from './errors';
import type { DType } from './dtype';
import { native, type NativeTensorHandle, type NativeTypedArray } from './native';
import { typedArrayTag } from './validate';

export type { DType };

/** The typed array that holds elements of a dtype. */
export type TypedArrayOf<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int32'
      ? Int32Array
      : D extends 'int64'
        ? BigInt64Array
        : Uint8Array;

/** The dtype of a typed array type. */
export type DTypeOf<A extends NativeTypedArray> = A extends Float32Array
  ? 'float32'
  : A extends Float64Array
    ? 'float64'
    : A extends Int32Array
      ? 'int32'
      : A extends BigInt64Array
        ? 'int64'
        : 'uint8';

// By tag, not instanceof: arrays from another realm (vm contexts, workers)
// are just as valid.
const DTYPE_OF_TAG: Record<string, DType> = {
  Float32Array: 'float32',
  Float64Array: 'float64',
  Int32Array: 'int32',
  BigInt64Array: 'int64',
  Uint8Array: 'uint8',
};

/** The dtype of a typed array, or undefined for unsupported arrays. */
export function dtypeOfArray(data: unknown): DType | undefined {
  const tag = typedArrayTag(data);
  return tag === undefined ? undefined : DTYPE_OF_TAG[tag];
}

/** Checks a shape and returns its element count. */
export function checkShape(shape: unknown, name = 'shape'): number {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new NRNMError(`Expected ${name} to be an array of non-negative integers but received ${describe(shape)}`, 'ERR_SHAPE');
  }
  return shape.reduce((a: number, b: number) => a * b, 1);
}

// A tensor a user does not dispose is freed with its native handle, which only
// this object references: the handle's own finalizer frees the LibTorch tensor
// (and the addon reports its size to V8 so the collector knows it is heavy).
// No FinalizationRegistry: V8 clears its targets only in full collections, so
// every tensor left to the collector (a prediction per step) kept its native
// memory for thousands of steps, and resident memory grew over long runs.

export class Tensor<D extends DType = DType> {
  #handle: NativeTensorHandle | undefined;
  readonly #dtype: D;
  readonly #shape: readonly number[];

  private constructor(handle: NativeTensorHandle) {
    this.#handle = handle;
    this.#dtype = handle.dtype() as D;
    this.#shape = Object.freeze(handle.shape());
  }

  /** Copies `data` into a new CPU tensor of the given shape. */
  static from<A extends NativeTypedArray>(data: A, shape: readonly number[]): Tensor<DTypeOf<A>> {
    const dtype = dtypeOfArray(data);
    if (!dtype) {
      throw new NRNMError(
        `Expected data to be a Float32Array, Float64Array, Int32Array, BigInt64Array or Uint8Array but received ${describe(data)}`,
        'ERR_DTYPE',
      );
    }
    const numel = checkShape(shape);
    if (numel !== data.length) {
      throw new NRNMError(`Expected ${numel} elements for shape [${shape.join(', ')}] but the ${dtype} data has ${data.length}`, 'ERR_SHAPE');
    }
    return new Tensor(native().TensorHandle.fromArray(data, shape));
  }

  /** @internal Wraps a handle returned by the addon. */
  static fromHandle<D extends DType = DType>(handle: NativeTensorHandle): Tensor<D> {
    return new Tensor<D>(handle);
  }

  get dtype(): D {
    return this.#dtype;
  }

  get shape(): readonly number[] {
    return this.#shape;
  }

  get numel(): number {
    return this.#shape.reduce((a, b) => a * b, 1);
  }

  /** 'cpu' or 'cuda:N'. */
  get device(): string {
    return this.handle().device();
  }

  get disposed(): boolean {
    return this.#handle === undefined;
  }

  /** Copies the elements (from any device) into a new typed array. */
  toArray(): TypedArrayOf<D> {
    return this.handle().toArray() as TypedArrayOf<D>;
  }

  /** A copy of this tensor on another device ('cpu', 'cuda', 'cuda:N'). */
  to(device: string): Tensor<D> {
    if (typeof device !== 'string') throw new NRNMError(`Expected device to be a string but received ${describe(device)}`, 'ERR_ARG');
    return new Tensor<D>(this.handle().to(device));
  }

  /** Frees the native memory now. Idempotent. */
  dispose(): void {
    if (!this.#handle) return;
    this.#handle.dispose();
    this.#handle = undefined;
  }

  /** `using t = Tensor.from(...)`: dispose() at the end of the block. */
  [DISPOSE](): void {
    this.dispose();
  }

  /** `await using`: the same as `using` (a tensor has no calls in flight). */
  [ASYNC_DISPOSE](): Promise<void> {
    this.dispose();
    return Promise.resolve();
  }

  toString(): string {
    return `Tensor(${this.#dtype}, [${this.#shape.join(', ')}]${this.disposed ? ', disposed' : `, ${this.device}`})`;
  }

  /** @internal The native handle; throws after dispose(). */
  handle(): NativeTensorHandle {
    if (!this.#handle) throw new NRNMError(`The ${this.toStringShort()} was disposed`, 'ERR_DISPOSED');
    return this.#handle;
  }

  private toStringShort(): string {
    return `tensor ${this.#dtype} [${this.#shape.join(', ')}]`;
  }
}
