/**
 * @jest-environment ./test/helpers/onnx-environment.js
 */
/**
 * `nrnm-native export --format onnx`: the real command line on an .nrnm
 * checkpoint and on an official-format .pt; the file it writes, run in
 * onnxruntime-node, gives the model's predict(); and its usage errors.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as ort from 'onnxruntime-node';

import { NRNMClassifier } from '../../src';
import { mulberry32 } from '../helpers/mulberry32';
import { onnxFeeds } from '../helpers/onnx-feeds';
import { cli, ensureBuilt, expectSucceeded } from './run-cli';

const [B, T, F, C] = [2, 13, 4, 3];
let tmp: string;
let model: NRNMClassifier;
let x: Float32Array;
let want: Float32Array;

beforeAll(async () => {
  ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-cli-export-'));
  model = new NRNMClassifier({ inputSize: F, classes: C, hiddenSize: 8, layers: 2, device: 'cpu', seed: 4 });
  await model.save(path.join(tmp, 'm.nrnm'));
  await model.savePyTorch(path.join(tmp, 'm.pt'));
  const rand = mulberry32(9);
  x = Float32Array.from({ length: B * T * F }, () => rand() * 2 - 1);
  want = (await model.eval().predict({ data: x, shape: [B, T, F] })).toArray() as Float32Array;
});

afterAll(() => {
  model.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function runOnnx(file: string, lengths?: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file);
  const feeds = onnxFeeds(x, [B, T, F], lengths);
  return (await session.run(feeds)).logits!.data as Float32Array;
}

function expectClose(got: Float32Array, expected: Float32Array): void {
  expect(got.length).toBe(expected.length);
  for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - expected[i]!)).toBeLessThan(1e-5);
}

it('export --format onnx from an .nrnm: a file onnxruntime runs with the outputs of predict, and a JSON summary', async () => {
  const out = path.join(tmp, 'm.onnx');
  const r = cli(['export', '--checkpoint', path.join(tmp, 'm.nrnm'), '--format', 'onnx', '--out', out, '--json']);
  expectSucceeded(r);
  expect(JSON.parse(r.stdout)).toMatchObject({ event: 'export', format: 'onnx', out, opset: 17, inputs: ['x'], outputShape: ['batch', C] });
  expectClose(await runOnnx(out), want);
});

it('export --lengths from the official-format .pt: the lengths input, honoured as predict does', async () => {
  const out = path.join(tmp, 'pt.onnx');
  const r = cli(['export', '--checkpoint', path.join(tmp, 'm.pt'), '--out', out, '--lengths']);
  expectSucceeded(r);
  expect(r.stdout).toMatch(/wrote .*pt\.onnx: ONNX opset 17, inputs x, lengths, output logits \[batch, 3\]/);
  const lengths = [T, 6];
  const expected = (await model.predict({ data: x, shape: [B, T, F] }, Int32Array.from(lengths))).toArray() as Float32Array;
  expectClose(await runOnnx(out, lengths), expected);
});

it('usage errors: another format, no --out, a missing checkpoint (nothing written)', () => {
  const out = path.join(tmp, 'never.onnx');
  const pt = cli(['export', '--checkpoint', path.join(tmp, 'm.nrnm'), '--format', 'tflite', '--out', out]);
  expect(pt.code).toBe(2);
  expect(pt.stderr).toMatch(/--format.*tflite.*onnx/s);
  const noOut = cli(['export', '--checkpoint', path.join(tmp, 'm.nrnm')]);
  expect(noOut.code).toBe(2);
  expect(noOut.stderr).toMatch(/--out/);
  const missing = cli(['export', '--checkpoint', path.join(tmp, 'nope.nrnm'), '--out', out]);
  expect(missing.code).toBe(1);
  expect(missing.stderr).toMatch(/nope\.nrnm.*no such file/);
  expect(fs.existsSync(out)).toBe(false);
});
