/**
 * Crafted checkpoint headers (issue 26, classes 4 to 6): stored options are
 * checked against the stored tensors before anything is built, so memory
 * while refusing follows the file's size; NUL and invalid UTF-8 are refused
 * by the one reader both sides use; every refusal names the file in a short
 * message; the CLI asks the reader what a file is and exits 1 (a data
 * error), not 2, for a bad file; model flags that contradict an .nrnm are
 * refused.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NRNMClassifier, Trainer } from '../src';
import { writeNpy } from '../src/data';
import { ensureBuilt, cli } from './cli/run-cli';
import { peakRss } from './helpers/peak-rss';
import { parseSafetensors, safetensorsOf, withHeader } from './helpers/rewrite-checkpoint';

const small = { inputSize: 6, classes: 3, hiddenSize: 16, layers: 2, heads: 2, device: 'cpu', seed: 3 } as const;

/** Peak RSS a refusal may add over loading the genuine file: a few copies of the file plus noise. */
const RSS_ALLOWANCE = (fileSize: number): number => 4 * fileSize + (24 << 20);

describe('checkpoint headers', () => {
  let dir: string;
  let modelFile: string;
  let trainerFile: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-headers-'));
    const model = new NRNMClassifier(small);
    modelFile = path.join(dir, 'model.nrnm');
    await model.save(modelFile);
    const trainer = new Trainer(model, { lr: 0.01 });
    trainerFile = path.join(dir, 'trainer.nrnm');
    await trainer.save(trainerFile);
    trainer.dispose();
    model.dispose();
    ensureBuilt();
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function crafted(name: string, from: string, edit: (model: Record<string, unknown>) => void): string {
    const file = path.join(dir, name);
    fs.writeFileSync(
      file,
      withHeader(fs.readFileSync(from), (h) => edit(h['model'] as Record<string, unknown>)),
    );
    return file;
  }

  async function refusal(load: () => Promise<unknown>): Promise<{ code: string; message: string }> {
    const error = (await load().then(
      () => ({ code: 'none', message: 'it loaded' }),
      (e: unknown) => e,
    )) as { code: string; message: string };
    return error;
  }

  it('check the stored options against the stored shapes before building: memory follows the file, not the header', async () => {
    const big = crafted('hidden2000.nrnm', modelFile, (m) => (m['hiddenSize'] = 2000));
    const bigTrainer = crafted('hidden2000-trainer.nrnm', trainerFile, (m) => (m['hiddenSize'] = 2000));
    const size = fs.statSync(big).size;
    expect(size).toBeLessThan(200_000);
    for (const [read, file, genuine] of [
      ['loadCheckpointFile', big, modelFile],
      ['resumeCheckpointFile', bigTrainer, trainerFile],
    ] as const) {
      const baseline = peakRss('test/helpers/checkpoint-readers.ts', read, [genuine]);
      expect(baseline.error).toBeNull();
      const r = peakRss('test/helpers/checkpoint-readers.ts', read, [file]);
      expect(r.error).toMatchObject({ code: 'ERR_FORMAT', message: expect.stringContaining(file) });
      expect(r.error!.message).toMatch(/the options and the parameters stored in the file disagree/);
      expect(r.maxRss - baseline.maxRss).toBeLessThan(RSS_ALLOWANCE(size));
    }
  });

  it('refuse out-of-range stored options naming the file (ERR_FORMAT), and the CLI exits 1, not 2', async () => {
    const cases: [string, (m: Record<string, unknown>) => void, RegExp][] = [
      ['hidden1e9', (m) => (m['hiddenSize'] = 1e9), /disagree|too large/],
      ['heads0', (m) => (m['heads'] = 0), /heads must be a positive integer/],
      ['layers-1', (m) => (m['layers'] = -1), /layers must be a positive integer/],
      ['backbone', (m) => (m['backbone'] = 'transformer'), /backbone is not one of/],
      ['task', (m) => (m['task'] = 'dance'), /task is not one of/],
    ];
    const x = path.join(dir, 'x.npy');
    writeNpy(x, new Float32Array(2 * 4 * 6), [2, 4, 6]);
    for (const [name, edit, why] of cases) {
      const file = crafted(`${name}.nrnm`, modelFile, edit);
      const trainerCopy = crafted(`${name}-trainer.nrnm`, trainerFile, edit);
      for (const [load, which] of [
        [() => NRNMClassifier.load(file), file],
        [() => Trainer.resume(trainerCopy, { device: 'cpu' }), trainerCopy],
      ] as const) {
        const e = await refusal(load);
        expect(e.code).toBe('ERR_FORMAT');
        expect(e.message).toContain(which);
        expect(e.message).toMatch(why);
        expect(e.message.length).toBeLessThan(600);
      }
      const r = cli(['predict', '--checkpoint', file, '--input', x, '--output', path.join(dir, 'out.npy'), '--device', 'cpu']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(file);
      expect(r.stderr).toMatch(why);
    }
  });

  it('refuse NUL in any key or string and invalid UTF-8, in both readers, naming the file', async () => {
    const { header, data } = parseSafetensors(fs.readFileSync(modelFile));
    const metadata = header['__metadata__'] as Record<string, string>;
    const texts: [string, string | Buffer][] = [
      ['nul-key', JSON.stringify({ ...header, __metadata__: { ...metadata, 'nrnm.header\u0000x': '{"progress":{"epoch":9}}' } })],
      ['nul-value', JSON.stringify({ ...header, __metadata__: { ...metadata, note: 'a\u0000b' } })],
    ];
    const plain = JSON.stringify(header);
    const at = plain.indexOf('"format"');
    texts.push(['bad-utf8', Buffer.concat([Buffer.from(plain.slice(0, at + 1)), Buffer.from([0xff, 0xfe]), Buffer.from(plain.slice(at + 1))])]);
    for (const [name, text] of texts) {
      const file = path.join(dir, `${name}.nrnm`);
      fs.writeFileSync(file, safetensorsOf(text, data));
      for (const load of [() => NRNMClassifier.load(file), () => Trainer.resume(file, { device: 'cpu' })]) {
        const e = await refusal(load);
        expect(e.code).toBe('ERR_FORMAT');
        expect(e.message).toContain(file);
        expect(e.message).toMatch(/NUL|invalid UTF-8/);
      }
    }
  });

  it('keep every refusal short: a 10 MB tensor name is cut with a marker', async () => {
    const name = 'n'.repeat(10_000_000);
    const file = path.join(dir, 'long-name.nrnm');
    fs.writeFileSync(file, safetensorsOf(JSON.stringify({ [name]: { dtype: 'F32', shape: [3], data_offsets: [0, 4] } }), Buffer.alloc(4)));
    const e = await refusal(() => NRNMClassifier.load(file));
    expect(e.code).toBe('ERR_FORMAT');
    expect(e.message).toContain(file);
    expect(e.message).toContain('... (10000000 bytes)');
    expect(e.message.length).toBeLessThan(300 + file.length);
  });

  it('the CLI asks the reader what a file is: a header after a space and a header of exactly 1e8 bytes load as NRNMClassifier.load loads them', async () => {
    const bytes = fs.readFileSync(modelFile);
    const size = Number(bytes.readBigUInt64LE(0));
    const text = bytes.subarray(8, 8 + size).toString('utf8');
    const data = bytes.subarray(8 + size);
    const spaced = path.join(dir, 'spaced.nrnm');
    fs.writeFileSync(spaced, safetensorsOf(` ${text.trimEnd()}`, data));
    const huge = path.join(dir, 'header1e8.nrnm');
    fs.writeFileSync(huge, safetensorsOf(text.trimEnd().padEnd(100_000_000, ' '), data));
    const x = path.join(dir, 'x1.npy');
    writeNpy(x, new Float32Array(4 * 6), [1, 4, 6]);
    for (const file of [spaced, huge]) {
      (await NRNMClassifier.load(file, { device: 'cpu' })).dispose();
      const r = cli(['predict', '--checkpoint', file, '--input', x, '--output', path.join(dir, 'o.npy'), '--device', 'cpu', '--quiet']);
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    }
    fs.rmSync(huge);
  });

  it('eval and predict refuse a model flag that contradicts the loaded .nrnm, naming both values', () => {
    const x = path.join(dir, 'x2.npy');
    writeNpy(x, new Float32Array(4 * 6), [1, 4, 6]);
    for (const [flags, text] of [
      [['--task', 'regress-steps'], /--task regress-steps contradicts .*task "classify-sequence"/],
      [['--backbone', 'gru'], /--backbone gru contradicts .*backbone "lstm"/],
      [['--hidden', '32'], /--hidden 32 contradicts .*hiddenSize 16/],
    ] as const) {
      const predict = cli(['predict', '--checkpoint', modelFile, '--input', x, '--output', path.join(dir, 'o2.npy'), '--device', 'cpu', ...flags]);
      expect(predict.code).toBe(2);
      expect(predict.stderr).toMatch(text);
      expect(predict.stderr).toContain(modelFile);
    }
    const same = cli([
      'predict',
      '--checkpoint',
      modelFile,
      '--input',
      x,
      '--output',
      path.join(dir, 'o3.npy'),
      '--device',
      'cpu',
      '--hidden',
      '16',
      '--quiet',
    ]);
    expect({ code: same.code, stderr: same.stderr }).toEqual({ code: 0, stderr: '' });
    const ev = cli([
      'eval',
      '--checkpoint',
      modelFile,
      '--dataset',
      'npy',
      '--data',
      path.join(__dirname, '..', 'datasets', 'npy', 'sample'),
      '--device',
      'cpu',
      '--task',
      'classify-steps',
    ]);
    expect(ev.code).toBe(2);
    expect(ev.stderr).toMatch(/--task classify-steps contradicts .*task "classify-sequence"/);
  });
});
