/**
 * NRNMClassifier: the NRNM network with its classifier head, in LibTorch.
 * Parameter names are the official state_dict names (NRNM_SPEC.md).
 */
import { checkpointHeader, fromStoredOptions, readCheckpoint, writeCheckpoint } from './checkpoint';
import { ASYNC_DISPOSE, DISPOSE } from './dispose';
import { NRNMError, argError } from './errors';
import { prepareLengths, prepareTargets, prepareSequences, release, type LengthsInput, type TargetInput, type SequenceInput } from './inputs';
import { native, type NativeModelHandle } from './native';
import { isOfficialExtraName, officialExtras, officialOrder } from './official';
import { chooseDevice } from './device';
import { resolveModelOptions, type NRNMClassifierOptions, type ResolvedModelOptions } from './options';
import { SerialQueue } from './queue';
import { NRNMStream, type StreamOptions } from './stream';
import { readStateDict, writeStateDict, type StateDictEntry } from './serialization';
import { Tensor } from './tensor';
import { writeFileAtomic } from './io/atomic-write';
import { onnxModelBytes, type OnnxExportOptions, type Parameters as OnnxParameters } from './onnx/export';
import { packageVersion } from './version';

export interface LossAndGradients {
  /** The task's mean loss: cross-entropy over sequences or valid steps, or squared error per valid step. */
  loss: number;
  /** Gradient of the loss for every parameter, by official name (CPU tensors). */
  gradients: Record<string, Tensor<'float32'>>;
}

export class NRNMClassifier {
  /** The validated options, every default filled in. */
  readonly options: Readonly<ResolvedModelOptions>;
  readonly #handle: NativeModelHandle;
  readonly #queue = new SerialQueue();
  #training = true;
  #disposed = false;

  constructor(options: NRNMClassifierOptions) {
    this.options = Object.freeze(resolveModelOptions(options));
    const device = chooseDevice(options.device);
    this.#handle = new (native().ModelHandle)(this.options, device);
  }

  /** 'cpu' or 'cuda:N'. */
  get device(): string {
    return this.#live().device();
  }

  /** Training mode: zoneout masks, memory and aggregation dropout are drawn. */
  get training(): boolean {
    return this.#training;
  }

  /** Switches to training mode (applied in call order, after pending calls). */
  train(on = true): this {
    this.#live();
    this.#training = on;
    void this.#queue.run(() => this.#handle.setTraining(on));
    return this;
  }

  /** Switches to evaluation mode: deterministic, as the spec's eval rules. */
  eval(): this {
    return this.train(false);
  }

  /**
   * Logits [B, classes] for x [B, T, inputSize] (task 'classify-sequence'),
   * or [B, T, classes] outputs at every step (the per-step tasks), without
   * gradients, in the current mode. With `lengths` (B values in [1, T]) each sequence is read
   * up to its own end: padding past it changes nothing.
   */
  async predict(x: SequenceInput, lengths?: LengthsInput): Promise<Tensor<'float32'>> {
    const input = prepareSequences(x, this.options.inputSize);
    let steps: ReturnType<typeof prepareLengths>;
    try {
      steps = prepareLengths(lengths, input.tensor.shape);
      const logits = await this.#run(() => this.#handle.predict(input.tensor.handle(), steps?.tensor.handle()));
      return Tensor.fromHandle<'float32'>(logits);
    } finally {
      release(input, steps);
    }
  }

  /**
   * A stream over this model (streaming inference, frame by frame):
   * `push(x)` feeds the next steps [B, S, inputSize] of B sequences and
   * resolves to the head at each of them [B, S, classes], keeping every
   * layer's state (and memory) between pushes; `reset(rows?)` starts all or
   * some rows over; `dispose()` (or `using`) frees it. Pushing a sequence in
   * chunks of any sizes gives predict()'s outputs on the whole sequence.
   * Evaluation mode only. `options.batch` fixes B (else the first push does).
   */
  stream(options: StreamOptions = {}): NRNMStream {
    return new NRNMStream(
      {
        handle: this.#live(),
        queue: this.#queue,
        options: this.options,
        training: () => this.#training,
        live: () => void this.#live(),
      },
      options,
    );
  }

  /** Mean cross-entropy of x against labels and its gradient for every parameter, in the current mode. */
  async lossAndGradients(x: SequenceInput, labels: TargetInput, lengths?: LengthsInput): Promise<LossAndGradients> {
    const input = prepareSequences(x, this.options.inputSize);
    let steps: ReturnType<typeof prepareLengths>;
    try {
      steps = prepareLengths(lengths, input.tensor.shape);
      const y = prepareTargets(labels, input.tensor.shape, this.options, 'labels', steps);
      try {
        const r = await this.#run(() => this.#handle.lossAndGradients(input.tensor.handle(), y.tensor.handle(), steps?.tensor.handle()));
        const gradients: Record<string, Tensor<'float32'>> = {};
        for (const [name, handle] of Object.entries(r.gradients)) gradients[name] = Tensor.fromHandle<'float32'>(handle);
        return { loss: r.loss, gradients };
      } finally {
        release(y);
      }
    } finally {
      release(input, steps);
    }
  }

  /** Official state_dict names of the trainable parameters, in registration order. */
  parameterNames(): string[] {
    return this.#live().parameterNames();
  }

  /** Shapes of the parameters by name. */
  parameterShapes(): Record<string, number[]> {
    return this.#live().parameterShapes();
  }

  /** CPU copies of the parameters by official name. */
  stateDict(): Record<string, Tensor<'float32'>> {
    this.#idle('stateDict');
    const out: Record<string, Tensor<'float32'>> = {};
    for (const [name, handle] of Object.entries(this.#live().stateDict())) out[name] = Tensor.fromHandle<'float32'>(handle);
    return out;
  }

  /**
   * Copies parameters in by name. Official extras (easy_projector, the
   * unused aggregation Linear, attention_mlp.1) are accepted and ignored;
   * missing, unexpected or misshaped tensors are all reported by name.
   */
  loadStateDict(dict: Record<string, Tensor | { data: Float32Array | Float64Array; shape: readonly number[] }>): void {
    this.#idle('loadStateDict');
    const entries: StateDictEntry[] = Object.entries(dict).map(([name, value]) => {
      if (value instanceof Tensor) return { name, dtype: value.dtype, shape: [...value.shape], data: value.toArray() } as StateDictEntry;
      return { name, dtype: value.data instanceof Float64Array ? 'float64' : 'float32', shape: [...value.shape], data: value.data } as StateDictEntry;
    });
    this.#loadEntries(entries, 'state dict');
  }

  /**
   * Loads a state_dict saved by Python's `torch.save(model.state_dict(), path)`
   * from the official code (or savePyTorch), without Python.
   */
  static async fromPyTorch(path: string, options: NRNMClassifierOptions): Promise<NRNMClassifier> {
    return NRNMClassifier.fromStateDictEntries(await readStateDict(path), options, path);
  }

  /**
   * A model from the entries `readStateDict` returned (for a caller that
   * read them already, e.g. to look at the shapes first); `source` names
   * them in error messages.
   */
  static fromStateDictEntries(entries: StateDictEntry[], options: NRNMClassifierOptions, source = 'state dict'): NRNMClassifier {
    const model = new NRNMClassifier(options);
    try {
      model.#loadEntries(entries, source);
    } catch (err) {
      model.dispose();
      throw err;
    }
    return model;
  }

  /**
   * Writes a .pt that Python's `torch.load` reads into the official model's
   * state_dict (the official extras are written too, so `load_state_dict`
   * is strict-compatible). Written to a temp file, then renamed.
   */
  async savePyTorch(path: string): Promise<void> {
    const dict = await this.#run(() => this.#handle.stateDict());
    const entries: StateDictEntry[] = [];
    for (const [name, handle] of Object.entries(dict)) {
      entries.push({ name, dtype: 'float32', shape: handle.shape(), data: handle.toArray() as Float32Array });
      handle.dispose();
    }
    const byName = new Map(entries.map((e) => [e.name, e]));
    for (const extra of officialExtras(this.options)) {
      const source = extra.copyOf ? byName.get(extra.copyOf) : undefined;
      const size = extra.shape.reduce((a, b) => a * b, 1);
      entries.push({ name: extra.name, dtype: 'float32', shape: extra.shape, data: source ? source.data : new Float32Array(size) });
    }
    entries.sort((a, b) => officialOrder(a.name) - officialOrder(b.name));
    await writeStateDict(path, entries);
  }

  /**
   * The model as an ONNX file (opset 17) that onnxruntime runs with the
   * outputs of `predict` in evaluation mode: input `x` [batch, time,
   * inputSize] (both dynamic), with `{ lengths: true }` also `lengths`
   * [batch] (int64); output `logits`. Written from Node (protobufjs), to a
   * temp file, then renamed. README "Deployment".
   */
  async exportOnnx(path: string, options: OnnxExportOptions = {}): Promise<void> {
    if (typeof path !== 'string' || path === '') throw argError('path', 'a file name', path);
    await writeFileAtomic(path, await this.toOnnx(options));
  }

  /** The bytes exportOnnx writes. */
  async toOnnx(options: OnnxExportOptions = {}): Promise<Uint8Array> {
    const dict = await this.#run(() => this.#handle.stateDict());
    const parameters: OnnxParameters = {};
    for (const [name, handle] of Object.entries(dict)) {
      parameters[name] = { data: handle.toArray() as Float32Array, shape: handle.shape() };
      handle.dispose();
    }
    return onnxModelBytes(this.options, parameters, packageVersion(), options);
  }

  /** Saves options and parameters (an .nrnm checkpoint without trainer state), atomically. */
  async save(file: string, metrics: Record<string, unknown> = {}): Promise<void> {
    const header = checkpointHeader({ model: { ...this.options }, metrics });
    const bytes = await this.#run(() => this.#handle.save(JSON.stringify(header)));
    await writeCheckpoint(file, bytes);
  }

  /** Loads a model from an .nrnm checkpoint (written by save() or by a Trainer). */
  static async load(file: string, options: { device?: string } = {}): Promise<NRNMClassifier> {
    const { header, bytes } = await readCheckpoint(file);
    const model = fromStoredOptions(file, () => new NRNMClassifier({ ...header.model, device: options.device ?? 'auto' }));
    try {
      await model.#run(() => model.#handle.load(bytes, file));
    } catch (err) {
      model.dispose();
      throw err;
    }
    return model;
  }

  /** Frees the native model now. Idempotent; later calls throw ERR_DISPOSED. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#handle.dispose();
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** `using model = new NRNMClassifier(...)`: dispose() at the end of the block. */
  [DISPOSE](): void {
    this.dispose();
  }

  /** `await using`: waits for the calls already queued on the model (a forward not awaited), then disposes. */
  async [ASYNC_DISPOSE](): Promise<void> {
    if (this.#disposed) return;
    await this.#queue.run(() => undefined).catch(() => undefined);
    this.dispose();
  }

  toString(): string {
    return this.#disposed ? 'NRNMClassifier(disposed)' : this.#handle.describe();
  }

  /** @internal The native handle and call queue, for the Trainer. */
  native(): { handle: NativeModelHandle; queue: SerialQueue } {
    return { handle: this.#live(), queue: this.#queue };
  }

  #loadEntries(entries: StateDictEntry[], source: string): void {
    const shapes = this.parameterShapes();
    const found = new Map(entries.map((e) => [e.name, e]));
    const problems: string[] = [];
    for (const [name, shape] of Object.entries(shapes)) {
      const entry = found.get(name);
      if (!entry) problems.push(`missing tensor '${name}' (shape [${shape.join(', ')}])`);
      else if (entry.shape.join(',') !== shape.join(',')) {
        problems.push(`tensor '${name}' has shape [${entry.shape.join(', ')}] but the model needs [${shape.join(', ')}]`);
      } else if (entry.dtype !== 'float32' && entry.dtype !== 'float64') {
        problems.push(`tensor '${name}' is ${entry.dtype}; expected float32`);
      }
    }
    for (const entry of entries) {
      if (!(entry.name in shapes) && !isOfficialExtraName(entry.name)) problems.push(`unexpected tensor '${entry.name}'`);
    }
    for (const extra of officialExtras(this.options)) {
      const alias = found.get(extra.name);
      const original = extra.copyOf ? found.get(extra.copyOf) : undefined;
      if (alias && original && !sameValues(alias.data, original.data)) {
        problems.push(`'${extra.name}' differs from '${extra.copyOf}' (the official model applies one Linear twice)`);
      }
    }
    if (problems.length > 0) {
      const head = `${source} does not fit this NRNMClassifier (${this.options.layers} layers, hiddenSize ${this.options.hiddenSize}, inputSize ${this.options.inputSize}, classes ${this.options.classes})`;
      throw new NRNMError(`${head}:\n  - ${problems.join('\n  - ')}`, 'ERR_FORMAT');
    }
    const tensors: Record<string, Tensor> = {};
    try {
      for (const name of Object.keys(shapes)) {
        const entry = found.get(name)!;
        const data = entry.data instanceof Float32Array ? entry.data : Float32Array.from(entry.data as Float64Array);
        tensors[name] = Tensor.from(data, entry.shape);
      }
      const handles = Object.fromEntries(Object.entries(tensors).map(([n, t]) => [n, t.handle()]));
      this.#live().loadStateDict(handles);
    } finally {
      for (const t of Object.values(tensors)) t.dispose();
    }
  }

  #run<T>(task: () => Promise<T> | T): Promise<T> {
    this.#live();
    return this.#queue.run(task);
  }

  #idle(what: string): void {
    if (this.#queue.busy) {
      throw new NRNMError(`model.${what}() was called while another call on this model is running; await it first`, 'ERR_BUSY');
    }
  }

  #live(): NativeModelHandle {
    if (this.#disposed) throw new NRNMError('The NRNMClassifier was disposed', 'ERR_DISPOSED');
    return this.#handle;
  }
}

function sameValues(a: ArrayLike<number | bigint | boolean>, b: ArrayLike<number | bigint | boolean>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
