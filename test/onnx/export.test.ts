/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/**
 * ONNX export against the addon: every backbone, attention kind and task
 * (both aggregations, two layers) exported by exportOnnx, run in
 * onnxruntime-node and compared with predict() in evaluation mode at two
 * batch sizes and two lengths (the time axis is dynamic), with and without
 * the `lengths` input; one file also checked by Python's onnx.checker and
 * run by Python's onnxruntime (.venv-clients, scripts/ci/python-clients.sh);
 * and what export refuses.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as ort from 'onnxruntime-node';

import { NRNMClassifier, NRNMError, Trainer, type Choice, type NRNMClassifierOptions } from '../../src';
import { checkExportable, onnxModelBytes } from '../../src/onnx/export';
import { ModelProto } from '../../src/onnx/schema';
import { mulberry32 } from '../helpers/mulberry32';
import { onnxFeeds } from '../helpers/onnx-feeds';

const root = path.resolve(__dirname, '..', '..');
const F = 5;
const C = 3;
const TOLERANCE = 1e-5;
const BACKBONES: Choice<'backbone'>[] = ['lstm', 'gru', 'rnn'];
const ATTENTIONS: Choice<'attention'>[] = ['self', 'linear'];
const TASKS: Choice<'task'>[] = ['classify-sequence', 'classify-steps', 'regress-steps'];
/** Dilated (k 10, s 5; updates at 10, 20, 30) and strided (k 6, s 2). */
const AGGREGATIONS = [
  { inputAggregation: 'dilated', blockLength: 10, stride: 5 },
  { inputAggregation: 'strided', blockLength: 6, stride: 2 },
] as const;
/** [batch, time]: two batch sizes, two lengths (one not a multiple of k), and one shorter than a block. */
const SHAPES: [number, number][] = [
  [1, 23],
  [3, 40],
  [3, 4],
];

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-onnx-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

function signal(n: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: n }, () => rand() * 4 - 2);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(b.length).toBe(a.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

/** Lengths in [1, T]: the first sequence full, the others shorter. */
function lengthsFor(B: number, T: number): Int32Array {
  return Int32Array.from({ length: B }, (_, i) => (i === 0 ? T : Math.max(1, T - 7 * i)));
}

/** x with NaN past each length: the exported graph must ignore it, as predict does. */
function poisoned(x: Float32Array, B: number, T: number, lengths: Int32Array): Float32Array {
  const out = x.slice();
  for (let b = 0; b < B; b++) out.fill(NaN, (b * T + lengths[b]!) * F, (b + 1) * T * F);
  return out;
}

async function run(session: ort.InferenceSession, x: Float32Array, B: number, T: number, lengths?: Int32Array): Promise<Float32Array> {
  const feeds = onnxFeeds(x, [B, T, F], lengths);
  const { logits } = await session.run(feeds);
  return logits!.data as Float32Array;
}

const figures: string[] = [];

afterAll(() => {
  if (figures.length > 0) console.info(`max |onnxruntime - predict| per model (B x T: no lengths / lengths):\n${figures.join('\n')}`);
});

describe('exported ONNX = predict (onnxruntime-node, CPU)', () => {
  for (const backbone of BACKBONES) {
    for (const attention of ATTENTIONS) {
      for (const task of TASKS) {
        it(`${backbone}, attention ${attention}, ${task}`, async () => {
          for (const [a, aggregation] of AGGREGATIONS.entries()) {
            const options: NRNMClassifierOptions = {
              inputSize: F,
              classes: C,
              hiddenSize: 8,
              heads: 2,
              layers: 2,
              backbone,
              attention,
              task,
              ...aggregation,
              init: a === 0 ? 'official' : 'standard',
              zoneout: a === 0 ? 0.2 : 0,
              device: 'cpu',
              seed: 11 + a,
            };
            const model = new NRNMClassifier(options);
            try {
              model.eval();
              const plain = await ort.InferenceSession.create(await model.toOnnx());
              const withLengths = await ort.InferenceSession.create(await model.toOnnx({ lengths: true }));
              const row: string[] = [];
              for (const [B, T] of SHAPES) {
                const x = signal(B * T * F, 100 * B + T);
                const want = (await model.predict({ data: x, shape: [B, T, F] })).toArray() as Float32Array;
                const d = maxAbsDiff(want, await run(plain, x, B, T));
                const lengths = lengthsFor(B, T);
                const wantL = (await model.predict({ data: x, shape: [B, T, F] }, lengths)).toArray() as Float32Array;
                const dL = maxAbsDiff(wantL, await run(withLengths, poisoned(x, B, T, lengths), B, T, lengths));
                expect(d).toBeLessThan(TOLERANCE);
                expect(dL).toBeLessThan(TOLERANCE);
                row.push(`${B}x${T}: ${d.toExponential(1)} / ${dL.toExponential(1)}`);
              }
              figures.push(`  ${backbone} ${attention} ${task} ${aggregation.inputAggregation}: ${row.join(', ')}`);
            } finally {
              model.dispose();
            }
          }
        });
      }
    }
  }

  it('a trained model (official options, 150 features: the linear1 aggregation) after a few steps', async () => {
    const model = new NRNMClassifier({ inputSize: 150, classes: 4, hiddenSize: 16, layers: 2, device: 'cpu', seed: 5 });
    const trainer = new Trainer(model, { lr: 0.01 });
    try {
      const [B, T] = [4, 30];
      const x = signal(B * T * 150, 7);
      for (let i = 0; i < 3; i++) await trainer.step({ data: x, shape: [B, T, 150] }, Int32Array.of(0, 1, 2, 3));
      model.eval();
      const file = path.join(tmp, 'trained.onnx');
      await model.exportOnnx(file);
      const session = await ort.InferenceSession.create(file);
      for (const b of [1, B]) {
        const xb = x.subarray(0, b * T * 150);
        const want = (await model.predict({ data: xb, shape: [b, T, 150] })).toArray() as Float32Array;
        const feeds = { x: new ort.Tensor('float32', xb, [b, T, 150]) };
        const got = (await session.run(feeds)).logits!.data as Float32Array;
        const d = maxAbsDiff(want, got);
        figures.push(`  trained lstm self classify-sequence dilated F=150: ${b}x${T}: ${d.toExponential(1)}`);
        expect(d).toBeLessThan(TOLERANCE);
      }
    } finally {
      trainer.dispose();
      model.dispose();
    }
  });
});

describe('the exported file', () => {
  it('is an opset-17 ModelProto with dynamic batch and time and the parameters as initializers', async () => {
    const model = new NRNMClassifier({ inputSize: F, classes: C, hiddenSize: 8, heads: 2, task: 'classify-steps', device: 'cpu' });
    try {
      const decoded = ModelProto.toObject(ModelProto.decode(await model.toOnnx({ lengths: true })), { longs: Number, defaults: true }) as {
        ir_version: number;
        opset_import: { domain: string; version: number }[];
        graph: {
          input: { name: string; type: { tensor_type: { shape: { dim: { dim_value: number; dim_param: string }[] } } } }[];
          output: { name: string }[];
          initializer: { name: string }[];
        };
      };
      expect(decoded.opset_import).toEqual([{ domain: '', version: 17 }]);
      expect(decoded.graph.input.map((i) => i.name)).toEqual(['x', 'lengths']);
      const dims = decoded.graph.input[0]!.type.tensor_type.shape.dim.map((d) => d.dim_param || d.dim_value);
      expect(dims).toEqual(['batch', 'time', F]);
      expect(decoded.graph.output.map((o) => o.name)).toEqual(['logits']);
      const names = new Set(decoded.graph.initializer.map((i) => i.name));
      for (const name of model.parameterNames()) expect(names.has(name) || names.has(`${name}^T`)).toBe(true);
    } finally {
      model.dispose();
    }
  });

  const python = [process.env['NRNM_CLIENTS_PYTHON'], path.join(root, '.venv-clients', 'bin', 'python')].find(
    (p): p is string => !!p && spawnSync(p, ['-c', 'import onnx, onnxruntime, numpy'], { stdio: 'ignore' }).status === 0,
  );
  if (!python) {
    console.warn(
      'No Python with onnx, onnxruntime and numpy in .venv-clients (bash scripts/ci/python-clients.sh makes it) or NRNM_CLIENTS_PYTHON: skipping the onnx.checker / Python onnxruntime check',
    );
  }
  (python ? it : it.skip)('passes onnx.checker (full check) and Python onnxruntime gives predict() too', async () => {
    const model = new NRNMClassifier({ inputSize: F, classes: C, hiddenSize: 8, heads: 2, backbone: 'gru', task: 'classify-steps', device: 'cpu', seed: 2 });
    try {
      model.eval();
      const file = path.join(tmp, 'python.onnx');
      await model.exportOnnx(file, { lengths: true });
      const [B, T] = [3, 27];
      const x = signal(B * T * F, 3);
      const lengths = lengthsFor(B, T);
      const request = {
        model: file,
        inputs: [
          { shape: [B, T, F], data: Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64'), lengths: Array.from(lengths) },
          { shape: [1, 12, F], data: Buffer.from(x.buffer, x.byteOffset, 12 * F * 4).toString('base64'), lengths: [12] },
        ],
      };
      const r = spawnSync(python!, [path.join(root, 'test', 'helpers', 'onnx-run.py')], { input: JSON.stringify(request), encoding: 'utf8' });
      expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
      const result = JSON.parse(r.stdout) as { opset: number; onnx: string; onnxruntime: string; outputs: { shape: number[]; data: string }[] };
      expect(result.opset).toBe(17);
      const wants = [
        (await model.predict({ data: x, shape: [B, T, F] }, lengths)).toArray() as Float32Array,
        (await model.predict({ data: x.subarray(0, 12 * F), shape: [1, 12, F] })).toArray() as Float32Array,
      ];
      result.outputs.forEach((output, i) => {
        const bytes = Buffer.from(output.data, 'base64');
        const got = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
        const d = maxAbsDiff(wants[i]!, got);
        figures.push(`  Python onnx ${result.onnx} / onnxruntime ${result.onnxruntime}, gru classify-steps, input ${i}: ${d.toExponential(1)}`);
        expect(d).toBeLessThan(TOLERANCE);
      });
    } finally {
      model.dispose();
    }
  });
});

describe('what export refuses', () => {
  const options = { inputSize: F, classes: C, hiddenSize: 8, heads: 2, device: 'cpu' } as const;

  it('unknown export options, a non-boolean lengths and a path that is no file name, naming them', async () => {
    const model = new NRNMClassifier(options);
    try {
      const file = path.join(tmp, 'refused.onnx');
      await expect(model.exportOnnx(file, { length: true } as never)).rejects.toThrow(/Unknown option 'length' for exportOnnx; did you mean 'lengths'/);
      await expect(model.exportOnnx(file, { lengths: 'yes' } as never)).rejects.toMatchObject({ code: 'ERR_ARG', message: expect.stringMatching(/lengths/) });
      await expect(model.exportOnnx(42 as never)).rejects.toMatchObject({ code: 'ERR_ARG', message: expect.stringMatching(/path to be a file name/) });
      expect(fs.existsSync(file)).toBe(false);
    } finally {
      model.dispose();
    }
  });

  it('options it has no graph for, and a state dict that lacks a parameter', async () => {
    const model = new NRNMClassifier(options);
    try {
      const resolved = model.options;
      for (const [key, value] of [
        ['backbone', 'transformer'],
        ['attention', 'flash'],
        ['task', 'segment'],
        ['inputAggregation', 'mean'],
        ['head', 'softmax'],
      ] as const) {
        expect(() => checkExportable({ ...resolved, [key]: value } as never)).toThrow(new RegExp(`ONNX export cannot represent ${key} '${value}'`));
      }
      expect(() => checkExportable({ ...resolved, inputAggregation: 'dilated', blockLength: 6, stride: 2 })).toThrow(NRNMError);
      const dict = model.stateDict();
      const parameters = Object.fromEntries(
        Object.entries(dict)
          .filter(([name]) => name !== 'rnn.cell_1.weight_memt')
          .map(([name, t]) => [name, { data: t.toArray() as Float32Array, shape: t.shape }]),
      );
      expect(() => onnxModelBytes(resolved, parameters, '0')).toThrow(/the model has no parameter 'rnn.cell_1.weight_memt'/);
      for (const t of Object.values(dict)) t.dispose();
    } finally {
      model.dispose();
    }
  });
});
