/**
 * Writes that cannot lose data (src/io/atomic-write.ts), on a real small
 * filesystem: a tmpfs mounted by the test when it runs as root, filled up
 * so that the next write fails with ENOSPC.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NRNMClassifier, Tensor, Trainer } from '../../src';
import { writeNpy } from '../../src/data';
import { appendFileChecked, writeFileAtomic, writeFileAtomicSync } from '../../src/io/atomic-write';
import { syntheticTask } from '../helpers/synthetic';
import { cli, ensureBuilt } from '../cli/run-cli';

const small = { inputSize: 4, classes: 3, hiddenSize: 8, layers: 1, device: 'cpu', seed: 1 } as const;

function tempFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.tmp') || n.includes('.tmp-') || n.endsWith('.partial'));
}

async function logitsOf(model: NRNMClassifier): Promise<number[]> {
  const { x, shape } = syntheticTask(3, 10, 4, 2);
  return Array.from((await model.eval().predict(Tensor.from(x, shape))).toArray() as Float32Array);
}

describe('atomic writes', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-atomic-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('write and replace whole files and leave no temporary file', async () => {
    const file = path.join(dir, 'a.json');
    await writeFileAtomic(file, '{"a":1}');
    writeFileAtomicSync(file, [Buffer.from('{"a":'), Buffer.from('2}')]);
    expect(fs.readFileSync(file, 'utf8')).toBe('{"a":2}');
    expect(tempFiles(dir)).toEqual([]);
  });

  it('name the path and the OS error, keep the old file and remove the temporary one', async () => {
    const target = path.join(dir, 'is-a-folder');
    fs.mkdirSync(target);
    await expect(writeFileAtomic(target, 'x')).rejects.toMatchObject({
      code: 'ERR_IO',
      message: expect.stringMatching(new RegExp(`^Cannot write ${target}: EISDIR`)),
    });
    expect(() => writeFileAtomicSync(path.join(dir, 'missing', 'x.json'), 'x')).toThrow(/Cannot write .*missing\/x\.json: ENOENT: no such file or directory/);
    expect(tempFiles(dir)).toEqual([]);
  });
});

// A real small filesystem needs root (mount); elsewhere these are skipped with the reason printed.
let mnt: string | undefined;
let whyNot = '';
if (process.getuid?.() !== 0) whyNot = 'not running as root, so no tmpfs can be mounted';
else {
  const point = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', point], { stdio: 'pipe' });
    mnt = point;
  } catch (err) {
    whyNot = `mount -t tmpfs failed (${String((err as { stderr?: Buffer }).stderr ?? err).trim()})`;
    fs.rmdirSync(point);
  }
}
if (!mnt) console.warn(`disk-full tests skipped: ${whyNot}`);
const onTmpfs = mnt ? describe : describe.skip;

/** Fills the filesystem of `dir` up to the last byte; returns the filler's path. */
function fillUp(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'a');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  }
  try {
    for (;;) fs.writeSync(fd, chunk, 0, 1); // the last partial page
  } catch {
    // full
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

onTmpfs('on a full disk (a 1 MiB tmpfs)', () => {
  const root = mnt!;
  afterAll(() => {
    execFileSync('umount', [root]);
    fs.rmdirSync(root);
  });
  afterEach(() => {
    for (const name of fs.readdirSync(root)) fs.rmSync(path.join(root, name), { recursive: true, force: true });
  });

  it('model.save and trainer.save fail naming the path and ENOSPC; the previous checkpoint stays loadable', async () => {
    const good = new NRNMClassifier(small);
    const file = path.join(root, 'last.nrnm');
    await good.save(file);
    const before = fs.readFileSync(file);
    const filler = fillUp(root);

    const other = new NRNMClassifier({ ...small, seed: 2 });
    await expect(other.save(file)).rejects.toMatchObject({
      code: 'ERR_IO',
      message: expect.stringMatching(new RegExp(`^Cannot write ${file}: ENOSPC: no space left on device`)),
    });
    const trainer = new Trainer(other, {});
    await expect(trainer.save(file)).rejects.toMatchObject({ code: 'ERR_IO', message: expect.stringContaining(file) });
    expect(() => writeFileAtomicSync(path.join(root, 'config.json'), 'x'.repeat(10000))).toThrow(/ENOSPC/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(tempFiles(root)).toEqual([]);
    const back = await NRNMClassifier.load(file, { device: 'cpu' });
    expect(await logitsOf(back)).toEqual(await logitsOf(good));

    fs.rmSync(filler); // space again: the next save goes through
    await other.save(file);
    expect(await logitsOf(await NRNMClassifier.load(file))).toEqual(await logitsOf(other));
    for (const m of [good, other, back]) m.dispose();
    trainer.dispose();
  });

  it('a failed append leaves the log as it was', () => {
    const log = path.join(root, 'metrics.jsonl');
    appendFileChecked(log, '{"step":1}\n');
    fillUp(root);
    expect(() => appendFileChecked(log, `${'x'.repeat(100000)}\n`)).toThrow(new RegExp(`Cannot append to ${log}: ENOSPC`));
    expect(fs.readFileSync(log, 'utf8')).toBe('{"step":1}\n');
  });

  it('train --resume on a full disk exits non-zero naming the path; last.nrnm and config.json are untouched', () => {
    ensureBuilt();
    const data = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-full-data-'));
    try {
      const { x } = syntheticTask(8, 10, 4, 5);
      writeNpy(path.join(data, 'train_x.npy'), x, [8, 10, 4]);
      writeNpy(
        path.join(data, 'train_y.npy'),
        Int32Array.from({ length: 8 }, (_, i) => i % 3),
        [8],
      );
      const run = path.join(root, 'run');
      const first = cli([
        'train',
        '--dataset',
        'npy',
        '--data',
        data,
        '--out',
        run,
        '--epochs',
        '1',
        '--batch-size',
        '4',
        '--hidden',
        '8',
        '--layers',
        '1',
        '--device',
        'cpu',
      ]);
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      const last = fs.readFileSync(path.join(run, 'last.nrnm'));
      const config = fs.readFileSync(path.join(run, 'config.json'));
      fillUp(root);
      const resumed = cli(['train', '--resume', run, '--epochs', '3']);
      expect(resumed.code).not.toBe(0);
      expect(resumed.stderr).toMatch(new RegExp(`Cannot (write|append to) ${run}/[\\w.]+: ENOSPC: no space left on device`));
      expect(resumed.stderr).not.toMatch(/\n\s+at /);
      expect(fs.readFileSync(path.join(run, 'last.nrnm')).equals(last)).toBe(true);
      expect(fs.readFileSync(path.join(run, 'config.json')).equals(config)).toBe(true);
      expect(tempFiles(run)).toEqual([]);
    } finally {
      fs.rmSync(data, { recursive: true, force: true });
    }
  });
});
