/**
 * Full evaluation of a model on a dataset: loss, accuracy, per-class
 * accuracy and the confusion matrix, from the model's logits.
 */
import type { SequenceDataset } from '../data';
import type { NRNMClassifier } from '../index';

export interface ClassResult {
  class: number;
  name: string;
  correct: number;
  total: number;
  accuracy: number;
}

export interface EvaluationReport {
  dataset: string;
  loss: number;
  accuracy: number;
  correct: number;
  total: number;
  perClass: ClassResult[];
  /** confusion[true][predicted] */
  confusion: number[][];
  seconds: number;
  /**
   * Task 'classify-steps': the accuracy after t + 1 steps (rows seen), over
   * the sequences that have that many steps; the report above scores each
   * sequence at its last step.
   */
  byStep?: Array<{ steps: number; accuracy: number; total: number }>;
}

/** Accumulates logits batch by batch. */
export class ConfusionAccumulator {
  readonly confusion: number[][];
  lossSum = 0;
  total = 0;

  constructor(readonly classes: number) {
    this.confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  }

  /** logits: [B, classes] row-major. */
  add(logits: Float32Array, labels: Int32Array): void {
    const k = this.classes;
    for (let b = 0; b < labels.length; b++) {
      const row = logits.subarray(b * k, (b + 1) * k);
      let best = 0;
      let max = -Infinity;
      for (let j = 0; j < k; j++) {
        if (row[j]! > max) [max, best] = [row[j]!, j];
      }
      let sum = 0;
      for (let j = 0; j < k; j++) sum += Math.exp(row[j]! - max);
      const y = labels[b]!;
      this.lossSum += Math.log(sum) + max - row[y]!;
      this.confusion[y]![best]! += 1;
      this.total += 1;
    }
  }

  report(dataset: string, classNames: readonly string[], seconds: number): EvaluationReport {
    let correct = 0;
    const perClass = this.confusion.map((row, i) => {
      const total = row.reduce((a, b) => a + b, 0);
      correct += row[i]!;
      return { class: i, name: classNames[i] ?? String(i), correct: row[i]!, total, accuracy: total ? row[i]! / total : NaN };
    });
    return {
      dataset,
      loss: this.total ? this.lossSum / this.total : NaN,
      accuracy: this.total ? correct / this.total : NaN,
      correct,
      total: this.total,
      perClass,
      confusion: this.confusion,
      seconds,
    };
  }
}

/** Adds, per step t, the sequences whose argmax at t is their label (and those that reach t). */
function countByStep(
  logits: Float32Array,
  shape: readonly number[],
  classes: number,
  labels: Int32Array,
  lengths: Int32Array | undefined,
  correct: number[],
  total: number[],
): void {
  const [B, T] = [shape[0]!, shape[1]!];
  for (let b = 0; b < B; b++) {
    const L = lengths ? lengths[b]! : T;
    for (let t = 0; t < L; t++) {
      const row = logits.subarray((b * T + t) * classes, (b * T + t + 1) * classes);
      let best = 0;
      for (let j = 1; j < classes; j++) if (row[j]! > row[best]!) best = j;
      correct[t] = (correct[t] ?? 0) + (best === labels[b] ? 1 : 0);
      total[t] = (total[t] ?? 0) + 1;
    }
  }
}

/** Rows [B, C] of per-step logits [B, T, C] at each sequence's last valid step. */
export function lastSteps(logits: Float32Array, shape: readonly number[], classes: number, lengths?: Int32Array): Float32Array {
  const [B, T] = [shape[0]!, shape[1]!];
  const out = new Float32Array(B * classes);
  for (let b = 0; b < B; b++) {
    const t = (lengths ? lengths[b]! : T) - 1;
    out.set(logits.subarray((b * T + t) * classes, (b * T + t + 1) * classes), b * classes);
  }
  return out;
}

/** Evaluates in eval mode (the model's mode is restored afterwards). */
export async function evaluateModel(
  model: NRNMClassifier,
  data: SequenceDataset,
  options: { batchSize: number; classNames: readonly string[]; onBatch?: (done: number, total: number) => void },
): Promise<EvaluationReport> {
  const started = performance.now();
  const wasTraining = model.training;
  model.eval();
  const acc = new ConfusionAccumulator(model.options.classes);
  const perStep = model.options.task === 'classify-steps';
  const stepCorrect: number[] = [];
  const stepTotal: number[] = [];
  let done = 0;
  try {
    for await (const batch of data.batches(options.batchSize, { shuffle: false })) {
      const logits = await model.predict({ data: batch.x, shape: batch.shape }, batch.lengths);
      try {
        // Per-step classes: the report scores each sequence at its last valid step.
        const values = logits.toArray() as Float32Array;
        if (perStep) countByStep(values, batch.shape, model.options.classes, batch.y, batch.lengths, stepCorrect, stepTotal);
        acc.add(perStep ? lastSteps(values, batch.shape, model.options.classes, batch.lengths) : values, batch.y);
      } finally {
        logits.dispose();
      }
      done += batch.y.length;
      options.onBatch?.(done, data.length);
    }
  } finally {
    model.train(wasTraining);
  }
  const report = acc.report(data.name, options.classNames, (performance.now() - started) / 1000);
  if (perStep) report.byStep = stepTotal.map((total, t) => ({ steps: t + 1, accuracy: total ? stepCorrect[t]! / total : NaN, total }));
  return report;
}

function pct(v: number): string {
  return Number.isFinite(v) ? `${(100 * v).toFixed(2)}%` : 'n/a';
}

/** The report as text: summary, per-class accuracy and (up to 20 classes) the confusion matrix. */
export function formatEvaluation(r: EvaluationReport): string {
  const lines = [
    `${r.dataset}: accuracy ${pct(r.accuracy)} (${r.correct}/${r.total}), loss ${r.loss.toFixed(4)}, ${r.seconds.toFixed(1)} s`,
    '',
    'per-class accuracy:',
  ];
  const nameWidth = Math.max(5, ...r.perClass.map((c) => c.name.length));
  for (const c of r.perClass) {
    lines.push(`  ${String(c.class).padStart(3)} ${c.name.padEnd(nameWidth)} ${pct(c.accuracy).padStart(8)}  (${c.correct}/${c.total})`);
  }
  const k = r.confusion.length;
  if (k <= 20) {
    const width = Math.max(4, String(Math.max(...r.confusion.flat())).length + 1);
    lines.push('', 'confusion matrix (rows: true class, columns: predicted class):');
    lines.push(`  ${''.padStart(3)} ${Array.from({ length: k }, (_, j) => String(j).padStart(width)).join('')}`);
    r.confusion.forEach((row, i) => lines.push(`  ${String(i).padStart(3)} ${row.map((n) => String(n).padStart(width)).join('')}`));
  } else {
    lines.push('', `confusion matrix: ${k} classes, see confusion.svg or --json`);
  }
  return lines.join('\n');
}
