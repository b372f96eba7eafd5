/**
 * PyTorch `state_dict` files without Python.
 *
 * `readStateDict` reads what `torch.save(model.state_dict(), path)` writes
 * (PyTorch >= 1.6 zip format, any pickle protocol), and `writeStateDict`
 * writes a file that `torch.load` (1.6 up to 2.x) reads back into an
 * `OrderedDict` of CPU tensors.
 *
 * Layout of such a file (a ZIP archive, entries stored, data 64-byte aligned):
 *
 *     <prefix>/data.pkl      pickle of the OrderedDict; each tensor is
 *                            torch._utils._rebuild_tensor_v2(storage, offset,
 *                            size, stride, requires_grad, hooks), each storage a
 *                            persistent id ('storage', torch.FloatStorage, key,
 *                            location, numel)
 *     <prefix>/byteorder     'little' or 'big' (torch >= 1.13; absent = little)
 *     <prefix>/data/<key>    raw bytes of each storage
 *     <prefix>/version       '3\n'
 */
import { open } from 'node:fs/promises';
import { endianness } from 'node:os';
import { dirname } from 'node:path';

import { commitTemp, discardTemp, ioError, tempPathFor } from '../io/atomic-write';
import { formatError, readError, SerializationError } from './errors';
import { isTuple, pickle, PyGlobal, PyPersistentId, PyReduce, pythonType, tuple, unpickle, type GlobalHandler } from './pickle';
import { ZipReader, ZipWriter } from './zip';
import { typedArrayTag } from '../validate';
import { quoted } from '../file-errors';
import type { DType } from '../dtype';
import { viewAllowance } from '../limits';

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/** The element types of a torch.save file: the package's DType and the other storages PyTorch writes. */
export type TorchDType = DType | 'float16' | 'bfloat16' | 'int16' | 'int8' | 'bool';

/**
 * The typed array holding a tensor's elements (C order). `float16` and
 * `bfloat16` are their raw 16-bit patterns in a `Uint16Array`; `bool` is a
 * `Uint8Array` of 0/1; `int64` is a `BigInt64Array`.
 */
export type TensorData = Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** One named tensor of a state_dict. */
export interface StateDictEntry {
  /** The state_dict key, e.g. `rnn.cell_0.MC.attention_mlp.0.weight`. */
  readonly name: string;
  readonly dtype: TorchDType;
  /** Dimensions; `[]` for a 0-d (scalar) tensor. */
  readonly shape: readonly number[];
  /** `shape.reduce(*, 1)` elements, contiguous in C order. */
  readonly data: TensorData;
  /**
   * Set by `readStateDict`: the storage record the tensor came from. Entries
   * with the same key shared one storage in the file (e.g. the official
   * model's `MC.attention_mlp.0.weight` and `.1.weight`); each entry still has
   * its own `data`. Ignored by `writeStateDict`.
   */
  readonly storageKey?: string;
}

interface DTypeInfo {
  readonly storage: string;
  readonly bytes: number;
  readonly array: {
    new (length: number): TensorData;
    new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData;
  };
}

const DTYPES: Readonly<Record<TorchDType, DTypeInfo>> = {
  float32: { storage: 'FloatStorage', bytes: 4, array: Float32Array },
  float64: { storage: 'DoubleStorage', bytes: 8, array: Float64Array },
  float16: { storage: 'HalfStorage', bytes: 2, array: Uint16Array },
  bfloat16: { storage: 'BFloat16Storage', bytes: 2, array: Uint16Array },
  int64: { storage: 'LongStorage', bytes: 8, array: BigInt64Array },
  int32: { storage: 'IntStorage', bytes: 4, array: Int32Array },
  int16: { storage: 'ShortStorage', bytes: 2, array: Int16Array },
  int8: { storage: 'CharStorage', bytes: 1, array: Int8Array },
  uint8: { storage: 'ByteStorage', bytes: 1, array: Uint8Array },
  bool: { storage: 'BoolStorage', bytes: 1, array: Uint8Array },
};

const STORAGE_TO_DTYPE = new Map<string, TorchDType>(Object.entries(DTYPES).map(([d, info]) => [info.storage, d as TorchDType]));

/** `torch.<name>` dtype globals (pickled `torch.dtype`s, used by `_rebuild_tensor_v3`). */
const TORCH_DTYPE_NAMES: Readonly<Record<string, TorchDType>> = {
  float32: 'float32',
  float: 'float32',
  float64: 'float64',
  double: 'float64',
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  int64: 'int64',
  long: 'int64',
  int32: 'int32',
  int: 'int32',
  int16: 'int16',
  short: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

/** Storage types torch knows but this module does not read. */
const UNSUPPORTED_STORAGES = [
  'ComplexFloatStorage',
  'ComplexDoubleStorage',
  'QUInt8Storage',
  'QInt8Storage',
  'QInt32Storage',
  'QUInt4x2Storage',
  'QUInt2x4Storage',
];

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/** A storage named by a persistent id; its bytes are read after unpickling. */
class StorageRef {
  readonly pythonType = 'storage';
  constructor(
    readonly key: string,
    /** `undefined` for `torch.UntypedStorage` (dtype given by `_rebuild_tensor_v3`). */
    readonly dtype: TorchDType | undefined,
    readonly storageType: string,
    readonly numel: number,
  ) {}
}

/** A tensor as the pickle describes it: a strided view of a storage. */
class TensorRef {
  readonly pythonType = 'tensor';
  constructor(
    readonly storage: StorageRef,
    readonly dtype: TorchDType,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

export interface ReadStateDictOptions {
  /**
   * When the file holds a dict of several things (a training checkpoint such
   * as `{'model': state_dict, 'optimizer': ..., 'epoch': 3}`), the key of the
   * state_dict inside it.
   */
  readonly key?: string;
}

const LEGACY_MAGIC = Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);

const CONVERT_HINT =
  'Convert it once in Python: `sd = torch.load(path, map_location="cpu"); ' +
  'torch.save(sd, "converted.pt", _use_new_zipfile_serialization=True)` (PyTorch >= 1.6).';

/**
 * Reads a `state_dict` saved by `torch.save` (zip format, PyTorch >= 1.6),
 * in file order. Nothing in the file is executed: only OrderedDict, tensor
 * and storage globals are accepted. Memory stays bounded by the file's size
 * (README, "Limits on the files read"): every view is checked against its
 * storage, and every storage against the archive, before anything is read.
 */
export async function readStateDict(path: string, options: ReadStateDictOptions = {}): Promise<StateDictEntry[]> {
  try {
    await sniff(path);
    const zip = await ZipReader.open(path);
    try {
      return await readFromZip(zip, options);
    } finally {
      await zip.close();
    }
  } catch (err) {
    throw readError(path, err);
  }
}

/** `readStateDict` for a file already in memory; `source` names it in errors. */
export async function readStateDictFromBytes(bytes: Uint8Array, source: string, options: ReadStateDictOptions = {}): Promise<StateDictEntry[]> {
  checkMagic(bytes.subarray(0, 512), source);
  return readFromZip(await ZipReader.fromBytes(bytes, source), options);
}

/** Node's ENOENT as `ERR_NOT_FOUND`, saying what is missing; other errors unchanged. */
function notFound(err: unknown, message: string): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOENT' ? new SerializationError('ERR_NOT_FOUND', message, { cause: err }) : err;
}

async function sniff(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const head = new Uint8Array(512);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    checkMagic(head.subarray(0, bytesRead), path);
  } finally {
    await fh.close();
  }
}

function checkMagic(head: Uint8Array, file: string): void {
  const startsWith = (sig: ArrayLike<number>, at = 0): boolean =>
    head.length >= at + sig.length && Array.prototype.every.call(sig, (b: number, i: number) => head[at + i] === b);
  if (startsWith([0x50, 0x4b, 0x03, 0x04]) || startsWith([0x50, 0x4b, 0x05, 0x06])) return;
  if (head.length === 0) {
    throw formatError(file, 'the file is empty', undefined, 'It was not written completely; save it again.');
  }
  if (startsWith(LEGACY_MAGIC)) {
    throw formatError(file, 'this is the legacy (pre-1.6, non-zip) torch.save format, which is not supported', undefined, CONVERT_HINT);
  }
  if (startsWith([0x75, 0x73, 0x74, 0x61, 0x72], 257)) {
    throw formatError(file, 'this is the tar-based torch.save format of PyTorch < 0.4, which is not supported', undefined, CONVERT_HINT);
  }
  if (head[0] === 0x80) {
    throw formatError(
      file,
      'this is a plain Python pickle, not a torch.save zip archive',
      undefined,
      `If it holds tensors, ${CONVERT_HINT.charAt(0).toLowerCase()}${CONVERT_HINT.slice(1)}`,
    );
  }
  throw formatError(file, 'not a PyTorch file (no ZIP signature)', 0, 'Expected a file written by torch.save(model.state_dict(), path) with PyTorch >= 1.6.');
}

async function readFromZip(zip: ZipReader, options: ReadStateDictOptions): Promise<StateDictEntry[]> {
  const file = zip.source;
  const pkl = zip.entries.find((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (pkl === undefined) {
    throw formatError(
      file,
      `the zip archive has no <folder>/data.pkl (entries: ${zip.entries
        .slice(0, 5)
        .map((e) => quoted(e.name, 80))
        .join(', ')}${zip.entries.length > 5 ? ', ...' : ''})`,
      undefined,
      'Expected a file written by torch.save(model.state_dict(), path).',
    );
  }
  const prefix = pkl.name.slice(0, -'/data.pkl'.length);
  if (zip.entry(`${prefix}/constants.pkl`) !== undefined || zip.entries.some((e) => e.name.startsWith(`${prefix}/code/`))) {
    throw formatError(
      file,
      'this is a TorchScript archive (torch.jit.save), not a state_dict',
      undefined,
      'In Python: `torch.save(torch.jit.load(path).state_dict(), "weights.pt")`, then read weights.pt.',
    );
  }

  const byteorderEntry = zip.entry(`${prefix}/byteorder`);
  const byteorder = byteorderEntry === undefined ? 'little' : new TextDecoder().decode(await zip.read(byteorderEntry)).trim();
  if (byteorder !== 'little' && byteorder !== 'big') {
    throw formatError(file, `unknown byteorder ${quoted(byteorder, 16)}`, byteorderEntry?.localHeaderOffset, 'The file is corrupt.');
  }

  const source = `${file}:${pkl.name}`;
  const storages = new Map<string, StorageRef>();
  const root = unpickle(await zip.read(pkl), {
    source,
    globals: stateDictGlobals(),
    persistentLoad: (pid) => loadStorageRef(pid, storages),
  });

  const dict = selectStateDict(root, options, file);
  const refs: Array<[string, TensorRef]> = [];
  for (const [name, value] of dict) {
    if (typeof name !== 'string') {
      throw formatError(file, `the state_dict has a non-string key (a ${pythonType(name)})`, undefined, 'Expected a state_dict.');
    }
    if (!(value instanceof TensorRef)) {
      throw formatError(
        file,
        `state_dict entry ${quoted(name, 80)} is a ${pythonType(value)}, not a tensor`,
        undefined,
        'Expected a state_dict whose values are all tensors (model.state_dict()).',
      );
    }
    refs.push([name, value]);
  }

  checkViews(refs, file);
  // How many tensors use each storage: a storage used once can be handed out without a copy.
  const uses = new Map<string, number>();
  for (const [, t] of refs) uses.set(t.storage.key, (uses.get(t.storage.key) ?? 0) + 1);

  const swap = byteorder !== (endianness() === 'LE' ? 'little' : 'big');
  const out: StateDictEntry[] = [];
  const loaded = new Map<string, Uint8Array>();
  for (const [name, t] of refs) {
    const key = t.storage.key;
    let bytes = loaded.get(key);
    if (bytes === undefined) {
      const recordName = `${prefix}/data/${key}`;
      const record = zip.entry(recordName);
      if (record === undefined) {
        throw formatError(
          file,
          `tensor ${quoted(name, 80)} uses storage ${quoted(key)} but the archive has no ${quoted(recordName, 80)}`,
          undefined,
          'The file is incomplete or corrupt.',
        );
      }
      const expected = storageBytes(t.storage);
      if (record.size < expected) {
        throw formatError(
          file,
          `storage ${quoted(recordName, 80)} of tensor ${quoted(name, 80)} has ${record.size} bytes, expected ${expected}`,
          record.localHeaderOffset,
          'The file is corrupt.',
        );
      }
      bytes = await zip.read(record);
      if (swap) bytes = byteSwapped(bytes, DTYPES[t.dtype].bytes);
      loaded.set(key, bytes);
    }
    const remaining = (uses.get(key) ?? 1) - 1;
    uses.set(key, remaining);
    if (remaining === 0) loaded.delete(key);
    out.push({
      name,
      dtype: t.dtype,
      shape: [...t.shape],
      data: materialize(t, bytes, remaining === 0),
      storageKey: key,
    });
  }
  return out;
}

function storageBytes(storage: StorageRef): number {
  return storage.numel * (storage.dtype === undefined ? 1 : DTYPES[storage.dtype].bytes);
}

/**
 * Before any storage is read: each tensor must lie inside the storage the
 * pickle declares for it, and all the tensors together may hold at most
 * `viewAllowance` of their storages' bytes: a broadcast (stride-0) view of a
 * huge shape would otherwise be built element by element from a tiny storage.
 */
function checkViews(refs: ReadonlyArray<readonly [string, TensorRef]>, file: string): void {
  const storages = new Set<StorageRef>();
  let tensorBytes = 0;
  for (const [name, t] of refs) {
    const elementBytes = DTYPES[t.dtype].bytes;
    const numel = product(t.shape);
    const storageElements = Math.floor(storageBytes(t.storage) / elementBytes);
    if (numel > 0) {
      let last = t.offset;
      for (let i = 0; i < t.shape.length; i++) last += (t.shape[i]! - 1) * t.stride[i]!;
      if (!Number.isSafeInteger(last) || last >= storageElements) {
        throw formatError(
          file,
          `tensor ${quoted(name, 80)} (offset ${t.offset}, shape [${t.shape.join(', ')}], stride [${t.stride.join(', ')}]) reaches element ${last} of a storage of ${storageElements}`,
          undefined,
          'The file is corrupt.',
        );
      }
    }
    storages.add(t.storage);
    tensorBytes += numel * elementBytes;
  }
  let stored = 0;
  for (const s of storages) stored += storageBytes(s);
  if (!(tensorBytes <= viewAllowance(stored))) {
    throw formatError(
      file,
      `its ${refs.length} tensors hold ${tensorBytes} bytes, more than the ${viewAllowance(stored)} allowed for views of ${stored} bytes of storage (broadcast views of huge shapes?)`,
      undefined,
      'Save copies instead (tensor.contiguous().clone() before torch.save); see README, "Limits on the files read".',
    );
  }
}

/** A dict key from the file, for a message. */
function keyText(k: unknown): string {
  return typeof k === 'string' ? quoted(k) : `a ${pythonType(k)}`;
}

function selectStateDict(root: unknown, options: ReadStateDictOptions, file: string): Map<unknown, unknown> {
  if (!(root instanceof Map)) {
    throw formatError(file, `the file holds a ${pythonType(root)}, not a state_dict (dict)`, undefined, 'Save model.state_dict(), not the model.');
  }
  if (options.key !== undefined) {
    const inner = root.get(options.key);
    if (!(inner instanceof Map)) {
      const keys = [...root.keys()].slice(0, 10).map(keyText).join(', ');
      throw formatError(file, `the file has no dict under key '${options.key}' (keys: ${keys}${root.size > 10 ? ', ...' : ''})`, undefined);
    }
    return inner;
  }
  const values = [...root.values()];
  if (values.length > 0 && !values.some((v) => v instanceof TensorRef) && values.some((v) => v instanceof Map)) {
    const candidates = [...root.entries()].filter(([, v]) => v instanceof Map).map(([k]) => keyText(k));
    throw formatError(
      file,
      `the file holds a dict of ${[...root.keys()].slice(0, 10).map(keyText).join(', ')}${root.size > 10 ? ', ...' : ''}, not a state_dict`,
      undefined,
      `If it is a training checkpoint, pass the key of the state_dict, e.g. { key: ${candidates[0]} }.`,
    );
  }
  return root;
}

function loadStorageRef(pid: unknown, storages: Map<string, StorageRef>): StorageRef {
  if (!isTuple(pid) || pid.length !== 5 || pid[0] !== 'storage') {
    throw new Error(`expected a ('storage', type, key, location, numel) persistent id, got a ${pythonType(pid)}`);
  }
  const [, type, key, , numel] = pid;
  if (!(type instanceof PyGlobal) || typeof key !== 'string' || !isCount(numel)) {
    throw new Error('malformed storage persistent id');
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(key)) throw new Error(`invalid storage key ${quoted(key)}`);
  const dtype = type.name === 'UntypedStorage' ? undefined : STORAGE_TO_DTYPE.get(type.name);
  if (dtype === undefined && type.name !== 'UntypedStorage') {
    throw new Error(`storage type torch.${type.name} is not supported (supported: ${[...STORAGE_TO_DTYPE.keys()].join(', ')})`);
  }
  const existing = storages.get(key);
  if (existing !== undefined) return existing;
  const ref = new StorageRef(key, dtype, type.name, numel);
  storages.set(key, ref);
  return ref;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function countTuple(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every(isCount)) throw new Error(`${what} must be a tuple of non-negative integers`);
  return [...(v as number[])];
}

function rebuildTensor(storage: unknown, offset: unknown, size: unknown, stride: unknown, dtype?: TorchDType): TensorRef {
  if (!(storage instanceof StorageRef)) throw new Error(`expected a storage, got a ${pythonType(storage)}`);
  if (!isCount(offset)) throw new Error('storage_offset must be a non-negative integer');
  const shape = countTuple(size, 'size');
  const strides = countTuple(stride, 'stride');
  if (shape.length !== strides.length) throw new Error(`size has ${shape.length} dims but stride has ${strides.length}`);
  const type = dtype ?? storage.dtype;
  if (type === undefined) throw new Error('an untyped storage needs _rebuild_tensor_v3 with a dtype');
  return new TensorRef(storage, type, offset, shape, strides);
}

/** The globals a state_dict pickle may use; every other global is refused. */
function stateDictGlobals(): Record<string, GlobalHandler> {
  const reference = (name: string) => (): never => {
    throw new Error(`${name} cannot be called here`);
  };
  const globals: Record<string, GlobalHandler> = {
    'collections.OrderedDict': (items?: unknown) => {
      const map = new Map<unknown, unknown>();
      if (Array.isArray(items)) {
        for (const pair of items) {
          if (!Array.isArray(pair) || pair.length !== 2) throw new Error('OrderedDict items must be pairs');
          map.set(pair[0], pair[1]);
        }
      }
      return map;
    },
    'torch._utils._rebuild_tensor_v2': (storage, offset, size, stride) => rebuildTensor(storage, offset, size, stride),
    'torch._utils._rebuild_tensor_v3': (storage, offset, size, stride, _requiresGrad, _hooks, dtype) => {
      if (!(dtype instanceof PyGlobal) || dtype.module !== 'torch' || TORCH_DTYPE_NAMES[dtype.name] === undefined) {
        throw new Error(`unsupported dtype ${pythonType(dtype)}`);
      }
      return rebuildTensor(storage, offset, size, stride, TORCH_DTYPE_NAMES[dtype.name]);
    },
    'torch._utils._rebuild_parameter': (data) => asTensor(data),
    'torch._utils._rebuild_parameter_with_state': (data) => asTensor(data),
    'torch._tensor._rebuild_from_type_v2': (func, _newType, args) => {
      if (!(func instanceof PyGlobal) || !Array.isArray(args)) throw new Error('malformed _rebuild_from_type_v2');
      const handler = Object.prototype.hasOwnProperty.call(globals, func.qualifiedName) ? globals[func.qualifiedName] : undefined;
      if (handler === undefined) throw new Error(`${func.qualifiedName} is not allowed`);
      return asTensor(handler(...(args as unknown[])));
    },
    'torch.nn.parameter.Parameter': reference('torch.nn.parameter.Parameter'),
    'torch.Tensor': reference('torch.Tensor'),
    'torch.UntypedStorage': reference('torch.UntypedStorage'),
  };
  for (const storage of [...STORAGE_TO_DTYPE.keys(), ...UNSUPPORTED_STORAGES]) {
    globals[`torch.${storage}`] = reference(`torch.${storage}`);
  }
  for (const name of Object.keys(TORCH_DTYPE_NAMES)) globals[`torch.${name}`] = reference(`torch.${name}`);
  return globals;
}

function asTensor(v: unknown): TensorRef {
  if (!(v instanceof TensorRef)) throw new Error(`expected a tensor, got a ${pythonType(v)}`);
  return v;
}

function product(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Copies (or views) a strided tensor, checked by checkViews, out of its storage bytes into C order. */
function materialize(t: TensorRef, bytes: Uint8Array, mayAlias: boolean): TensorData {
  const info = DTYPES[t.dtype];
  const numel = product(t.shape);
  if (numel === 0) return new info.array(0);
  const storageElements = Math.floor(bytes.length / info.bytes);
  // C-contiguous: a plain slice of the storage.
  let contiguous = true;
  for (let i = t.shape.length - 1, expect = 1; i >= 0; i--) {
    if (t.shape[i] !== 1 && t.stride[i] !== expect) contiguous = false;
    expect *= t.shape[i]!;
  }
  const start = t.offset * info.bytes;
  if (contiguous) {
    const end = start + numel * info.bytes;
    if (mayAlias && (bytes.byteOffset + start) % info.bytes === 0) {
      return new info.array(bytes.buffer, bytes.byteOffset + start, numel);
    }
    const copy = bytes.slice(start, end);
    return new info.array(copy.buffer, 0, numel);
  }
  // Strided: gather element by element (odometer over the dimensions).
  const aligned = bytes.byteOffset % info.bytes === 0 ? bytes : bytes.slice();
  const src = new info.array(aligned.buffer, aligned.byteOffset, storageElements) as unknown as {
    [i: number]: number | bigint;
  };
  const dst = new info.array(numel) as unknown as { [i: number]: number | bigint };
  const rank = t.shape.length;
  const index = new Array<number>(rank).fill(0);
  let pos = t.offset;
  for (let k = 0; k < numel; k++) {
    dst[k] = src[pos]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d]! < t.shape[d]!) {
        pos += t.stride[d]!;
        break;
      }
      pos -= (t.shape[d]! - 1) * t.stride[d]!;
      index[d] = 0;
    }
  }
  return dst as unknown as TensorData;
}

function byteSwapped(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let j = 0; j < size; j++) out[i + j] = bytes[i + size - 1 - j]!;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

export interface WriteStateDictOptions {
  /** Write ZIP64 records even for small files (for tests). */
  readonly forceZip64?: boolean;
}

const ORDERED_DICT = new PyGlobal('collections', 'OrderedDict');
const REBUILD_TENSOR_V2 = new PyGlobal('torch._utils', '_rebuild_tensor_v2');

function argumentError(message: string): SerializationError {
  return new SerializationError('ERR_ARG', message);
}

function validateEntry(e: StateDictEntry, i: number, seen: Set<string>): void {
  const label = `entries[${i}]${typeof e?.name === 'string' ? ` ('${e.name}')` : ''}`;
  if (typeof e !== 'object' || e === null) throw argumentError(`Expected ${label} to be an object but received ${String(e)}`);
  if (typeof e.name !== 'string' || e.name === '') {
    throw argumentError(`Expected ${label}.name to be a non-empty string but received ${String(e.name)}`);
  }
  if (seen.has(e.name)) throw argumentError(`Duplicate state_dict name '${e.name}' at ${label}`);
  seen.add(e.name);
  const info = (DTYPES as Record<string, DTypeInfo | undefined>)[e.dtype];
  if (info === undefined) {
    throw argumentError(`Expected ${label}.dtype to be one of ${Object.keys(DTYPES).join(', ')} but received ${String(e.dtype)}`);
  }
  if (!Array.isArray(e.shape) || !e.shape.every(isCount)) {
    throw argumentError(`Expected ${label}.shape to be an array of non-negative integers but received ${JSON.stringify(e.shape)}`);
  }
  const numel = product(e.shape);
  const ctor = info.array;
  // By tag, not instanceof: arrays from another realm (vm contexts, the addon
  // under jest, worker threads) are just as valid.
  const isCtor = typedArrayTag(e.data) === ctor.name;
  if (!isCtor || (e.data as TensorData).length !== numel) {
    const got =
      e.data !== null && typeof e.data === 'object' && 'length' in e.data
        ? `a ${(e.data as object).constructor.name} of ${(e.data as TensorData).length} elements`
        : String(e.data);
    throw argumentError(
      `Expected ${label}.data to be a ${ctor.name} of ${numel} elements (dtype ${e.dtype}, shape [${e.shape.join(', ')}]) but received ${got}`,
    );
  }
}

/**
 * Writes `entries` as a `torch.save` file (zip format) that Python's
 * `torch.load` reads into an OrderedDict of CPU tensors, in this order.
 * Entries whose `data` is the same typed array (and dtype) share one storage.
 * The file is written to a temporary file in the same directory, flushed,
 * then renamed over `path`, so `path` is never left half-written.
 */
export async function writeStateDict(path: string, entries: readonly StateDictEntry[], options: WriteStateDictOptions = {}): Promise<void> {
  if (!Array.isArray(entries as unknown)) throw argumentError(`Expected entries to be an array but received ${typeof entries}`);
  const seen = new Set<string>();
  entries.forEach((e, i) => validateEntry(e, i, seen));

  // One storage per distinct (data, dtype).
  const storageKeys = new Map<TensorData, Map<TorchDType, string>>();
  const storages: TensorData[] = [];
  const items: Array<readonly [string, PyReduce]> = [];
  for (const e of entries) {
    let byDtype = storageKeys.get(e.data);
    if (byDtype === undefined) storageKeys.set(e.data, (byDtype = new Map()));
    let key = byDtype.get(e.dtype);
    if (key === undefined) {
      key = String(storages.length);
      byDtype.set(e.dtype, key);
      storages.push(e.data);
    }
    const strides: number[] = new Array<number>(e.shape.length);
    for (let d = e.shape.length - 1, s = 1; d >= 0; d--) {
      strides[d] = s;
      s *= Math.max(1, e.shape[d]!);
    }
    const pid = tuple('storage', new PyGlobal('torch', DTYPES[e.dtype].storage), key, 'cpu', e.data.length);
    const tensor = new PyReduce(
      REBUILD_TENSOR_V2,
      tuple(new PyPersistentId(pid), 0, tuple(...e.shape), tuple(...strides), false, new PyReduce(ORDERED_DICT, tuple())),
    );
    items.push([e.name, tensor]);
  }
  const dataPkl = pickle(new PyReduce(ORDERED_DICT, tuple(), { dictItems: items }), { protocol: 2 });

  // The temporary file, rename and folder fsync of every write (atomic-write.ts).
  const tmp = tempPathFor(path);
  const zip = await ZipWriter.create(tmp, { forceZip64: options.forceZip64 === true }).catch(async (err: unknown) => {
    await discardTemp(tmp);
    const missing = notFound(err, `${path}: cannot write, the directory ${dirname(path)} does not exist. Create it first.`);
    throw missing === err ? ioError(path, 'write', err) : missing;
  });
  try {
    const prefix = 'archive';
    const encoder = new TextEncoder();
    await zip.add(`${prefix}/data.pkl`, dataPkl);
    await zip.add(`${prefix}/byteorder`, encoder.encode(endianness() === 'LE' ? 'little' : 'big'));
    for (let i = 0; i < storages.length; i++) {
      const data = storages[i]!;
      await zip.add(`${prefix}/data/${i}`, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
    await zip.add(`${prefix}/version`, encoder.encode('3\n'));
    await zip.finish({ sync: true });
    await commitTemp(tmp, path);
  } catch (err) {
    await zip.abort().catch(() => undefined);
    await discardTemp(tmp);
    throw ioError(path, 'write', err);
  }
}

// ---------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** A tensor's values as float32 (bfloat16 and float16 decoded, others converted). */
export function toFloat32(entry: Pick<StateDictEntry, 'dtype' | 'data'>): Float32Array {
  const { dtype, data } = entry;
  if (dtype === 'float32') return (data as Float32Array).slice();
  const out = new Float32Array(data.length);
  if (dtype === 'bfloat16') {
    const bits = data as Uint16Array;
    for (let i = 0; i < bits.length; i++) {
      u32[0] = bits[i]! << 16;
      out[i] = f32[0]!;
    }
  } else if (dtype === 'float16') {
    const bits = data as Uint16Array;
    for (let i = 0; i < bits.length; i++) out[i] = halfToFloat(bits[i]!);
  } else if (dtype === 'int64') {
    const v = data as BigInt64Array;
    for (let i = 0; i < v.length; i++) out[i] = Number(v[i]!);
  } else {
    out.set(data as ArrayLike<number>);
  }
  return out;
}
