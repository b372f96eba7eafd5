/**
 * Parity with the PyTorch reference (scripts/fixtures/generate_parity.py):
 * weights imported with fromPyTorch from the reference's torch.save file,
 * eval-mode logits, loss and every gradient within 1e-5, through the whole
 * public path (TypeScript -> binding -> LibTorch).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { NRNMClassifier } from '../../src';

const dir = path.resolve(__dirname, '..', 'fixtures', 'parity');
const TOLERANCE = 1e-5;

interface TensorRef {
  file: string;
  offset: number;
  dtype: 'float32' | 'float64' | 'int64';
  shape: number[];
  /** Large gradients are stored as rows [start, end) of `fullShape`. */
  rows?: [number, number];
  fullShape?: number[];
}
interface Fixture {
  case: string;
  options: Record<string, unknown> & { inputSize: number; classes: number };
  tensors: Record<'input' | 'labels' | 'logits' | 'loss', TensorRef>;
  gradients: Record<string, TensorRef>;
}

function read(ref: TensorRef): Float64Array {
  const bytes = fs.readFileSync(path.join(dir, ref.file));
  const n = ref.shape.reduce((a, b) => a * b, 1);
  const copy = bytes.buffer.slice(bytes.byteOffset + ref.offset, bytes.byteOffset + ref.offset + n * (ref.dtype === 'float32' ? 4 : 8));
  if (ref.dtype === 'float32') return Float64Array.from(new Float32Array(copy));
  if (ref.dtype === 'int64') return Float64Array.from(new BigInt64Array(copy), Number);
  return new Float64Array(copy);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const cases = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('parity with the PyTorch reference', () => {
  it('has fixtures for both aggregations, 1 and 3 layers, T < k and T not a multiple of k', () => {
    expect(cases.some((c) => c.startsWith('strided'))).toBe(true);
    expect(cases.some((c) => c.startsWith('dilated'))).toBe(true);
    expect(cases.some((c) => /_L1_/.test(c)) && cases.some((c) => /_L3_/.test(c))).toBe(true);
  });

  it.each(cases)('%s: logits, loss and every gradient within 1e-5', async (file) => {
    const fixture = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Fixture;
    const model = await NRNMClassifier.fromPyTorch(path.join(dir, `${fixture.case}.state_dict.pt`), { ...fixture.options, device: 'cpu' } as never);
    model.eval();
    const input = fixture.tensors.input;
    const x = { data: Float32Array.from(read(input)), shape: input.shape };
    const labels = Array.from(read(fixture.tensors.labels));

    const logits = await model.predict(x);
    const { loss, gradients } = await model.lossAndGradients(x, labels);
    const report: Record<string, number> = {
      logits: maxDiff(logits.toArray(), read(fixture.tensors.logits)),
      loss: Math.abs(loss - read(fixture.tensors.loss)[0]),
    };
    expect(Object.keys(gradients).sort()).toEqual(Object.keys(fixture.gradients).sort());
    for (const [name, ref] of Object.entries(fixture.gradients)) {
      const ours = gradients[name].toArray();
      const expected = read(ref);
      const rowSize = ref.fullShape ? ref.fullShape.slice(1).reduce((a, b) => a * b, 1) : 0;
      const slice = ref.rows ? ours.subarray(ref.rows[0] * rowSize, ref.rows[1] * rowSize) : ours;
      report[name] = maxDiff(slice, expected);
    }
    const worst = Object.entries(report).sort((a, b) => b[1] - a[1]);
    const mismatches = worst.filter(([, d]) => d > TOLERANCE);
    if (mismatches.length > 0) {
      throw new Error(
        `${fixture.case}: ${mismatches.length} mismatches beyond ${TOLERANCE}: ${mismatches
          .slice(0, 5)
          .map(([n, d]) => `${n} (${d.toExponential(2)})`)
          .join(', ')}`,
      );
    }
    expect(worst[0][1]).toBeLessThanOrEqual(TOLERANCE);
    model.dispose();
  });
});
