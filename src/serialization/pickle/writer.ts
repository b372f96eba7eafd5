/**
 * The pickle writer: JavaScript values (see index.ts) as a protocol 2 or 3
 * pickle that Python's `pickle.loads` and `torch.load` read.
 */
import { SerializationError } from '../errors';
import { OP } from './opcodes';
import { PyGlobal, PyPersistentId, PyReduce } from './values';

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
    return this.fail(path, `${obj.constructor?.name ?? 'object'} has no Python equivalent here (use Map for dict, arrays for list, tuple() for tuple)`);
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
