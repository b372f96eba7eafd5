/**
 * The pickle reader: runs the pickle virtual machine for the opcodes of
 * protocols 0 to 5 that data pickles use, never importing or running
 * anything (see index.ts for the value mapping and the allow-list of globals).
 */
import { SerializationError } from '../errors';
import { quoted } from '../../file-errors';
import { decodePyStringLiteral, decodeRawUnicodeEscape, parsePyFloat } from './literals';
import { OP, opName } from './opcodes';
import { PY_SETSTATE, PyGlobal, pythonType, setBuildState, tuple, type GlobalHandler } from './values';

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

/** Most arguments a call (REDUCE, NEWOBJ, INST, OBJ) may pass; data pickles pass a handful. */
const MAX_CALL_ARGS = 256;

/** Largest Python int (in bytes) the reader accepts; bigger ones are refused, not computed. */
const MAX_LONG_BYTES = 1 << 16;

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

/**
 * Reads one pickle from `data` and returns the Python value as JavaScript
 * (see the table in index.ts). Throws `SerializationError`
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
    throw this.error(`the pickle ends without a STOP opcode (${data.length} bytes read)`, 'The file is truncated or is not a pickle.', data.length);
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
      throw this.error(`the pickle is truncated: ${opName(this.op)} has no terminating newline`, 'The file is corrupt.');
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
      throw this.error(`${opName(this.op)} on a ${pythonType(callable)}, not an allowed global`, 'The pickle is corrupt.');
    }
    if (!Array.isArray(args)) {
      throw this.error(`${opName(this.op)} arguments are a ${pythonType(args)}, not a tuple`, 'The pickle is corrupt.');
    }
    if (args.length > MAX_CALL_ARGS) {
      throw this.error(`${opName(this.op)} passes ${args.length} arguments to ${callable.qualifiedName}`, 'The pickle is corrupt.');
    }
    const handler = Object.prototype.hasOwnProperty.call(this.globals, callable.qualifiedName) ? this.globals[callable.qualifiedName] : undefined;
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
          throw this.error(`ADDITEMS on a ${pythonType(target)}, not a set`, 'The pickle is corrupt.');
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
        return this.push(this.py2String(decodePyStringLiteral(this.line(), (t) => this.error(`invalid string literal ${quoted(t)}`))));
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
          throw this.error(`BUILD on a ${pythonType(obj)}`, 'The pickle is corrupt.');
        }
        const setState = (obj as { [PY_SETSTATE]?: unknown })[PY_SETSTATE];
        if (typeof setState === 'function') {
          setState.call(obj, state);
        } else {
          setBuildState(obj, state);
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
        throw this.error(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`, 'The file is corrupt or is not a pickle.');
    }
  }

  private persistent(pid: unknown): unknown {
    if (this.options.persistentLoad === undefined) {
      throw this.error('the pickle has a persistent id but no persistentLoad was given', 'This is not a plain data pickle.');
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
      throw this.error(`${opName(this.op)} on a ${pythonType(target)}, not a list`, 'The pickle is corrupt.');
    }
    return target;
  }

  private setItems(target: unknown, items: unknown[]): Map<unknown, unknown> {
    if (!(target instanceof Map)) {
      throw this.error(`${opName(this.op)} on a ${pythonType(target)}, not a dict`, 'The pickle is corrupt.');
    }
    if (items.length % 2 !== 0) {
      throw this.error(`${opName(this.op)} with an odd number of items`, 'The pickle is corrupt.');
    }
    for (let i = 0; i < items.length; i += 2) target.set(items[i], items[i + 1]);
    return target;
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
