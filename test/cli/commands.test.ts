/**
 * The command line end to end, as a user runs it: train (Fashion-MNIST,
 * a generated NTU folder, raw skeletons), the run directory, resume,
 * Ctrl-C, eval, predict (also from an official-format .pt), preprocess,
 * and the usage errors. Small models and --limit/--max-steps keep each
 * run to a second or two.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NRNMClassifier } from '../../src';
import { readNpy, writeLabelPkl, writeNpy } from '../../src/data';
import { fashionMnistDirs } from '../../src/data/fashion-mnist';
import { CONTROL, cli, cliInterrupted, ensureBuilt, expectSucceeded } from './run-cli';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { generate } = require('../../scripts/fixtures/gen-ntu-skeletons.js') as typeof import('../../scripts/fixtures/gen-ntu-skeletons');

const haveFashion = fashionMnistDirs().some(
  (d) => fs.existsSync(path.join(d, 't10k-labels-idx1-ubyte.gz')) || fs.existsSync(path.join(d, 't10k-labels-idx1-ubyte')),
);
const fashionIt = haveFashion ? it : it.skip;
if (!haveFashion) console.warn(`Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): skipping the Fashion-MNIST CLI runs`);

const SMALL = ['--hidden', '16', '--device', 'cpu'];
let tmp: string;

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function readMetrics(dir: string): Array<Record<string, unknown>> {
  return jsonLines(fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8'));
}

function expectSvg(file: string, text: RegExp): void {
  const svg = fs.readFileSync(file, 'utf8');
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  expect(svg).toMatch(text);
}

beforeAll(() => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-cli-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('usage errors exit 2 with a message naming the flag and its allowed values', () => {
  it.each([
    [['train', '--hidden', '0'], /option '--hidden <n>' argument '0' is invalid\. Expected a positive integer/],
    [['train', '--device', 'gpu'], /'--device <device>' argument 'gpu' is invalid\. Allowed values are auto, cpu, cuda and cuda:N/],
    [['train', '--dataset', 'mnist'], /Allowed choices are fashion-mnist, ntu, ntu-preprocessed, npy/],
    [['train', '--hiden', '8'], /unknown option '--hiden'\s+\(Did you mean --hidden\?\)/],
    [['train', '--zoneout', '1.5'], /--zoneout <p>.*Expected a probability in \[0, 1\)/],
    [['train', '--data_mode', 'XY'], /--data_mode <mode>.*Allowed choices are cs, cv/],
    [['train', '--cell_type', 'LSTM'], /Only ORG_MEMO/],
    [['train', '--precision', 'fp16'], /Allowed choices are fp32, tf32, bf16/],
    [['eval'], /required option '--checkpoint <file>' not specified/],
    [['predict', '--checkpoint', 'x.nrnm'], /required option '--input <x.npy>' not specified/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ])('%j', (args, message) => {
    const r = cli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  fashionIt('checks combinations after reading the data, naming flags', () => {
    const r = cli(['train', '--limit', '8', '--block-length', '4', '--stride', '3', ...SMALL, '--out', path.join(tmp, 'never')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--stride must divide --block-length \(got 4 and 3\)/);
    const bf16 = cli(['train', '--limit', '8', '--precision', 'bf16', ...SMALL, '--out', path.join(tmp, 'never2')]);
    expect(bf16.code).toBe(2);
    expect(bf16.stderr).toMatch(/--precision 'bf16' needs a CUDA device/);
  });

  it('says where it looked for missing data and how to get it, without a stack trace', () => {
    const empty = fs.mkdtempSync(path.join(tmp, 'empty-'));
    const ntu = cli(['train', '--dataset', 'ntu', '--data', empty, '--out', path.join(tmp, 'n1')]);
    expect(ntu.code).toBe(1);
    expect(ntu.stderr).toContain(empty);
    expect(ntu.stderr).toContain('https://rose1.ntu.edu.sg/dataset/actionRecognition/');
    const fashion = cli(['train', '--data', empty, '--out', path.join(tmp, 'n2')]);
    expect(fashion.code).toBe(1);
    expect(fashion.stderr).toContain(empty);
    expect(fashion.stderr).toContain('dataset-fashion-mnist');
    for (const r of [ntu, fashion]) expect(r.stderr).not.toMatch(/\n\s+at /);
    const verbose = cli(['train', '--data', empty, '--out', path.join(tmp, 'n3'), '--verbose']);
    expect(verbose.stderr).toMatch(/\n\s+at /);
  });

  it('documents the defaults in --help', () => {
    const r = cli(['train', '--help']);
    expectSucceeded(r);
    expect(r.stdout).toMatch(/fashion-mnist \(the default[\s\S]*--hidden 128/);
    expect(r.stdout).toMatch(/ntu, ntu-preprocessed[\s\S]*--hidden 512 --layers 2[\s\S]*--lr 0\.001 --weight-decay 0\.0001/);
  });
});

describe('train on Fashion-MNIST, then resume, eval and predict', () => {
  let run: string;

  fashionIt('writes a complete run directory; non-TTY output has no control characters', () => {
    run = path.join(tmp, 'fashion');
    // 96 sequences in batches of 32: epoch 1 (3 steps, evaluated, best.nrnm), then 1 step of epoch 2.
    const r = cli(['train', '--limit', '96', '--batch-size', '32', '--epochs', '3', '--max-steps', '4', ...SMALL, '--out', run]);
    expect(r.stderr).not.toMatch(/error/i);
    expectSucceeded(r);
    expect(r.stdout + r.stderr).not.toMatch(CONTROL);
    expect(r.stdout).toMatch(/epoch 1\/3: train loss \d\.\d+ acc [\d.]+%, eval loss/);
    expect(r.stdout).toMatch(/per-class accuracy:[\s\S]*Ankle boot/);
    expect(r.stdout).toMatch(/done: 4 steps/);

    for (const f of ['config.json', 'metrics.jsonl', 'last.nrnm', 'best.nrnm', 'curves.svg', 'confusion.svg', 'eval.json']) {
      expect(fs.existsSync(path.join(run, f))).toBe(true);
    }
    const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
    expect(config.command).toEqual(expect.arrayContaining(['train', '--limit', '96']));
    expect(config.data).toMatchObject({ dataset: 'fashion-mnist', limit: 96 });
    expect(config.model).toMatchObject({ inputSize: 28, classes: 10, hiddenSize: 16, layers: 1, inputAggregation: 'strided', seed: 0 });
    expect(config.trainer).toMatchObject({ lr: 0.002, weightDecay: 0, clip: 5 });
    expect(config.fit).toMatchObject({ epochs: 3, batchSize: 32, maxSteps: 4 });
    expect(config.versions.libtorch).toMatch(/^\d+\.\d+/);
    expect(config.device).toBe('cpu');

    const metrics = readMetrics(run);
    expect(metrics.filter((m) => m.type === 'step').map((m) => m.step)).toEqual([1, 2, 3, 4]);
    const epoch = metrics.find((m) => m.type === 'epoch') as { eval: { accuracy: number }; train: { loss: number } };
    expect(epoch.eval.accuracy).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(epoch.train.loss)).toBe(true);

    const evaluation = JSON.parse(fs.readFileSync(path.join(run, 'eval.json'), 'utf8'));
    expect(evaluation.total).toBe(96);
    expect(evaluation.perClass).toHaveLength(10);
    expect(evaluation.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(96);
    expectSvg(path.join(run, 'curves.svg'), /Loss \(cross-entropy\)[\s\S]*Accuracy/);
    expectSvg(path.join(run, 'confusion.svg'), /Ankle boot/);
  });

  fashionIt('--resume continues from last.nrnm with --json lines on stdout', () => {
    const r = cli(['train', '--resume', run, '--max-steps', '6', '--json', '--device', 'cpu']);
    expectSucceeded(r);
    const events = jsonLines(r.stdout);
    expect(events[0]!.event).toBe('start');
    expect(events.filter((e) => e.event === 'step').map((e) => e.step)).toEqual([5, 6]);
    expect(events[events.length - 1]).toMatchObject({ event: 'done', stopped: 'max-steps', steps: 6 });
    expect(
      readMetrics(run)
        .filter((m) => m.type === 'step')
        .map((m) => m.step),
    ).toEqual([1, 2, 3, 4, 5, 6]);
    const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
    expect(config.resumes).toHaveLength(1);
    expect(config.resumes[0].from).toMatchObject({ epoch: 1, batch: 1, step: 4 });

    const fixed = cli(['train', '--resume', run, '--hidden', '32']);
    expect(fixed.code).toBe(2);
    expect(fixed.stderr).toMatch(/--hidden 32 differs from the run's 16/);
  });

  fashionIt('eval reports accuracy, per-class accuracy and the confusion matrix', () => {
    const out = path.join(tmp, 'eval-out');
    const r = cli(['eval', '--checkpoint', path.join(run, 'best.nrnm'), '--limit', '50', '--json', '--device', 'cpu', '--out', out]);
    expectSucceeded(r);
    const [result] = jsonLines(r.stdout) as Array<{ accuracy: number; total: number; perClass: unknown[]; confusion: number[][]; data: { dataset: string } }>;
    expect(result!.total).toBe(50);
    expect(result!.data.dataset).toBe('fashion-mnist');
    expect(result!.perClass).toHaveLength(10);
    expect(result!.confusion).toHaveLength(10);
    expectSvg(path.join(out, 'confusion.svg'), /T-shirt\/top/);
    const text = cli(['eval', '--checkpoint', path.join(run, 'last.nrnm'), '--limit', '20', '--part', 'train', '--device', 'cpu', '--out', out]);
    expectSucceeded(text);
    expect(text.stdout).toMatch(/fashion-mnist\/train\[:20\]: accuracy [\d.]+% \(\d+\/20\), loss/);
    expect(text.stdout).toMatch(/confusion matrix \(rows: true class/);
  });

  fashionIt('predict writes logits, from the .nrnm and from an official-format .pt', async () => {
    const x = new Float32Array(5 * 28 * 28).map((_, i) => (i % 97) / 97);
    const input = path.join(tmp, 'x.npy');
    writeNpy(input, x, [5, 28, 28]);
    const output = path.join(tmp, 'logits.npy');
    const r = cli(['predict', '--checkpoint', path.join(run, 'last.nrnm'), '--input', input, '--output', output, '--device', 'cpu']);
    expectSucceeded(r);
    expect(r.stdout).toMatch(/wrote logits \(5, 10\) float32/);
    const logits = readNpy(output);
    expect(logits.dtype).toBe('float32');
    expect(logits.shape).toEqual([5, 10]);

    // One sequence (T, F) gives one row: the first of the batch above.
    const one = path.join(tmp, 'x1.npy');
    writeNpy(one, x.slice(0, 28 * 28), [28, 28]);
    const r1 = cli(['predict', '--checkpoint', path.join(run, 'last.nrnm'), '--input', one, '--output', path.join(tmp, 'l1.npy'), '--device', 'cpu', '--json']);
    expectSucceeded(r1);
    expect(JSON.parse(r1.stdout)).toMatchObject({ event: 'prediction', shape: [1, 10] });
    const row = Array.from(readNpy(path.join(tmp, 'l1.npy')).data as Float32Array);
    Array.from(logits.data as Float32Array)
      .slice(0, 10)
      .forEach((v, i) => expect(row[i]).toBeCloseTo(v, 5));

    const model = await NRNMClassifier.load(path.join(run, 'last.nrnm'), { device: 'cpu' });
    const pt = path.join(tmp, 'official.pt');
    await model.savePyTorch(pt);
    model.dispose();
    // Sizes come from the tensors; the variant (head, aggregation, ...) from the flags.
    const output2 = path.join(tmp, 'logits-pt.npy');
    const r2 = cli(['predict', '--checkpoint', pt, '--variant', 'clean', '--input', input, '--output', output2, '--device', 'cpu']);
    expect(r2.stderr).toBe('');
    expectSucceeded(r2);
    expect(Array.from(readNpy(output2).data as Float32Array)).toEqual(Array.from(logits.data as Float32Array));
  });
});

fashionIt('Ctrl-C finishes the step, writes last.nrnm and exits 130', async () => {
  const run = path.join(tmp, 'interrupted');
  const r = await cliInterrupted(['train', '--limit', '4000', '--batch-size', '8', ...SMALL, '--json', '--out', run], /"event":"step"/);
  expect(r.signalled).toBe(true);
  expect(r.code).toBe(130);
  expect(r.stderr).toMatch(/SIGINT: finishing the current step, then writing last\.nrnm/);
  expect(fs.existsSync(path.join(run, 'last.nrnm'))).toBe(true);
  const done = jsonLines(r.stdout).pop();
  expect(done).toMatchObject({ event: 'done', stopped: 'aborted' });
});

describe('NTU RGB+D', () => {
  function writeSplit(dir: string, part: 'train' | 'val', n: number, seed: number): void {
    const x = new Float32Array(n * 100 * 150);
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.001 + seed);
    const labels = Array.from({ length: n }, (_, i) => (i * 7 + seed) % 60);
    fs.mkdirSync(dir, { recursive: true });
    writeNpy(path.join(dir, `${part}_data_joint.npy`), x, [n, 100, 150]);
    writeLabelPkl(
      path.join(dir, `${part}_label.pkl`),
      labels.map((_, i) => `S001C001P001R001A${String(i + 1).padStart(3, '0')}.skeleton`),
      labels,
    );
  }

  it("trains on a preprocessed folder with the official script's flags", () => {
    const data = path.join(tmp, 'ntu-pre');
    writeSplit(path.join(data, 'xview'), 'train', 8, 1);
    writeSplit(path.join(data, 'xview'), 'val', 4, 2);
    const cwd = fs.mkdtempSync(path.join(tmp, 'cwd-'));
    const r = cli(
      [
        'train',
        '--nlayers=1',
        '--data_mode=CV',
        '--lr=0.001',
        '--cell_type=ORG_MEMO',
        '--nhid=16',
        '--sb=cv_MEMO_16_1layer',
        '--data',
        data,
        '--batch-size',
        '4',
        '--max-steps',
        '3',
        '--device',
        'cpu',
      ],
      { cwd },
    );
    expect(r.stderr).not.toMatch(/error/i);
    expectSucceeded(r);
    const run = path.join(cwd, 'runs', 'cv_MEMO_16_1layer');
    const config = JSON.parse(fs.readFileSync(path.join(run, 'config.json'), 'utf8'));
    expect(config.data).toMatchObject({ dataset: 'ntu', split: 'cv' });
    expect(config.model).toMatchObject({
      inputSize: 150,
      classes: 60,
      hiddenSize: 16,
      layers: 1,
      inputAggregation: 'dilated',
      init: 'official',
      head: 'linear-elu',
    });
    expect(config.trainer).toMatchObject({ lr: 0.001, weightDecay: 0.0001, scheduler: 'step', stepSize: 600, gamma: 0.1 });
    expect(config.fit).toMatchObject({ batchSize: 4, evalEvery: 5 });
    expect(readMetrics(run).filter((m) => m.type === 'step')).toHaveLength(3);
    expectSvg(path.join(run, 'confusion.svg'), /A001 drink water/);

    const pre = cli(['train', '--dataset', 'ntu-preprocessed', '--data', data, '--split', 'cs', '--out', path.join(tmp, 'x'), ...SMALL]);
    expect(pre.code).toBe(1);
    expect(pre.stderr).toMatch(/xsub\/train_data_joint\.npy/);
  });

  it('preprocesses raw skeletons (preprocess, and train --dataset ntu on first use)', () => {
    const raw = path.join(tmp, 'raw');
    generate({ out: raw, count: 12, seed: 3 });
    const out = path.join(tmp, 'ntu-out');
    const r = cli(['preprocess', '--raw', raw, '--out', out, '--workers', '0']);
    expectSucceeded(r);
    expect(r.stdout + r.stderr).not.toMatch(CONTROL);
    expect(r.stdout).toMatch(/preprocessed 12 samples/);
    expect(fs.existsSync(path.join(out, 'xsub', 'train_data_joint.npy'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'xview', 'val_label.pkl'))).toBe(true);

    const run = path.join(tmp, 'ntu-raw-run');
    const t = cli([
      'train',
      '--dataset',
      'ntu',
      '--data',
      raw,
      '--split',
      'cv',
      '--max-steps',
      '1',
      '--batch-size',
      '4',
      '--layers',
      '1',
      '--out',
      run,
      '--no-final-eval',
      ...SMALL,
    ]);
    expectSucceeded(t);
    expect(t.stdout).toMatch(/preprocessing 12 NTU RGB\+D skeleton files/);
    expect(fs.existsSync(path.join(`${raw}-preprocessed`, 'xview', 'train_data_joint.npy'))).toBe(true);

    // --unpadded: the clips' own lengths, kept in config.json for --resume.
    const unpaddedRun = path.join(tmp, 'ntu-unpadded-run');
    const u = cli([
      'train',
      '--dataset',
      'ntu',
      '--data',
      raw,
      '--split',
      'cv',
      '--unpadded',
      '--max-steps',
      '1',
      '--batch-size',
      '4',
      '--layers',
      '1',
      '--out',
      unpaddedRun,
      '--no-final-eval',
      ...SMALL,
    ]);
    expect(u.stderr).not.toMatch(/error/i);
    expectSucceeded(u);
    expect(JSON.parse(fs.readFileSync(path.join(unpaddedRun, 'config.json'), 'utf8')).data).toMatchObject({ dataset: 'ntu', split: 'cv', unpadded: true });
    const wrong = cli(['train', '--unpadded', '--out', path.join(tmp, 'fm-unpadded'), ...SMALL]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/--unpadded applies to --dataset ntu/);
  });
});
