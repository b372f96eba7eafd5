/**
 * NRNMStream: streaming inference over a model, a few steps at a time (a live
 * pose stream, frame by frame). The stream keeps every layer's state between
 * calls (h, c, the memory and the recent inputs and outputs the next memory
 * update reads), so the memory updates every `blockLength` steps exactly as in
 * the whole-sequence forward: pushing a sequence in chunks of any sizes gives
 * predict()'s outputs on the whole sequence (within float rounding). The state
 * logic lives in C++ (NRNMClassifierImpl::forward_chunk); this class checks
 * arguments and keeps the calls in the model's order.
 */
import { ASYNC_DISPOSE, DISPOSE } from './dispose';
import { argError, NRNMError } from './errors';
import { prepareSequences, release, type SequenceInput } from './inputs';
import type { NativeModelHandle, NativeStreamHandle } from './native';
import { native } from './native';
import type { ResolvedModelOptions } from './options';
import type { SerialQueue } from './queue';
import { Tensor } from './tensor';

export interface StreamOptions {
  /** Sequences streamed side by side. Default: set by the first push (and again by the first push after a full reset()). */
  batch?: number;
}

/** What a stream needs of its model (NRNMClassifier.stream() passes it). */
export interface StreamHost {
  handle: NativeModelHandle;
  queue: SerialQueue;
  options: Readonly<ResolvedModelOptions>;
  /** Whether the model is in training mode now (a stream needs eval mode). */
  training(): boolean;
  /** Throws ERR_DISPOSED once the model is disposed. */
  live(): void;
}

export class NRNMStream {
  readonly #host: StreamHost;
  readonly #handle: NativeStreamHandle;
  /** Fixed by options.batch; else undefined until a push sets #batch. */
  readonly #fixedBatch: number | undefined;
  #batch: number | undefined;
  /** Steps each row has seen since its start (empty before the first push). */
  #steps: number[] = [];
  #disposed = false;

  /** @internal Use model.stream(). */
  constructor(host: StreamHost, options: StreamOptions = {}) {
    if (options === null || typeof options !== 'object') throw argError('stream options', 'an object', options);
    const { batch } = options;
    if (batch !== undefined && !(Number.isSafeInteger(batch) && batch >= 1)) throw argError('options.batch', 'an integer >= 1', batch);
    this.#host = host;
    this.#fixedBatch = batch;
    this.#batch = batch;
    this.#handle = new (native().StreamHandle)(host.handle);
  }

  /** Steps pushed since the start or the last full reset() (the rows reset since then have seen fewer: see `steps`). */
  get step(): number {
    return this.#steps.length === 0 ? 0 : Math.max(...this.#steps);
  }

  /** Steps each row has seen since its start or its last reset (empty before the first push). */
  get steps(): readonly number[] {
    return [...this.#steps];
  }

  /** The number of sequences streamed side by side (undefined until options.batch or the first push sets it). */
  get batch(): number | undefined {
    return this.#batch;
  }

  /**
   * The next steps x [B, S, inputSize] (S >= 1) of the B sequences, a Tensor
   * or {data: Float32Array, shape} as predict() takes. Resolves to the
   * model's head at each of those steps, [B, S, classes]: for the per-step
   * tasks each step's output, for 'classify-sequence' the logits a sequence
   * ending at that step gets (the last one is predict()'s on the whole
   * sequence). Runs in the model's call order, in evaluation mode only. A
   * push that fails leaves the stream where it was.
   */
  async push(x: SequenceInput): Promise<Tensor<'float32'>> {
    this.#live();
    if (this.#host.training()) {
      throw new NRNMError('stream.push: the model is in training mode; a stream predicts in evaluation mode (call model.eval() first)', 'ERR_ARG');
    }
    const input = prepareSequences(x, this.#host.options.inputSize);
    try {
      const [batch, steps] = input.tensor.shape as [number, number, number];
      if (this.#batch !== undefined && batch !== this.#batch) {
        const how = this.#fixedBatch === undefined ? '; reset() to start a stream of another batch' : ' (options.batch)';
        throw new NRNMError(
          `stream.push: the stream holds ${this.#batch} sequences but x has ${batch} (shape [${input.tensor.shape.join(', ')}])${how}`,
          'ERR_SHAPE',
        );
      }
      this.#batch = batch;
      try {
        // The step counts change in the queue, in call order with reset().
        const outputs = await this.#host.queue.run(async () => {
          const handle = await this.#handle.push(input.tensor.handle());
          this.#steps = this.#steps.length === 0 ? new Array<number>(batch).fill(steps) : this.#steps.map((t) => t + steps);
          return handle;
        });
        return Tensor.fromHandle<'float32'>(outputs);
      } catch (err) {
        if (this.#steps.length === 0) this.#batch = this.#fixedBatch; // a failed first push sets no batch
        throw err;
      }
    } finally {
      release(input);
    }
  }

  /**
   * Puts the given batch rows (all when omitted) back at step 0 with the
   * initial state, after the pushes before it; the other rows go on. A full
   * reset lets the next push bring another batch unless options.batch fixed it.
   */
  async reset(rows?: readonly number[]): Promise<void> {
    this.#live();
    if (rows === undefined) {
      this.#batch = this.#fixedBatch;
      await this.#host.queue.run(async () => {
        await this.#handle.reset();
        this.#steps = [];
      });
      return;
    }
    if (!Array.isArray(rows)) throw argError('rows', 'an array of batch row indices', rows);
    const batch = this.#batch;
    for (const row of rows) {
      if (!Number.isSafeInteger(row) || row < 0 || (batch !== undefined && row >= batch)) {
        throw argError('every row', batch === undefined ? 'an integer >= 0' : `an integer in [0, ${batch - 1}]`, row);
      }
    }
    const reset = [...new Set(rows)];
    await this.#host.queue.run(async () => {
      if (this.#steps.length === 0 || reset.length === 0) return; // nothing pushed yet: every row is at step 0
      await this.#handle.reset(reset);
      for (const row of reset) this.#steps[row] = 0;
    });
  }

  /** Frees the stream's state now. Idempotent; later calls throw ERR_DISPOSED. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#handle.dispose();
  }

  /** `using s = model.stream()` frees it at the end of the scope. */
  [DISPOSE](): void {
    this.dispose();
  }

  /** `await using s = model.stream()`: waits for the pushes queued before, then frees it. */
  async [ASYNC_DISPOSE](): Promise<void> {
    if (this.#disposed) return;
    await this.#host.queue.run(() => undefined);
    this.dispose();
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  #live(): void {
    if (this.#disposed) throw new NRNMError('The NRNMStream was disposed', 'ERR_DISPOSED');
    this.#host.live();
  }
}
