/**
 * The official `{train,val}_label.pkl`: a pickled `(names, labels)` pair,
 * names like 'S001C001P001R001A001.skeleton' and labels action - 1.
 * Read with the safe unpickler: the only Python globals allowed are the
 * three that describe numpy integer scalars (labels saved as np.int64), and
 * they are decoded here as data; anything else is refused, nothing runs.
 * Written as a protocol-2 pickle that Python 2 and 3 read.
 */
import { NRNMError } from '../../errors';
import { writeFileAtomicSync } from '../../io/atomic-write';
import { type GlobalHandler, getBuildState, pickle, pythonType, tuple, unpickle } from '../../serialization/pickle';
import { readFileOrThrow } from '../files';

export interface NtuLabels {
  names: string[];
  labels: Int32Array;
}

/** Reads a label pickle; anything but a pair of equally long lists (str, int) is ERR_FORMAT naming the file. */
export function readLabelPkl(file: string): NtuLabels {
  const bytes = readFileOrThrow(file);
  const value = unpickle(bytes, { source: file, py2Strings: 'latin1', globals: numpyScalarGlobals(file) });
  const bad = (what: string): never => {
    throw new NRNMError(`${file}: expected a pickled (names, labels) pair of lists, as the official preprocessing writes, but ${what}.`, 'ERR_FORMAT');
  };
  if (!Array.isArray(value) || value.length !== 2) return bad(`found ${describeValue(value)}`);
  const [names, labels] = value as unknown[];
  if (!Array.isArray(names)) return bad(`its first item is ${describeValue(names)}`);
  if (!Array.isArray(labels)) return bad(`its second item is ${describeValue(labels)}`);
  if (names.length !== labels.length) return bad(`it has ${names.length} names and ${labels.length} labels`);
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0x7fffffff) return bad(`label ${i} is ${describeValue(v)}, not a non-negative integer`);
    out[i] = n;
    if (typeof names[i] !== 'string') return bad(`name ${i} is ${describeValue(names[i])}, not a string`);
  }
  return { names: names as string[], labels: out };
}

/** Writes `(names, labels)` atomically (temporary file, then rename). */
export function writeLabelPkl(file: string, names: readonly string[], labels: ArrayLike<number>): void {
  if (names.length !== labels.length) throw new NRNMError(`${names.length} names but ${labels.length} labels`, 'ERR_ARG');
  const bytes = pickle(tuple([...names], Array.from(labels)));
  writeFileAtomicSync(file, bytes);
}

/** "a list of 3", "the string 'x'", "a dict": pythonType() with what the label messages add. */
function describeValue(v: unknown): string {
  if (typeof v === 'string') return `the string '${v.slice(0, 40)}'`;
  if (typeof v === 'number' || typeof v === 'bigint') return `the number ${String(v)}`;
  return `a ${pythonType(v)}${Array.isArray(v) ? ` of ${v.length}` : ''}`;
}

/** numpy.dtype('i8', ...) as data: its code; the byte order arrives later through BUILD. */
class NumpyDType {
  constructor(readonly code: string) {}
}

/** Decoders for `numpy.core.multiarray.scalar(dtype, bytes)` of integer dtypes (labels saved as numpy ints). */
function numpyScalarGlobals(file: string): Record<string, GlobalHandler> {
  const refuse = (what: string): never => {
    throw new NRNMError(`${file}: a label is ${what}; only integer labels are read`, 'ERR_FORMAT');
  };
  const scalar: GlobalHandler = (dtype, data) => {
    if (!(dtype instanceof NumpyDType) || !(data instanceof Uint8Array)) return refuse('a numpy scalar of an unexpected form');
    const m = /^([iu])([1248])$/.exec(dtype.code);
    if (!m || data.length !== Number(m[2])) return refuse(`a numpy ${dtype.code} scalar`);
    const state = getBuildState(dtype);
    const little = !(Array.isArray(state) && state[1] === '>');
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const signed = m[1] === 'i';
    switch (data.length) {
      case 1:
        return signed ? dv.getInt8(0) : dv.getUint8(0);
      case 2:
        return signed ? dv.getInt16(0, little) : dv.getUint16(0, little);
      case 4:
        return signed ? dv.getInt32(0, little) : dv.getUint32(0, little);
      default:
        return Number(signed ? dv.getBigInt64(0, little) : dv.getBigUint64(0, little));
    }
  };
  return {
    'numpy.dtype': (code) => new NumpyDType(String(code)),
    'numpy.core.multiarray.scalar': scalar,
    'numpy._core.multiarray.scalar': scalar,
    // Protocol 2 spells bytes as _codecs.encode(latin-1 text, 'latin1').
    '_codecs.encode': (text, encoding) =>
      typeof text === 'string' && (encoding === 'latin1' || encoding === 'latin-1')
        ? Uint8Array.from(Buffer.from(text, 'latin1'))
        : refuse('encoded bytes of an unexpected form'),
  };
}
