import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { NRNMError } from '../../src/errors';
import { SerializationError } from '../../src/serialization/errors';
import { getBuildState, isTuple, pickle, PyGlobal, PyReduce, tuple, unpickle } from '../../src/serialization/pickle';
import { mulberry32 } from '../helpers/mulberry32';

const FIXTURES = join(__dirname, '..', 'fixtures', 'serialization');
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, name)));

function thrown(fn: () => unknown): SerializationError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SerializationError);
    return err as SerializationError;
  }
  throw new Error('expected an error');
}

describe('unpickle: NTU label files', () => {
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'ntu_train_label.expected.json'), 'utf8')) as {
    names: string[];
    labels: number[];
  };

  it('reads (names, labels) written by pickle.dump with the Python 3 default protocol', () => {
    const value = unpickle(fixture('ntu_train_label.pkl'), { source: 'ntu_train_label.pkl' });
    expect(isTuple(value)).toBe(true);
    const [names, labels] = value as readonly [string[], number[]];
    expect(names).toHaveLength(1205); // > 1000: several APPENDS batches
    expect(names).toEqual(expected.names);
    expect(labels).toEqual(expected.labels);
    expect(Array.isArray(names) && !Object.isFrozen(names)).toBe(true); // a list, not a tuple
  });

  it.each(['ntu_label_p0.pkl', 'ntu_label_p2.pkl'])('reads the same data pickled with an old protocol (%s)', (name) => {
    const [names, labels] = unpickle(fixture(name), { source: name }) as readonly [string[], number[]];
    expect(names).toEqual(expected.names.slice(0, 5));
    expect(labels).toEqual(expected.labels.slice(0, 5));
  });
});

describe('unpickle: Python values', () => {
  function checkMisc(value: unknown): void {
    expect(value).toBeInstanceOf(Map);
    const m = value as Map<unknown, unknown>;
    expect(m.get('ints')).toEqual([0, 1, -1, 255, 256, 65535, 65536, -(2 ** 31), 2 ** 31 - 1, 2 ** 31, 2n ** 53n + 1n, -(2n ** 70n), 2n ** 100n]);
    const floats = m.get('floats') as number[];
    expect(floats).toEqual([0, -0, 1.5, -1e300, Infinity]);
    expect(Object.is(floats[1], -0)).toBe(true);
    const nested = m.get('nested') as readonly unknown[];
    expect(isTuple(nested)).toBe(true);
    expect(nested.slice(0, 5).every(isTuple)).toBe(true);
    expect(nested.slice(0, 5)).toEqual([[], [1], [1, 2], [1, 2, 3], [1, 2, 3, 4]]);
    expect(nested[5]).toEqual([[], new Map()]);
    expect(m.get('flags')).toEqual([true, false, null]);
    expect(m.get('bytes')).toEqual(Uint8Array.from([0, 255, 97, 98, 99]));
    expect(m.get('unicode')).toBe('h\u00e9llo \u2603 \u{1F600}');
    expect(m.get(7)).toBe('int key');
    expect([...m.keys()]).toEqual(['ints', 'floats', 'nested', 'flags', 'bytes', 'unicode', 7]);
  }

  it.each(['misc_p4.pkl', 'misc_p5.pkl'])('reads ints, floats, containers, bytes and unicode (%s)', (name) => {
    checkMisc(unpickle(fixture(name), { source: name }));
  });

  it('refuses the _codecs.encode global that Python 3 uses for bytes in protocol 2, unless allowed', () => {
    const err = thrown(() => unpickle(fixture('misc_p2.pkl'), { source: 'misc_p2.pkl' }));
    expect(err.refusedGlobal).toBe('_codecs.encode');
    const value = unpickle(fixture('misc_p2.pkl'), {
      source: 'misc_p2.pkl',
      globals: {
        '_codecs.encode': (text: unknown, encoding: unknown) => {
          expect(encoding).toBe('latin1');
          return Uint8Array.from(String(text), (c) => c.charCodeAt(0));
        },
      },
    });
    checkMisc(value);
  });

  it('reads Python 2 strings (STRING, BINSTRING, SHORT_BINSTRING) and protocol 0 text opcodes', () => {
    // Python 2: pickle.dumps(('a\n\'b', 7, True, 1.5, 12345678901234567890L), 0)
    const p0 = Buffer.from("(S'a\\n\\'b'\np0\nI7\nI01\nF1.5\nL12345678901234567890L\ntp1\n.", 'latin1');
    expect(unpickle(p0, { source: 'p0' })).toEqual(["a\n'b", 7, true, 1.5, 12345678901234567890n]);
    // protocol 2: (SHORT_BINSTRING 'abc', BINSTRING 'de')
    const p2 = Uint8Array.from([0x80, 2, 0x55, 3, 97, 98, 99, 0x54, 2, 0, 0, 0, 100, 101, 0x86, 0x2e]);
    expect(unpickle(p2, { source: 'p2' })).toEqual(['abc', 'de']);
    expect(unpickle(p2, { source: 'p2', py2Strings: 'bytes' })).toEqual([Uint8Array.from([97, 98, 99]), Uint8Array.from([100, 101])]);
  });

  it('applies BUILD state to handler objects (the _metadata of a state_dict OrderedDict)', () => {
    const data = pickle(
      new PyReduce(new PyGlobal('collections', 'OrderedDict'), tuple(), {
        dictItems: [['w', 1]],
        state: new Map([['_metadata', new Map([['', new Map([['version', 1]])]])]]),
      }),
    );
    const value = unpickle(data, { source: 'od', globals: { 'collections.OrderedDict': () => new Map() } }) as Map<string, unknown>;
    expect([...value]).toEqual([['w', 1]]);
    expect((getBuildState(value) as Map<string, unknown>).get('_metadata')).toEqual(new Map([['', new Map([['version', 1]])]]));
  });
});

describe('unpickle: safety', () => {
  it('rejects os.system without executing it, naming the global, opcode, offset and file', () => {
    const called = jest.fn();
    const err = thrown(() =>
      unpickle(fixture('evil_os_system.pkl'), {
        source: 'evil_os_system.pkl',
        globals: { 'collections.OrderedDict': called },
      }),
    );
    expect(err).toBeInstanceOf(NRNMError);
    expect(err.code).toBe('ERR_FORMAT');
    expect(err.refusedGlobal).toBe('posix.system');
    expect(err.message).toContain("evil_os_system.pkl: the pickle refers to the Python global 'posix.system'");
    expect(err.message).toMatch(/opcode GLOBAL at byte \d+/);
    expect(err.message).toContain('nothing was executed');
    expect(err.file).toBe('evil_os_system.pkl');
    expect(typeof err.offset).toBe('number');
    expect(called).not.toHaveBeenCalled();
  });

  it('only trusts own properties of the allow-list', () => {
    const spy = jest.fn();
    const inherited = Object.create({ 'posix.system': spy }) as Record<string, () => unknown>;
    expect(() => unpickle(fixture('evil_os_system.pkl'), { source: 'x', globals: inherited })).toThrow(/posix\.system/);
    expect(spy).not.toHaveBeenCalled();
  });

  it('rejects persistent ids when no persistentLoad is given', () => {
    const data = Uint8Array.from([0x80, 2, 0x4b, 1, 0x51, 0x2e]); // BININT1 1, BINPERSID, STOP
    expect(() => unpickle(data, { source: 'p' })).toThrow(/persistent id/);
  });

  it('fails cleanly on every truncation of a pickle', () => {
    const data = fixture('misc_p4.pkl');
    for (let n = 0; n < data.length; n++) {
      const err = thrown(() => unpickle(data.subarray(0, n), { source: 'cut.pkl' }));
      expect(err.code).toBe('ERR_FORMAT');
      expect(err.message.startsWith('cut.pkl: ')).toBe(true);
    }
  });

  it('never throws anything but SerializationError on corrupted pickles', () => {
    const next = mulberry32(42);
    const originals = [fixture('misc_p4.pkl'), fixture('ntu_label_p2.pkl'), fixture('evil_os_system.pkl')];
    for (let i = 0; i < 3000; i++) {
      const data = originals[i % originals.length]!.slice();
      const flips = 1 + Math.floor(next() * 4);
      for (let f = 0; f < flips; f++) data[Math.floor(next() * data.length)] = Math.floor(next() * 256);
      try {
        unpickle(data, { source: 'fuzz.pkl', globals: {} });
      } catch (err) {
        if (!(err instanceof SerializationError)) throw err;
      }
    }
  });

  it('refuses unknown opcodes and protocols above 5', () => {
    expect(() => unpickle(Uint8Array.from([0x80, 6, 0x4e, 0x2e]), { source: 's' })).toThrow(/protocol 6/);
    expect(() => unpickle(Uint8Array.from([0xff]), { source: 's' })).toThrow(/unknown opcode 0xff at byte 0/);
  });
});

describe('pickle', () => {
  it('round-trips Python-like values through unpickle', () => {
    const value = new Map<unknown, unknown>([
      ['list', [1, -1, 300, 70000, -70000, 2 ** 40, -(2 ** 53 - 1), 2n ** 64n, -(2n ** 64n) - 1n, 0.5, -0]],
      ['tuple', tuple('a', tuple(), tuple(1), tuple(1, 2), tuple(1, 2, 3), tuple(1, 2, 3, 4))],
      ['strings', ['', 'é', '\u{1F600}', 'x'.repeat(300)]],
      ['flags', [true, false, null]],
      [3, new Map([['nested', []]])],
      ['long', Array.from({ length: 2500 }, (_, i) => i)],
    ]);
    const back = unpickle(pickle(value), { source: 'rt' });
    expect(back).toEqual(value);
    const tup = (back as Map<string, unknown>).get('tuple') as readonly unknown[];
    expect(isTuple(tup) && tup.slice(1).every(isTuple)).toBe(true);
    expect(isTuple((back as Map<string, unknown>).get('list'))).toBe(false);
  });

  it('writes the NTU label layout (tuple of two lists) that Python reads', () => {
    const names = ['S001C001P001R001A001', 'S001C001P001R001A002'];
    const data = pickle(tuple(names, [0, 1]));
    expect(unpickle(data, { source: 'labels' })).toEqual([names, [0, 1]]);
    // Protocol 2 header, EMPTY_LIST then BINPUT 0, as CPython writes it.
    expect([...data.subarray(0, 5)]).toEqual([0x80, 2, 0x5d, 0x71, 0]);
  });

  it('memoizes shared objects, strings and globals', () => {
    const shared = [1, 2];
    const back = unpickle(pickle([shared, shared, 'abc', 'abc']), { source: 'memo' }) as unknown[];
    expect(back[0]).toBe(back[1]);
    const g = new PyGlobal('collections', 'OrderedDict');
    const data = pickle([new PyReduce(g, tuple()), new PyReduce(g, tuple())]);
    expect(Buffer.from(data).toString('latin1').split('collections\nOrderedDict').length).toBe(2);
  });

  it('writes bytes with protocol 3 only', () => {
    const b = Uint8Array.from([1, 2, 3]);
    expect(unpickle(pickle(b, { protocol: 3 }), { source: 'b' })).toEqual(b);
    expect(() => pickle(b)).toThrow(/protocol 3/);
  });

  it('refuses values with no Python equivalent, saying where', () => {
    for (const bad of [undefined, { a: 1 }, () => 1, new Float32Array(2), Symbol('s')]) {
      const err = thrown(() => pickle(new Map([['k', [bad]]])));
      expect(err.code).toBe('ERR_ARG');
      expect(err.message).toContain('$["k"][0]');
    }
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    expect(unpickle(pickle(cyclic), { source: 'c' })).toEqual(expect.any(Array)); // lists may contain themselves
  });
});
