/**
 * `train --config`: an earlier run's config.json repeats the run exactly
 * (the same losses at every step), flags on the command line override the
 * file, and unknown keys or bad values are errors naming the key, the
 * nearest valid one, the file and its section. Small runs on the npy sample
 * (datasets/npy/sample, seconds on a CPU).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { cli, ensureBuilt, expectSucceeded, root } from './run-cli';

const SAMPLE = path.join(root, 'datasets', 'npy', 'sample');
const RUN = ['--dataset', 'npy', '--data', SAMPLE, '--hidden', '8', '--layers', '1', '--aggregation', 'strided', '--batch-size', '32', '--device', 'cpu'];

function steps(run: string): Array<{ step: number; loss: number; lr: number }> {
  return fs
    .readFileSync(path.join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; step: number; loss: number; lr: number })
    .filter((m) => m.type === 'step')
    .map(({ step, loss, lr }) => ({ step, loss, lr }));
}

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;

describe('train --config', () => {
  let tmp: string;
  let first: string;
  beforeAll(() => {
    ensureBuilt();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-config-'));
    first = path.join(tmp, 'first');
    // A relative --data: config.json records it as given, with the cwd that places it.
    const relative = RUN.map((a) => (a === SAMPLE ? path.relative(root, SAMPLE) : a));
    const r = cli([
      'train',
      ...relative,
      '--lr',
      '0.02',
      '--scheduler',
      'cosine',
      '--warmup',
      '2',
      '--seed',
      '3',
      '--epochs',
      '2',
      '--no-final-eval',
      '--quiet',
      '--out',
      first,
    ]);
    expectSucceeded(r);
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('repeats an earlier run exactly from its config.json, from another folder', () => {
    const again = path.join(tmp, 'again');
    // Another working directory: the file's cwd places its relative paths.
    expectSucceeded(cli(['train', '--config', path.join(first, 'config.json'), '--no-final-eval', '--quiet', '--out', again], { cwd: tmp }));
    expect(readJson(path.join(first, 'config.json'))['data']).toMatchObject({ data: path.join('datasets', 'npy', 'sample') });
    expect(steps(first)).toHaveLength(6); // 96 sequences, 3 steps an epoch
    expect(steps(again)).toEqual(steps(first));
    const a = readJson(path.join(first, 'config.json'));
    const b = readJson(path.join(again, 'config.json'));
    for (const section of ['model', 'trainer', 'fit'] as const) expect(b[section]).toEqual(a[section]);
    // The path, placed by the first run's cwd, is recorded resolved.
    expect(b['data']).toEqual({ ...a['data'], data: SAMPLE });
    expect(b['variant']).toEqual(a['variant']);
  });

  it('flags on the command line override the file', () => {
    const over = path.join(tmp, 'over');
    expectSucceeded(
      cli([
        'train',
        '--config',
        path.join(first, 'config.json'),
        '--epochs',
        '1',
        '--lr',
        '0.01',
        '--hidden',
        '12',
        '--no-final-eval',
        '--quiet',
        '--out',
        over,
      ]),
    );
    const c = readJson(path.join(over, 'config.json'));
    expect(c['fit']).toMatchObject({ epochs: 1, seed: 3, batchSize: 32 });
    expect(c['trainer']).toMatchObject({ lr: 0.01, scheduler: 'cosine', warmupSteps: 2, tMax: 2 });
    expect(c['model']).toMatchObject({ hiddenSize: 12, layers: 1, inputAggregation: 'strided' });
    expect(steps(over)).toHaveLength(3); // 96 sequences, 3 steps an epoch
  });

  it('a hand-written file: the sections it has, the rest from the defaults', () => {
    const file = path.join(tmp, 'small.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        data: { dataset: 'npy', data: SAMPLE },
        model: { hiddenSize: 8, layers: 1, inputAggregation: 'strided' },
        trainer: { scheduler: 'plateau', gamma: 0.5, patience: 0, monitor: 'loss' },
        fit: { epochs: 1, batchSize: 48 },
        device: 'cpu',
      }),
    );
    const run = path.join(tmp, 'small');
    expectSucceeded(cli(['train', '--config', file, '--no-final-eval', '--quiet', '--out', run]));
    const c = readJson(path.join(run, 'config.json'));
    expect(c['trainer']).toMatchObject({ scheduler: 'plateau', gamma: 0.5, patience: 0, monitor: 'loss', lr: 0.001 });
    expect(c['fit']).toMatchObject({ epochs: 1, batchSize: 48, seed: 0 });
    expect(steps(run)).toHaveLength(2);
  });

  it('unknown keys name the key and the nearest valid one; bad values name the file and section', () => {
    const write = (name: string, content: unknown) => {
      const file = path.join(tmp, name);
      fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
      return file;
    };
    const fails = (file: string, message: string | RegExp, code = 2) => {
      const r = cli(['train', '--config', file, '--out', path.join(tmp, 'never')]);
      expect(r.code).toBe(code);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    };
    fails(write('a.json', { trainer: { lrr: 0.1 } }), /Unknown key 'lrr' in .*a\.json "trainer"; did you mean 'lr'\?/);
    fails(write('b.json', { modle: {} }), /Unknown key 'modle' in .*b\.json; did you mean 'model'\?/);
    fails(write('c.json', { model: { hidden_size: 8 } }), /Unknown key 'hidden_size' in .*c\.json "model"; did you mean 'hiddenSize'\?/);
    // However far the key, the message names the nearest one.
    fails(write('d.json', { fit: { zzzzzzzz: 1 } }), /Unknown key 'zzzzzzzz' in .*d\.json "fit"; did you mean '\w+'\?/);
    fails(write('e.json', { fit: { epochs: 0 } }), /e\.json "fit": Expected epochs to be a positive integer but received 0/);
    fails(write('f.json', '{"fit": '), /f\.json is not valid JSON/, 1);
    fails(
      write('g.json', { data: { dataset: 'mnist' } }),
      /g\.json "data": Expected dataset to be one of 'fashion-mnist', 'ntu', 'ntu-preprocessed', 'npy' but received 'mnist'/,
    );
    // A value the API refuses: its flag's name, and the file it may come from.
    fails(
      write('h.json', { data: { dataset: 'npy', data: SAMPLE }, model: { hiddenSize: 10, heads: 4 } }),
      /--hidden.*\(the flags and .*h\.json "model"\/"trainer" set the options\)/,
    );
    const r = cli(['train', '--config', path.join(first, 'config.json'), '--resume', first]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--config starts a new run from a file; --resume continues a run/);
  });
});
