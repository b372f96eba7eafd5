/**
 * Every error from a file names the file and says what to do: directories,
 * missing files, crafted contents; no raw bytes of the file reach a message;
 * labels given as text are refused at the API boundary.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { NRNMError } from '../../src/errors';
import { fileError, quoted } from '../../src/file-errors';
import { prepareLabels } from '../../src/inputs';
import { NpyFile, parseSkeleton, readIdx, readLabelPkl, readLabels, readNpy, readSkeletonFile } from '../../src/data';
import { readStateDict, unpickle } from '../../src/serialization';
import { stored, zipOf } from '../helpers/crafted-files';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'nrnm-file-errors-'));
  mkdirSync(join(dir, 'a-directory'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const readers: Record<string, (file: string) => unknown> = {
  readStateDict,
  readNpy,
  'NpyFile.open': (f) => NpyFile.open(f).close(),
  'npy readLabels': readLabels,
  readIdx,
  readSkeletonFile,
  readLabelPkl,
};

async function failure(read: () => unknown): Promise<NRNMError> {
  try {
    await read();
  } catch (err) {
    expect(err).toBeInstanceOf(NRNMError);
    return err as NRNMError;
  }
  throw new Error('expected an error');
}

/** Printable ASCII only (no escape sequences, no bytes of the file). */
const PRINTABLE = /^[\x20-\x7e]*$/;

describe.each(Object.entries(readers))('%s', (_name, read) => {
  test('a directory: names it and says to give a file', async () => {
    const path = join(dir, 'a-directory');
    const err = await failure(() => read(path));
    expect(err.code).toBe('ERR_FORMAT');
    expect(err.message).toBe(`${path}: cannot read (is a directory; give the path of a file inside it).`);
  });

  test('a missing file: ERR_NOT_FOUND naming it', async () => {
    const path = join(dir, 'missing', 'file');
    const err = await failure(() => read(path));
    expect(err.code).toBe('ERR_NOT_FOUND');
    expect(err.message.startsWith(`${path}: `)).toBe(true);
  });
});

describe('crafted contents', () => {
  test('a pickle calling a global with 300,000 arguments: an error naming the file, not a stack overflow', async () => {
    const parts = [Buffer.from([0x80, 2, 0x28]), Buffer.from('cnumpy\ndtype\n')];
    for (let i = 0; i < 300_000; i++) parts.push(Buffer.from([0x4b, 1]));
    parts.push(Buffer.from([0x6f, 0x2e]));
    const path = join(dir, 'many-args.pkl');
    writeFileSync(path, Buffer.concat(parts));
    const err = await failure(() => readLabelPkl(path));
    expect(err.message).toBe(`${path}: OBJ passes 300000 arguments to numpy.dtype at byte 600016 of the pickle (opcode OBJ). The pickle is corrupt.`);
  });

  test('an error thrown by JavaScript itself (RangeError) while reading becomes an NRNMError naming the file', () => {
    const err = fileError('/data/x.pt', new RangeError('Invalid typed array length: 1000000000000'));
    expect(err).toBeInstanceOf(NRNMError);
    expect(err.code).toBe('ERR_FORMAT');
    expect(err.message).toBe(
      '/data/x.pt: cannot read: the file declares more than can be held in memory (Invalid typed array length: 1000000000000). The file is corrupt or not what it claims to be.',
    );
  });

  test('control characters and long text from a file are escaped and cut in messages', async () => {
    expect(quoted('\x1b[31mred\x07', 40)).toBe("'\\u001b[31mred\\u0007'");
    expect(quoted('x'.repeat(100), 10)).toBe("'xxxxxxxxxx...'");

    // a .npy whose dtype is an escape sequence
    const header = "{'descr': '\x1b[2J\x1b[31m', 'fortran_order': False, 'shape': (1,), }";
    const npy = Buffer.concat([
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length + 1, 0]),
      Buffer.from(header, 'latin1'),
      Buffer.from('\n'),
    ]);
    const npyPath = join(dir, 'escape.npy');
    writeFileSync(npyPath, npy);
    const e1 = await failure(() => readNpy(npyPath));
    expect(e1.message).toContain("unsupported dtype '\\u001b[2J\\u001b[31m'");
    expect(e1.message).toMatch(PRINTABLE);

    // a zip entry whose name is binary
    const pt = zipOf([stored('archive/data.pkl\x00\x1b[2J', Buffer.from([0x80, 2, 0x4e, 0x2e])), stored('archive/\xff\x1b]0;pwned\x07', new Uint8Array(4))]);
    const ptPath = join(dir, 'binary-names.pt');
    writeFileSync(ptPath, pt);
    const e2 = await failure(() => readStateDict(ptPath));
    expect(e2.message.startsWith(`${ptPath}: `)).toBe(true);
    expect(e2.message).toMatch(PRINTABLE);

    // a pickle naming a global made of escape sequences
    const evil = Buffer.concat([Buffer.from([0x80, 2, 0x63]), Buffer.from('os\x1b[2J\nsystem\x07\n'), Buffer.from([0x2e])]);
    const e3 = await failure(() => unpickle(evil, { source: 'evil.pkl' }));
    expect(e3.message).toContain("the Python global 'os\\u001b[2J.system\\u0007'");
    expect(e3.message).toMatch(PRINTABLE);

    // a .skeleton frame count that is binary
    const e4 = await failure(() => parseSkeleton(Buffer.from('\x1b[2J\x07\n'), 'bell.skeleton'));
    expect(e4.message).toBe("bell.skeleton: expected the frame count but found '\\u001b[2J\\u0007' at line 1, column 1.");
  });
});

describe('labels at the API boundary', () => {
  test('labels given as strings are refused (ERR_DTYPE) before anything reaches the native layer', () => {
    let err: NRNMError | undefined;
    try {
      prepareLabels(['1', '0'] as unknown as number[], 2, 3);
    } catch (e) {
      err = e as NRNMError;
    }
    expect(err).toBeInstanceOf(NRNMError);
    expect(err!.code).toBe('ERR_DTYPE');
    expect(err!.message).toBe("Expected labels[0] to be an integer class (a number) but received '1'; convert labels read as text with Number() first");
  });

  test('labels of a float typed array are refused', () => {
    expect(() => prepareLabels(Float32Array.of(1, 0) as unknown as number[], 2, 3)).toThrow(
      'Expected labels to be an Int32Array, BigInt64Array, number[] or Tensor but received Float32Array',
    );
  });
});
