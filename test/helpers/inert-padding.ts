/**
 * Padding is inert, exactly: a padded batch gives bit-identical logits, loss
 * and gradients whatever its padding holds (0, NaN, +-Inf, 1e30 in x; -1,
 * -100 or 7 as per-step classes; NaN as regression targets), for every task,
 * in eval and in training mode. Returns the mismatches found (none is the
 * pass); run in-process (fused recurrence) and in a child with
 * NRNM_RECURRENCE=reference.
 */
import { NRNMClassifier, type NRNMClassifierOptions } from '../../src';
import { mulberry32 } from './mulberry32';

const F = 3;
const T = 22;
const C = 3;
const LENGTHS = [22, 4, 1, 15];
const B = LENGTHS.length;
const FILLS = [0, NaN, Infinity, -Infinity, 1e30];

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function padded<A extends Float32Array | number[]>(make: (n: number) => A, base: ArrayLike<number>, width: number, fill: (i: number) => number): A {
  const out = make(base.length);
  for (let i = 0; i < base.length; i++) {
    const b = Math.floor(i / (T * width));
    const t = Math.floor(i / width) % T;
    out[i] = t < LENGTHS[b]! ? base[i]! : fill(i);
  }
  return out;
}

interface Outcome {
  logits: Float32Array;
  loss: number;
  gradients: Record<string, Float32Array>;
}

async function run(options: NRNMClassifierOptions, training: boolean, x: Float32Array, targets: Float32Array | number[]): Promise<Outcome> {
  const model = new NRNMClassifier(options);
  try {
    model.train(training);
    const input = { data: x, shape: [B, T, F] };
    const logits = (await model.predict(input, LENGTHS)).toArray() as Float32Array;
    const r = await model.lossAndGradients(input, targets, LENGTHS);
    const gradients: Record<string, Float32Array> = {};
    for (const [name, g] of Object.entries(r.gradients)) gradients[name] = g.toArray() as Float32Array;
    return { logits, loss: r.loss, gradients };
  } finally {
    model.dispose();
  }
}

export async function checkInertPadding(): Promise<{ runs: number; mismatches: string[] }> {
  const rand = mulberry32(11);
  const base = Float32Array.from({ length: B * T * F }, () => rand() * 2 - 1);
  const mismatches: string[] = [];
  let runs = 0;
  const tasks = ['classify-sequence', 'classify-steps', 'regress-steps'] as const;
  for (const task of tasks) {
    const options: NRNMClassifierOptions = {
      inputSize: F,
      classes: C,
      hiddenSize: 8,
      layers: 2,
      heads: 2,
      device: 'cpu',
      seed: 3,
      task,
    };
    const classes = Array.from({ length: B * T }, (_, i) => i % C);
    const values = Float32Array.from({ length: B * T * C }, () => rand());
    const targetsFor = (k: number): Float32Array | number[] => {
      if (task === 'classify-sequence') return [0, 1, 2, 1];
      if (task === 'classify-steps')
        return padded(
          (n) => new Array<number>(n),
          classes,
          1,
          () => [0, -1, -100, 7, 2][k]!,
        );
      return padded(
        (n) => new Float32Array(n),
        values,
        C,
        () => [0, NaN, Infinity, -Infinity, 1e30][k]!,
      );
    };
    for (const training of [false, true]) {
      const reference = await run(
        options,
        training,
        padded(
          (n) => new Float32Array(n),
          base,
          F,
          () => FILLS[0]!,
        ),
        targetsFor(0),
      );
      for (let k = 1; k < FILLS.length; k++) {
        const x = padded(
          (n) => new Float32Array(n),
          base,
          F,
          (i) => (i % 2 === 0 ? FILLS[k]! : -FILLS[k]!),
        );
        const other = await run(options, training, x, targetsFor(k));
        runs++;
        const where = `${task}, ${training ? 'training' : 'eval'}, padding ${FILLS[k]}`;
        if (!same(reference.logits, other.logits)) mismatches.push(`${where}: logits`);
        if (!Object.is(reference.loss, other.loss) || !Number.isFinite(other.loss)) mismatches.push(`${where}: loss ${reference.loss} vs ${other.loss}`);
        for (const [name, g] of Object.entries(reference.gradients)) {
          if (!same(g, other.gradients[name]!)) mismatches.push(`${where}: gradient of ${name}`);
        }
      }
    }
  }
  return { runs, mismatches };
}

if (require.main === module) {
  checkInertPadding().then(
    (r) => process.stdout.write(JSON.stringify(r)),
    (e) => {
      process.stderr.write(String(e?.stack ?? e));
      process.exitCode = 1;
    },
  );
}
