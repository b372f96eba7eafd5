/**
 * The padding equivalence through the public API: every sample of a padded
 * batch (with `lengths`) gives the logits and gradients of the same sample
 * alone without padding. Returns the largest differences; run in-process
 * (fused recurrence) and in a child with NRNM_RECURRENCE=reference.
 */
import { NRNMClassifier } from '../../src';
import { mulberry32 } from './mulberry32';

export interface PaddingCheck {
  logits: number;
  gradients: number;
  /** Gradient entries compared. */
  compared: number;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export async function checkPadding(): Promise<PaddingCheck> {
  const F = 4;
  const T = 22;
  const lengths = [22, 9, 1, 12, 20, 10];
  const B = lengths.length;
  const rand = mulberry32(5);
  const x = new Float32Array(B * T * F);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < T * F; i++) x[b * T * F + i] = i < lengths[b]! * F ? rand() * 2 - 1 : 1e3; // loud padding
  }
  const labels = lengths.map((_, b) => b % 3);
  const model = new NRNMClassifier({ inputSize: F, classes: 3, hiddenSize: 8, layers: 2, device: 'cpu', seed: 9 }).eval();
  const out: PaddingCheck = { logits: 0, gradients: 0, compared: 0 };
  try {
    const logits = (await model.predict({ data: x, shape: [B, T, F] }, lengths)).toArray() as Float32Array;
    for (let b = 0; b < B; b++) {
      const L = lengths[b]!;
      const alone = { data: x.slice(b * T * F, b * T * F + L * F), shape: [1, L, F] };
      const single = (await model.predict(alone)).toArray() as Float32Array;
      out.logits = Math.max(out.logits, maxDiff(logits.subarray(b * 3, b * 3 + 3), single));
      // The gradients of sample b's loss: the padded batch of one (its padding
      // kept) against the sample alone.
      const padded = await model.lossAndGradients({ data: x.slice(b * T * F, (b + 1) * T * F), shape: [1, T, F] }, [labels[b]!], [L]);
      const reference = await model.lossAndGradients(alone, [labels[b]!]);
      out.logits = Math.max(out.logits, Math.abs(padded.loss - reference.loss));
      for (const [name, grad] of Object.entries(reference.gradients)) {
        const g = grad.toArray() as Float32Array;
        out.gradients = Math.max(out.gradients, maxDiff(padded.gradients[name]!.toArray() as Float32Array, g));
        out.compared += g.length;
      }
    }
    // And the whole padded batch at once: its mean loss is the mean of the samples' losses.
    const batch = await model.lossAndGradients({ data: x, shape: [B, T, F] }, labels, lengths);
    let mean = 0;
    for (let b = 0; b < B; b++) {
      const L = lengths[b]!;
      mean += (await model.lossAndGradients({ data: x.slice(b * T * F, b * T * F + L * F), shape: [1, L, F] }, [labels[b]!])).loss / B;
    }
    out.logits = Math.max(out.logits, Math.abs(batch.loss - mean));
  } finally {
    model.dispose();
  }
  return out;
}

if (require.main === module) {
  checkPadding().then(
    (r) => process.stdout.write(JSON.stringify(r)),
    (e) => {
      process.stderr.write(String(e?.stack ?? e));
      process.exitCode = 1;
    },
  );
}
