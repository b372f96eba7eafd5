/**
 * What `predict` writes for each task: the output's shape, the steps past a
 * sequence's length (NaN: no value was computed for them, and NaN cannot be
 * mistaken for one), probabilities and the predicted classes.
 */
import type { Choice } from '../choices';

export interface PredictionLayout {
  /** (N, C) for 'classify-sequence', (N, T, C) for the per-step tasks. */
  shape: number[];
  perStep: boolean;
  /** What the values are: logits, probabilities (--softmax) or regression values. */
  values: 'logits' | 'probabilities' | 'values';
}

export function predictionLayout(task: Choice<'task'>, n: number, steps: number, outputs: number, softmax: boolean): PredictionLayout {
  const perStep = task !== 'classify-sequence';
  return {
    shape: perStep ? [n, steps, outputs] : [n, outputs],
    perStep,
    values: task === 'regress-steps' ? 'values' : softmax ? 'probabilities' : 'logits',
  };
}

/** Sets the steps at and after each sequence's length to NaN in per-step outputs [B, T, C]. */
export function maskPadded(values: Float32Array, steps: number, outputs: number, lengths: Int32Array): void {
  for (let b = 0; b < lengths.length; b++) values.fill(NaN, (b * steps + lengths[b]!) * outputs, (b + 1) * steps * outputs);
}

/** Softmax over each row of `width` values, in place (NaN rows stay NaN). */
export function softmaxRows(values: Float32Array, width: number): void {
  for (let r = 0; r < values.length; r += width) {
    let max = -Infinity;
    for (let j = 0; j < width; j++) max = Math.max(max, values[r + j]!);
    let sum = 0;
    for (let j = 0; j < width; j++) sum += values[r + j] = Math.exp(values[r + j]! - max);
    for (let j = 0; j < width; j++) values[r + j]! /= sum;
  }
}

function argmax(values: Float32Array, offset: number, width: number): number {
  let best = 0;
  for (let j = 1; j < width; j++) if (values[offset + j]! > values[offset + best]!) best = j;
  return best;
}

/**
 * The predicted classes: one per sequence for 'classify-sequence', one per
 * valid step of each sequence for 'classify-steps'; none for regression.
 */
export function predictedClasses(
  values: Float32Array,
  layout: PredictionLayout,
  task: Choice<'task'>,
  lengths: Int32Array | undefined,
): number[] | number[][] | undefined {
  if (task === 'regress-steps') return undefined;
  const n = layout.shape[0]!;
  const width = layout.shape[layout.shape.length - 1]!;
  if (!layout.perStep) return Array.from({ length: n }, (_, i) => argmax(values, i * width, width));
  const steps = layout.shape[1]!;
  return Array.from({ length: n }, (_, i) => Array.from({ length: lengths ? lengths[i]! : steps }, (_, t) => argmax(values, (i * steps + t) * width, width)));
}
