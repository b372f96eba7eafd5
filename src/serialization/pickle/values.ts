/**
 * The JavaScript side of Python values that have no plain equivalent,
 * shared by the pickle reader and writer: references to Python globals,
 * reduce calls, persistent ids, tuples (frozen arrays) and BUILD states.
 */

/** A reference to a Python global, e.g. `collections.OrderedDict`. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}

  /** `module.name`, the key used in the `globals` allow-list. */
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }

  toString(): string {
    return this.qualifiedName;
  }
}

/**
 * What Python's `__reduce__` returns, for the writer: `callable(*args)`,
 * then optionally BUILD with `state`, APPENDS of `listItems` and SETITEMS of
 * `dictItems` (how `collections.OrderedDict` is pickled).
 */
export class PyReduce {
  constructor(
    readonly callable: PyGlobal,
    readonly args: readonly unknown[],
    readonly extra: {
      readonly state?: unknown;
      readonly listItems?: Iterable<unknown>;
      readonly dictItems?: Iterable<readonly [unknown, unknown]>;
    } = {},
  ) {}
}

/** For the writer: a persistent id (`BINPERSID`), as `torch.save` uses for storages. */
export class PyPersistentId {
  constructor(readonly pid: unknown) {}
}

/** A Python tuple as the reader returns it and the writer expects it: a frozen array. */
export type PyTuple<T = unknown> = readonly T[];

/** Makes a Python tuple (a frozen array) of the given items. */
export function tuple<T extends unknown[]>(...items: T): Readonly<T> {
  return Object.freeze(items);
}

/** True for a Python tuple as this module represents it (a frozen array). */
export function isTuple(value: unknown): value is PyTuple {
  return Array.isArray(value) && Object.isFrozen(value);
}

/**
 * An object returned by a global handler may define this method to receive
 * the state of a following BUILD opcode (Python's `__setstate__`).
 */
export const PY_SETSTATE: unique symbol = Symbol('nrnm.pySetState');

const buildStates = new WeakMap<object, unknown>();

/** Records the state of a BUILD on an object without a `[PY_SETSTATE]` method (the reader's side of getBuildState). */
export function setBuildState(obj: object, state: unknown): void {
  buildStates.set(obj, state);
}

/**
 * The BUILD state applied to an object that has no `[PY_SETSTATE]` method,
 * e.g. `{'_metadata': ...}` of a `state_dict` OrderedDict; `undefined` if none.
 */
export function getBuildState(obj: object): unknown {
  return buildStates.get(obj);
}

/** A handler for an allowed Python global; REDUCE, NEWOBJ and INST call it with the arguments. */
export type GlobalHandler = (...args: unknown[]) => unknown;

/**
 * The Python type of an unpickled value, for messages ("a dict, not a
 * list"): None, tuple, list, dict, set, bytes, "global module.name", a
 * value's own `pythonType` (the .pt reader's tensor and storage), or the
 * JavaScript type of a number or string.
 */
export function pythonType(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyGlobal) return `global ${v.qualifiedName}`;
  if (isTuple(v)) return 'tuple';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Map) return 'dict';
  if (v instanceof Set) return 'set';
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object' && typeof (v as { pythonType?: unknown }).pythonType === 'string') return (v as { pythonType: string }).pythonType;
  if (typeof v === 'bigint') return 'number';
  return typeof v;
}
