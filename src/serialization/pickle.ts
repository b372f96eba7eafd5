/**
 * A minimal, safe Python pickle reader and writer.
 *
 * The reader runs the pickle virtual machine for the opcodes of protocols
 * 0 to 5 that data pickles use (containers, numbers, strings, bytes, memo,
 * persistent ids, REDUCE/BUILD). It never imports or runs anything: a Python
 * global (GLOBAL, STACK_GLOBAL, INST) is accepted only when the caller names
 * it in `globals`, and it is then "called" only through the caller's handler.
 * Anything else is an `ERR_FORMAT` error (with `refusedGlobal` set) naming
 * the global, the opcode and its byte offset.
 *
 * Python values become:
 *
 * | Python                 | JavaScript                                            |
 * | ---------------------- | ----------------------------------------------------- |
 * | None, True/False       | `null`, `true`/`false`                                |
 * | int                    | `number`, or `bigint` beyond ±(2^53 - 1)               |
 * | float                  | `number`                                              |
 * | str                    | `string`                                              |
 * | bytes, bytearray       | `Uint8Array` (a copy)                                 |
 * | list                   | `unknown[]` (mutable)                                 |
 * | tuple                  | a frozen array (`Object.isFrozen`), see `isTuple`     |
 * | dict                   | `Map` (insertion-ordered, like Python 3.7+ dicts)     |
 * | set, frozenset         | `Set`                                                 |
 * | py2 `str` (STRING ops) | `string` decoded as UTF-8 (or `Uint8Array`, see options) |
 * | allowed global         | `PyGlobal`; REDUCE on it calls the caller's handler   |
 *
 * The writer (`pickle`) turns the same JavaScript values back into a
 * protocol 2 (default) or 3 pickle that Python 3 (and, for protocol 2,
 * Python 2) reads. Tuples are frozen arrays, lists are unfrozen arrays; an
 * integral `number` is written as a Python int, any other number (and -0) as
 * a float.
 * `PyGlobal`, `PyReduce` and `PyPersistentId` write references to Python
 * callables the way `pickle` and `torch.save` do.
 */
import { SerializationError } from './errors';
import { quoted } from '../file-errors';

// ---------------------------------------------------------------------------
// Value model shared by the reader and the writer
// ---------------------------------------------------------------------------

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

/**
 * The BUILD state applied to an object that has no `[PY_SETSTATE]` method,
 * e.g. `{'_metadata': ...}` of a `state_dict` OrderedDict; `undefined` if none.
 */
export function getBuildState(obj: object): unknown {
  return buildStates.get(obj);
}

/** A handler for an allowed Python global; REDUCE, NEWOBJ and INST call it with the arguments. */
export type GlobalHandler = (...args: unknown[]) => unknown;

export interface UnpickleOptions {
  /** Name of what is being read (a file path); every error message starts with it. */
  readonly source: string;
  /**
   * Allow-list of Python globals, keyed `module.name` (e.g.
   * `'collections.OrderedDict'`). Any global not listed is rejected.
   */
  readonly globals?: Readonly<Record<string, GlobalHandler>>;
  /** Resolves persistent ids (PERSID/BINPERSID); without it they are rejected. */
  readonly persistentLoad?: (pid: unknown) => unknown;
  /** How Python 2 `str` (STRING, BINSTRING, SHORT_BINSTRING) is returned. Default `'utf8'`. */
  readonly py2Strings?: 'utf8' | 'latin1' | 'bytes';
}

// ---------------------------------------------------------------------------
// Opcodes
// ---------------------------------------------------------------------------

const OP = {
  MARK: 0x28, // (
  STOP: 0x2e, // .
  POP: 0x30, // 0
  POP_MARK: 0x31, // 1
  DUP: 0x32, // 2
  FLOAT: 0x46, // F
  INT: 0x49, // I
  BININT: 0x4a, // J
  BININT1: 0x4b, // K
  LONG: 0x4c, // L
  BININT2: 0x4d, // M
  NONE: 0x4e, // N
  PERSID: 0x50, // P
  BINPERSID: 0x51, // Q
  REDUCE: 0x52, // R
  STRING: 0x53, // S
  BINSTRING: 0x54, // T
  SHORT_BINSTRING: 0x55, // U
  UNICODE: 0x56, // V
  BINUNICODE: 0x58, // X
  APPEND: 0x61, // a
  BUILD: 0x62, // b
  GLOBAL: 0x63, // c
  DICT: 0x64, // d
  EMPTY_DICT: 0x7d, // }
  APPENDS: 0x65, // e
  GET: 0x67, // g
  BINGET: 0x68, // h
  INST: 0x69, // i
  LONG_BINGET: 0x6a, // j
  LIST: 0x6c, // l
  EMPTY_LIST: 0x5d, // ]
  OBJ: 0x6f, // o
  PUT: 0x70, // p
  BINPUT: 0x71, // q
  LONG_BINPUT: 0x72, // r
  SETITEM: 0x73, // s
  TUPLE: 0x74, // t
  EMPTY_TUPLE: 0x29, // )
  SETITEMS: 0x75, // u
  BINFLOAT: 0x47, // G
  // protocol 2
  PROTO: 0x80,
  NEWOBJ: 0x81,
  EXT1: 0x82,
  EXT2: 0x83,
  EXT4: 0x84,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
  // protocol 3
  BINBYTES: 0x42, // B
  SHORT_BINBYTES: 0x43, // C
  // protocol 4
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  EMPTY_SET: 0x8f,
  ADDITEMS: 0x90,
  FROZENSET: 0x91,
  NEWOBJ_EX: 0x92,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
  // protocol 5
  BYTEARRAY8: 0x96,
  NEXT_BUFFER: 0x97,
  READONLY_BUFFER: 0x98,
} as const;

const OP_NAMES = new Map<number, string>(Object.entries(OP).map(([name, code]) => [code, name]));

function opName(code: number): string {
  return OP_NAMES.get(code) ?? `0x${code.toString(16).padStart(2, '0')}`;
}

/** Most arguments a call (REDUCE, NEWOBJ, INST, OBJ) may pass; data pickles pass a handful. */
const MAX_CALL_ARGS = 256;

/** Largest Python int (in bytes) the reader accepts; bigger ones are refused, not computed. */
const MAX_LONG_BYTES = 1 << 16;

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

// ---------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------

/**
 * Reads one pickle from `data` and returns the Python value as JavaScript
 * (see the table at the top of this file). Throws `SerializationError`
 * (`ERR_FORMAT`; `refusedGlobal` set for a global not allowed) naming `options.source`, the opcode and
 * its byte offset.
 */
export function unpickle(data: Uint8Array, options: UnpickleOptions): unknown {
  const reader = new Unpickler(data, options);
  try {
    return reader.load();
  } catch (err) {
    if (err instanceof SerializationError) throw err;
    // RangeError from a value too big or too deep for JavaScript (a call
    // with a million arguments, a typed array too long): the file's fault.
    throw reader.failure(err);
  }
}

class Unpickler {
  private readonly view: DataView;
  private pos = 0;
  /** Offset of the opcode being executed, for error messages. */
  private opPos = 0;
  private op = 0;
  private stack: unknown[] = [];
  private readonly metastack: unknown[][] = [];
  private readonly memo = new Map<number, unknown>();
  private readonly globals: Readonly<Record<string, GlobalHandler>>;

  constructor(
    private readonly data: Uint8Array,
    private readonly options: UnpickleOptions,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.globals = options.globals ?? {};
  }

  load(): unknown {
    const data = this.data;
    while (this.pos < data.length) {
      this.opPos = this.pos;
      this.op = data[this.pos++]!;
      if (this.op === OP.STOP) {
        const result = this.pop();
        return result;
      }
      this.dispatch(this.op);
    }
    throw this.error(
      `the pickle ends without a STOP opcode (${data.length} bytes read)`,
      'The file is truncated or is not a pickle.',
      data.length,
    );
  }

  // -- errors ---------------------------------------------------------------

  /** An unexpected error raised while executing the current opcode, as an error naming the source. */
  failure(err: unknown): SerializationError {
    const why = err instanceof Error ? err.message : String(err);
    const e = this.error(`the pickle cannot be read (${why})`, 'The file is corrupt or not a data pickle.');
    (e as { cause?: unknown }).cause = err;
    return e;
  }

  private error(what: string, fix = '', offset = this.opPos): SerializationError {
    const opText = offset === this.opPos && this.opPos < this.data.length ? ` (opcode ${opName(this.op)})` : '';
    const message = `${this.options.source}: ${what} at byte ${offset} of the pickle${opText}.${fix ? ` ${fix}` : ''}`;
    return new SerializationError('ERR_FORMAT', message, { file: this.options.source, offset });
  }

  // -- raw reads --------------------------------------------------------------

  private need(n: number): void {
    if (n < 0 || this.pos + n > this.data.length) {
      throw this.error(
        `the pickle is truncated: ${opName(this.op)} needs ${n} more bytes but ${this.data.length - this.pos} remain`,
        'The file is incomplete or corrupt; write it again.',
      );
    }
  }

  private u8(): number {
    this.need(1);
    return this.data[this.pos++]!;
  }

  private u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  private u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  private u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw this.error(`length ${v} is too large`, 'The file is corrupt.');
    }
    return Number(v);
  }

  private bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A protocol 0 text argument: the bytes up to the next newline (excluded). */
  private line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) {
      throw this.error(
        `the pickle is truncated: ${opName(this.op)} has no terminating newline`,
        'The file is corrupt.',
      );
    }
    const text = latin1.decode(this.data.subarray(this.pos, end));
    this.pos = end + 1;
    return text;
  }

  // -- stack ----------------------------------------------------------------

  private push(v: unknown): void {
    this.stack.push(v);
  }

  private pop(): unknown {
    if (this.stack.length === 0) {
      throw this.error('stack underflow', 'The pickle is corrupt.');
    }
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length === 0) {
      throw this.error('stack underflow', 'The pickle is corrupt.');
    }
    return this.stack[this.stack.length - 1];
  }

  private popMark(): unknown[] {
    const items = this.stack;
    const previous = this.metastack.pop();
    if (previous === undefined) {
      throw this.error('no MARK on the stack', 'The pickle is corrupt.');
    }
    this.stack = previous;
    return items;
  }

  private memoGet(index: number): unknown {
    if (!this.memo.has(index)) {
      throw this.error(`memo entry ${index} was never stored`, 'The pickle is corrupt.');
    }
    return this.memo.get(index);
  }

  // -- conversions ----------------------------------------------------------

  private int(v: bigint): number | bigint {
    return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v;
  }

  private long(bytes: Uint8Array): number | bigint {
    if (bytes.length > MAX_LONG_BYTES) {
      throw this.error(`a ${bytes.length}-byte integer is larger than this reader accepts`, 'The file is corrupt.');
    }
    if (bytes.length === 0) return 0;
    let v = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
    if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(8 * bytes.length);
    return this.int(v);
  }

  private parseTextInt(text: string): number | bigint {
    const t = text.trim().replace(/L$/, '');
    if (!/^[+-]?\d+$/.test(t)) {
      throw this.error(`invalid integer literal ${quoted(text)}`, 'The pickle is corrupt.');
    }
    return this.int(BigInt(t));
  }

  private py2String(raw: Uint8Array): string | Uint8Array {
    switch (this.options.py2Strings ?? 'utf8') {
      case 'bytes':
        return raw.slice();
      case 'latin1':
        return latin1.decode(raw);
      default:
        return utf8.decode(raw);
    }
  }

  // -- globals --------------------------------------------------------------

  private resolveGlobal(module: string, name: string): PyGlobal {
    const key = `${module}.${name}`;
    if (!Object.prototype.hasOwnProperty.call(this.globals, key)) {
      const allowed = Object.keys(this.globals);
      const message =
        `${this.options.source}: the pickle refers to the Python global ${quoted(key, 120)} ` +
        `(opcode ${opName(this.op)} at byte ${this.opPos}), which is not allowed here; nothing was executed. ` +
        (allowed.length > 0
          ? `Allowed globals: ${allowed.slice(0, 6).join(', ')}${allowed.length > 6 ? ` and ${allowed.length - 6} more` : ''}. `
          : 'This reader allows no globals. ') +
        'Only load files from sources you trust; if this file is genuine, save it with plain tensors and Python containers.';
      throw new SerializationError('ERR_FORMAT', message, {
        file: this.options.source,
        offset: this.opPos,
        refusedGlobal: key,
      });
    }
    return new PyGlobal(module, name);
  }

  private call(callable: unknown, args: unknown): unknown {
    if (!(callable instanceof PyGlobal)) {
      throw this.error(
        `${opName(this.op)} on a ${describe(callable)}, not an allowed global`,
        'The pickle is corrupt.',
      );
    }
    if (!Array.isArray(args)) {
      throw this.error(`${opName(this.op)} arguments are a ${describe(args)}, not a tuple`, 'The pickle is corrupt.');
    }
    if (args.length > MAX_CALL_ARGS) {
      throw this.error(`${opName(this.op)} passes ${args.length} arguments to ${callable.qualifiedName}`, 'The pickle is corrupt.');
    }
    const handler = Object.prototype.hasOwnProperty.call(this.globals, callable.qualifiedName)
      ? this.globals[callable.qualifiedName]
      : undefined;
    if (typeof handler !== 'function') {
      throw this.error(`${callable.qualifiedName} is not callable here`, 'The pickle is corrupt.');
    }
    try {
      return handler(...(args as unknown[]));
    } catch (err) {
      if (err instanceof SerializationError) throw err;
      const why = err instanceof Error ? err.message : String(err);
      const e = this.error(`${callable.qualifiedName}(...) could not be rebuilt: ${why}`);
      (e as { cause?: unknown }).cause = err;
      throw e;
    }
  }

  // -- the virtual machine ----------------------------------------------------

  private dispatch(op: number): void {
    switch (op) {
      case OP.PROTO: {
        const proto = this.u8();
        if (proto > 5) {
          throw this.error(`unsupported pickle protocol ${proto}`, 'This reader handles protocols 0 to 5.');
        }
        return;
      }
      case OP.FRAME:
        this.u64(); // frames only group opcodes; the whole pickle is in memory
        return;

      // containers
      case OP.MARK:
        this.metastack.push(this.stack);
        this.stack = [];
        return;
      case OP.EMPTY_TUPLE:
        return this.push(tuple());
      case OP.TUPLE1:
        return this.push(tuple(this.pop()));
      case OP.TUPLE2: {
        const b = this.pop();
        const a = this.pop();
        return this.push(tuple(a, b));
      }
      case OP.TUPLE3: {
        const c = this.pop();
        const b = this.pop();
        const a = this.pop();
        return this.push(tuple(a, b, c));
      }
      case OP.TUPLE:
        return this.push(Object.freeze(this.popMark()));
      case OP.EMPTY_LIST:
        return this.push([]);
      case OP.LIST:
        return this.push(this.popMark());
      case OP.EMPTY_DICT:
        return this.push(new Map());
      case OP.DICT: {
        const items = this.popMark();
        return this.push(this.setItems(new Map(), items));
      }
      case OP.EMPTY_SET:
        return this.push(new Set());
      case OP.FROZENSET:
        return this.push(new Set(this.popMark()));
      case OP.APPEND: {
        const v = this.pop();
        this.list(this.top()).push(v);
        return;
      }
      case OP.APPENDS: {
        const items = this.popMark();
        const target = this.list(this.top());
        for (const item of items) target.push(item);
        return;
      }
      case OP.SETITEM: {
        const v = this.pop();
        const k = this.pop();
        this.setItems(this.top(), [k, v]);
        return;
      }
      case OP.SETITEMS: {
        const items = this.popMark();
        this.setItems(this.top(), items);
        return;
      }
      case OP.ADDITEMS: {
        const items = this.popMark();
        const target = this.top();
        if (!(target instanceof Set)) {
          throw this.error(`ADDITEMS on a ${describe(target)}, not a set`, 'The pickle is corrupt.');
        }
        for (const item of items) target.add(item);
        return;
      }

      // stack manipulation
      case OP.POP:
        if (this.stack.length === 0) this.popMark();
        else this.pop();
        return;
      case OP.POP_MARK:
        this.popMark();
        return;
      case OP.DUP:
        return this.push(this.top());

      // memo
      case OP.BINPUT:
        this.memo.set(this.u8(), this.top());
        return;
      case OP.LONG_BINPUT:
        this.memo.set(this.u32(), this.top());
        return;
      case OP.PUT:
        this.memo.set(Number(this.parseTextInt(this.line())), this.top());
        return;
      case OP.MEMOIZE:
        this.memo.set(this.memo.size, this.top());
        return;
      case OP.BINGET:
        return this.push(this.memoGet(this.u8()));
      case OP.LONG_BINGET:
        return this.push(this.memoGet(this.u32()));
      case OP.GET:
        return this.push(this.memoGet(Number(this.parseTextInt(this.line()))));

      // constants and numbers
      case OP.NONE:
        return this.push(null);
      case OP.NEWTRUE:
        return this.push(true);
      case OP.NEWFALSE:
        return this.push(false);
      case OP.BININT:
        return this.push(this.i32());
      case OP.BININT1:
        return this.push(this.u8());
      case OP.BININT2:
        return this.push(this.u16());
      case OP.LONG1:
        return this.push(this.long(this.bytes(this.u8())));
      case OP.LONG4: {
        const n = this.i32();
        if (n < 0) throw this.error('negative LONG4 length', 'The pickle is corrupt.');
        return this.push(this.long(this.bytes(n)));
      }
      case OP.INT: {
        const text = this.line();
        if (text === '00') return this.push(false);
        if (text === '01') return this.push(true);
        return this.push(this.parseTextInt(text));
      }
      case OP.LONG:
        return this.push(this.parseTextInt(this.line()));
      case OP.BINFLOAT: {
        this.need(8);
        const v = this.view.getFloat64(this.pos, false);
        this.pos += 8;
        return this.push(v);
      }
      case OP.FLOAT:
        return this.push(parsePyFloat(this.line(), (t) => this.error(`invalid float literal ${quoted(t)}`)));

      // strings and bytes
      case OP.SHORT_BINUNICODE:
        return this.push(utf8.decode(this.bytes(this.u8())));
      case OP.BINUNICODE:
        return this.push(utf8.decode(this.bytes(this.u32())));
      case OP.BINUNICODE8:
        return this.push(utf8.decode(this.bytes(this.u64())));
      case OP.UNICODE:
        return this.push(decodeRawUnicodeEscape(this.line()));
      case OP.SHORT_BINSTRING:
        return this.push(this.py2String(this.bytes(this.u8())));
      case OP.BINSTRING: {
        const n = this.i32();
        if (n < 0) throw this.error('negative BINSTRING length', 'The pickle is corrupt.');
        return this.push(this.py2String(this.bytes(n)));
      }
      case OP.STRING:
        return this.push(
          this.py2String(decodePyStringLiteral(this.line(), (t) => this.error(`invalid string literal ${quoted(t)}`))),
        );
      case OP.SHORT_BINBYTES:
        return this.push(this.bytes(this.u8()).slice());
      case OP.BINBYTES:
        return this.push(this.bytes(this.u32()).slice());
      case OP.BINBYTES8:
      case OP.BYTEARRAY8:
        return this.push(this.bytes(this.u64()).slice());

      // globals and objects
      case OP.GLOBAL: {
        const module = this.line();
        const name = this.line();
        return this.push(this.resolveGlobal(module, name));
      }
      case OP.STACK_GLOBAL: {
        const name = this.pop();
        const module = this.pop();
        if (typeof module !== 'string' || typeof name !== 'string') {
          throw this.error('STACK_GLOBAL needs two strings', 'The pickle is corrupt.');
        }
        return this.push(this.resolveGlobal(module, name));
      }
      case OP.REDUCE: {
        const args = this.pop();
        const callable = this.pop();
        return this.push(this.call(callable, args));
      }
      case OP.NEWOBJ: {
        const args = this.pop();
        const cls = this.pop();
        return this.push(this.call(cls, args));
      }
      case OP.NEWOBJ_EX: {
        const kwargs = this.pop();
        const args = this.pop();
        const cls = this.pop();
        if (!(kwargs instanceof Map) || kwargs.size > 0) {
          throw this.error('NEWOBJ_EX with keyword arguments is not supported');
        }
        return this.push(this.call(cls, args));
      }
      case OP.INST: {
        const module = this.line();
        const name = this.line();
        const cls = this.resolveGlobal(module, name);
        return this.push(this.call(cls, Object.freeze(this.popMark())));
      }
      case OP.OBJ: {
        const items = this.popMark();
        const cls = items.shift();
        return this.push(this.call(cls, Object.freeze(items)));
      }
      case OP.BUILD: {
        const state = this.pop();
        const obj = this.top();
        if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function')) {
          throw this.error(`BUILD on a ${describe(obj)}`, 'The pickle is corrupt.');
        }
        const setState = (obj as { [PY_SETSTATE]?: unknown })[PY_SETSTATE];
        if (typeof setState === 'function') {
          setState.call(obj, state);
        } else {
          buildStates.set(obj, state);
        }
        return;
      }
      case OP.PERSID:
        return this.push(this.persistent(this.line()));
      case OP.BINPERSID:
        return this.push(this.persistent(this.pop()));

      case OP.EXT1:
      case OP.EXT2:
      case OP.EXT4:
        throw new SerializationError(
          'ERR_FORMAT',
          `${this.options.source}: the pickle uses the copyreg extension registry (opcode ${opName(op)} at byte ${this.opPos}), ` +
            'which this reader does not resolve; nothing was executed.',
          { file: this.options.source, offset: this.opPos },
        );
      case OP.NEXT_BUFFER:
      case OP.READONLY_BUFFER:
        throw this.error('out-of-band buffers (pickle protocol 5 buffer_callback) are not supported');
      default:
        throw this.error(
          `unknown opcode 0x${op.toString(16).padStart(2, '0')}`,
          'The file is corrupt or is not a pickle.',
        );
    }
  }

  private persistent(pid: unknown): unknown {
    if (this.options.persistentLoad === undefined) {
      throw this.error(
        'the pickle has a persistent id but no persistentLoad was given',
        'This is not a plain data pickle.',
      );
    }
    try {
      return this.options.persistentLoad(pid);
    } catch (err) {
      if (err instanceof SerializationError) throw err;
      const why = err instanceof Error ? err.message : String(err);
      throw this.error(`persistent id could not be loaded: ${why}`);
    }
  }

  private list(target: unknown): unknown[] {
    if (!Array.isArray(target) || Object.isFrozen(target)) {
      throw this.error(`${opName(this.op)} on a ${describe(target)}, not a list`, 'The pickle is corrupt.');
    }
    return target;
  }

  private setItems(target: unknown, items: unknown[]): Map<unknown, unknown> {
    if (!(target instanceof Map)) {
      throw this.error(`${opName(this.op)} on a ${describe(target)}, not a dict`, 'The pickle is corrupt.');
    }
    if (items.length % 2 !== 0) {
      throw this.error(`${opName(this.op)} with an odd number of items`, 'The pickle is corrupt.');
    }
    for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
    return target;
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyGlobal) return `global ${v.qualifiedName}`;
  if (isTuple(v)) return 'tuple';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Map) return 'dict';
  if (v instanceof Set) return 'set';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v;
}

function parsePyFloat(text: string, fail: (t: string) => Error): number {
  const t = text.trim().toLowerCase();
  if (t === 'inf' || t === '+inf') return Infinity;
  if (t === '-inf') return -Infinity;
  if (t === 'nan' || t === '-nan' || t === '+nan') return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t)) throw fail(text);
  return Number(t);
}

/** Decodes Python's `raw-unicode-escape` (protocol 0 UNICODE): latin-1 plus \uXXXX and \UXXXXXXXX. */
function decodeRawUnicodeEscape(text: string): string {
  return text.replace(
    /\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g,
    (_m, u4: string | undefined, u8: string | undefined) => String.fromCodePoint(parseInt((u4 ?? u8)!, 16)),
  );
}

/** Decodes a Python 2 `repr(str)` literal (protocol 0 STRING) into its bytes. */
function decodePyStringLiteral(text: string, fail: (t: string) => Error): Uint8Array {
  const q = text[0];
  if (text.length < 2 || (q !== "'" && q !== '"') || text[text.length - 1] !== q) throw fail(text);
  const body = text.slice(1, -1);
  const out: number[] = [];
  const simple: Record<string, number> = { n: 10, r: 13, t: 9, '\\': 92, "'": 39, '"': 34, a: 7, b: 8, f: 12, v: 11 };
  for (let i = 0; i < body.length; i++) {
    const ch = body.charCodeAt(i);
    if (ch !== 0x5c) {
      out.push(ch & 0xff);
      continue;
    }
    const next = body[++i];
    if (next === undefined) throw fail(text);
    if (next === 'x') {
      const hex = body.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw fail(text);
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (next >= '0' && next <= '7') {
      const oct = /^[0-7]{1,3}/.exec(body.slice(i))![0];
      out.push(parseInt(oct, 8) & 0xff);
      i += oct.length - 1;
    } else if (next in simple) {
      out.push(simple[next]!);
    } else {
      out.push(0x5c, next.charCodeAt(0) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

export interface PickleOptions {
  /**
   * Pickle protocol: 2 (default, what `torch.save` writes; readable by
   * Python 2 and 3) or 3 (adds `bytes`, written from `Uint8Array`).
   */
  readonly protocol?: 2 | 3;
}

/** Growable byte buffer; doubles its capacity, so appends are amortised O(1). */
class ByteSink {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.length++] = b;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  u16(v: number): void {
    this.reserve(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }

  u32(v: number): void {
    this.reserve(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }

  i32(v: number): void {
    this.reserve(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }

  f64be(v: number): void {
    this.reserve(8);
    this.view.setFloat64(this.length, v, false);
    this.length += 8;
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const utf8Encoder = new TextEncoder();
/** Items per APPENDS/SETITEMS batch, as CPython writes them. */
const BATCH = 1000;

/**
 * Writes `value` as a pickle (protocol 2 by default) that Python's
 * `pickle.loads` / `torch.load` read back. Throws `ERR_ARG` for values
 * that have no Python equivalent here (undefined, plain objects, functions,
 * typed arrays other than `Uint8Array`).
 */
export function pickle(value: unknown, options: PickleOptions = {}): Uint8Array {
  const protocol = options.protocol ?? 2;
  if (protocol !== 2 && protocol !== 3) {
    throw new SerializationError('ERR_ARG', `Expected protocol to be 2 or 3 but received ${String(protocol)}`);
  }
  const p = new Pickler(protocol);
  p.out.byte(OP.PROTO);
  p.out.byte(protocol);
  p.save(value, '$');
  p.out.byte(OP.STOP);
  return p.out.result();
}

class Pickler {
  readonly out = new ByteSink();
  /** Objects by identity (lists, dicts, tuples, reduces) and strings/globals by value. */
  private readonly memoObjects = new Map<object, number>();
  private readonly memoStrings = new Map<string, number>();
  private readonly memoGlobals = new Map<string, number>();
  private memoCount = 0;
  private readonly inProgress = new Set<object>();

  constructor(private readonly protocol: 2 | 3) {}

  private put(): number {
    const index = this.memoCount++;
    if (index < 256) {
      this.out.byte(OP.BINPUT);
      this.out.byte(index);
    } else {
      this.out.byte(OP.LONG_BINPUT);
      this.out.u32(index);
    }
    return index;
  }

  private get(index: number): void {
    if (index < 256) {
      this.out.byte(OP.BINGET);
      this.out.byte(index);
    } else {
      this.out.byte(OP.LONG_BINGET);
      this.out.u32(index);
    }
  }

  private fail(path: string, what: string): never {
    throw new SerializationError('ERR_ARG', `Cannot pickle ${path}: ${what}`);
  }

  save(v: unknown, path: string): void {
    if (v === null) return this.out.byte(OP.NONE);
    switch (typeof v) {
      case 'boolean':
        return this.out.byte(v ? OP.NEWTRUE : OP.NEWFALSE);
      case 'number':
        if (Number.isInteger(v) && !Object.is(v, -0)) return this.saveInt(Number.isSafeInteger(v) ? v : BigInt(v));
        this.out.byte(OP.BINFLOAT);
        return this.out.f64be(v);
      case 'bigint':
        return this.saveInt(v);
      case 'string':
        return this.saveString(v);
      case 'object':
        break;
      default:
        return this.fail(path, `${typeof v} has no Python equivalent`);
    }
    const obj = v as object;
    const memoized = this.memoObjects.get(obj);
    if (memoized !== undefined) return this.get(memoized);
    if (this.inProgress.has(obj)) return this.fail(path, 'a tuple or PyReduce contains itself');

    if (obj instanceof PyGlobal) return this.saveGlobal(obj);
    if (obj instanceof PyPersistentId) {
      this.save(obj.pid, `${path}.pid`);
      return this.out.byte(OP.BINPERSID);
    }
    if (obj instanceof PyReduce) return this.saveReduce(obj, path);
    if (Array.isArray(obj)) return Object.isFrozen(obj) ? this.saveTuple(obj, path) : this.saveList(obj, path);
    if (obj instanceof Map) return this.saveDict(obj, path);
    if (obj instanceof Uint8Array && obj.constructor === Uint8Array) return this.saveBytes(obj, path);
    return this.fail(
      path,
      `${obj.constructor?.name ?? 'object'} has no Python equivalent here (use Map for dict, arrays for list, tuple() for tuple)`,
    );
  }

  private saveInt(v: number | bigint): void {
    if (typeof v === 'number' && v >= -0x80000000 && v <= 0x7fffffff) {
      if (v >= 0 && v <= 0xff) {
        this.out.byte(OP.BININT1);
        return this.out.byte(v);
      }
      if (v >= 0 && v <= 0xffff) {
        this.out.byte(OP.BININT2);
        return this.out.u16(v);
      }
      this.out.byte(OP.BININT);
      return this.out.i32(v);
    }
    // LONG1: little-endian two's complement, as short as possible.
    let big = BigInt(v);
    const bytes: number[] = [];
    if (big !== 0n) {
      const negative = big < 0n;
      while (true) {
        const b = Number(big & 0xffn);
        bytes.push(b);
        big >>= 8n;
        if ((!negative && big === 0n && (b & 0x80) === 0) || (negative && big === -1n && (b & 0x80) !== 0)) break;
      }
    }
    if (bytes.length > 255) {
      this.out.byte(OP.LONG4);
      this.out.i32(bytes.length);
    } else {
      this.out.byte(OP.LONG1);
      this.out.byte(bytes.length);
    }
    this.out.bytes(Uint8Array.from(bytes));
  }

  private saveString(s: string): void {
    const memoized = this.memoStrings.get(s);
    if (memoized !== undefined) return this.get(memoized);
    const encoded = utf8Encoder.encode(s);
    this.out.byte(OP.BINUNICODE);
    this.out.u32(encoded.length);
    this.out.bytes(encoded);
    this.memoStrings.set(s, this.put());
  }

  private saveBytes(b: Uint8Array, path: string): void {
    if (this.protocol < 3) {
      return this.fail(path, 'bytes (Uint8Array) need pickle protocol 3; pass { protocol: 3 }');
    }
    if (b.length < 256) {
      this.out.byte(OP.SHORT_BINBYTES);
      this.out.byte(b.length);
    } else {
      this.out.byte(OP.BINBYTES);
      this.out.u32(b.length);
    }
    this.out.bytes(b);
    this.memoObjects.set(b, this.put());
  }

  private saveGlobal(g: PyGlobal): void {
    const key = `${g.module}\n${g.name}`;
    const memoized = this.memoGlobals.get(key);
    if (memoized !== undefined) return this.get(memoized);
    if (/[\n]/.test(g.module + g.name) || g.module === '' || g.name === '') {
      return this.fail(key, 'a global needs a non-empty module and name without newlines');
    }
    this.out.byte(OP.GLOBAL);
    this.out.bytes(utf8Encoder.encode(`${key}\n`));
    this.memoGlobals.set(key, this.put());
  }

  private saveTuple(items: readonly unknown[], path: string): void {
    this.inProgress.add(items);
    if (items.length === 0) {
      this.out.byte(OP.EMPTY_TUPLE);
    } else if (items.length <= 3) {
      items.forEach((item, i) => this.save(item, `${path}[${i}]`));
      this.out.byte([OP.TUPLE1, OP.TUPLE2, OP.TUPLE3][items.length - 1]!);
    } else {
      this.out.byte(OP.MARK);
      items.forEach((item, i) => this.save(item, `${path}[${i}]`));
      this.out.byte(OP.TUPLE);
    }
    this.inProgress.delete(items);
    if (items.length > 0) this.memoObjects.set(items, this.put());
  }

  private saveList(items: readonly unknown[], path: string): void {
    this.out.byte(OP.EMPTY_LIST);
    this.memoObjects.set(items, this.put());
    this.appends(items, path);
  }

  private appends(items: Iterable<unknown>, path: string): void {
    let i = 0;
    let inBatch = 0;
    for (const item of items) {
      if (inBatch === 0) this.out.byte(OP.MARK);
      this.save(item, `${path}[${i++}]`);
      if (++inBatch === BATCH) {
        this.out.byte(OP.APPENDS);
        inBatch = 0;
      }
    }
    if (inBatch > 0) this.out.byte(OP.APPENDS);
  }

  private saveDict(map: Map<unknown, unknown>, path: string): void {
    this.out.byte(OP.EMPTY_DICT);
    this.memoObjects.set(map, this.put());
    this.setItems(map, path);
  }

  private setItems(items: Iterable<readonly [unknown, unknown]>, path: string): void {
    let inBatch = 0;
    for (const [k, v] of items) {
      if (inBatch === 0) this.out.byte(OP.MARK);
      this.save(k, `${path} key`);
      this.save(v, typeof k === 'string' ? `${path}[${JSON.stringify(k)}]` : `${path}[…]`);
      if (++inBatch === BATCH) {
        this.out.byte(OP.SETITEMS);
        inBatch = 0;
      }
    }
    if (inBatch > 0) this.out.byte(OP.SETITEMS);
  }

  private saveReduce(r: PyReduce, path: string): void {
    if (!(r.callable instanceof PyGlobal)) return this.fail(path, 'PyReduce.callable must be a PyGlobal');
    this.inProgress.add(r);
    this.saveGlobal(r.callable);
    this.saveTuple(Object.isFrozen(r.args) ? r.args : Object.freeze([...r.args]), `${path}.args`);
    this.out.byte(OP.REDUCE);
    this.inProgress.delete(r);
    this.memoObjects.set(r, this.put());
    const { listItems, dictItems, state } = r.extra;
    if (listItems !== undefined) this.appends(listItems, path);
    if (dictItems !== undefined) this.setItems(dictItems, path);
    if (state !== undefined) {
      this.save(state, `${path}.state`);
      this.out.byte(OP.BUILD);
    }
  }
}
