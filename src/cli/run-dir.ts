/**
 * A training run directory:
 *   config.json    everything needed to reproduce the run
 *   metrics.jsonl  one JSON object per step and per epoch (and evaluations)
 *   last.nrnm      checkpoint after every epoch and on stop (Trainer.fit)
 *   best.nrnm      checkpoint of the best evaluation accuracy (Trainer.fit)
 *   curves.svg     loss and accuracy per epoch, train and eval
 *   confusion.svg  confusion matrix of the final evaluation
 *   eval.json      the final evaluation (per-class accuracy, confusion matrix)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { NRNMError } from '../errors';
import { appendFileChecked, writeFileAtomicSync } from '../io/atomic-write';
import type { EvaluationReport } from './evaluation';
import { COLORS, type Series, confusionSvg, lineChartsSvg } from './svg';

export interface StepRecord {
  type: 'step';
  epoch: number;
  batch: number;
  batches: number;
  step: number;
  loss: number;
  accuracy: number;
  [key: string]: unknown;
}

export interface EpochRecord {
  type: 'epoch';
  epoch: number;
  step: number;
  train: { loss: number; accuracy: number; [key: string]: unknown };
  eval?: { loss: number; accuracy: number; [key: string]: unknown };
  [key: string]: unknown;
}

export type MetricRecord = StepRecord | EpochRecord | { type: string; step?: number; [key: string]: unknown };

export class RunDir {
  readonly dir: string;
  #metrics: MetricRecord[] | undefined;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }

  /** A new run: the directory must not hold one already (it is created by `make()`). */
  static create(dir: string): RunDir {
    const run = new RunDir(dir);
    for (const name of ['config.json', 'last.nrnm', 'metrics.jsonl']) {
      if (fs.existsSync(run.file(name))) {
        throw new NRNMError(`--out ${dir} already holds a run (${name}); continue it with --resume ${dir} or choose another --out`, 'ERR_ARG');
      }
    }
    return run;
  }

  make(): this {
    fs.mkdirSync(this.dir, { recursive: true });
    return this;
  }

  /** An existing run, for --resume. */
  static open(dir: string): RunDir {
    const run = new RunDir(dir);
    if (!fs.existsSync(run.file('last.nrnm'))) {
      const why = fs.existsSync(run.dir) ? `it has no last.nrnm (it is written after the first epoch or when a run stops)` : 'no such directory';
      throw new NRNMError(`--resume ${dir}: cannot continue this run: ${why}`, 'ERR_NOT_FOUND');
    }
    return run;
  }

  readConfig(): Record<string, unknown> | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.file('config.json'), 'utf8')) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }

  writeJson(name: string, value: unknown): void {
    writeFileAtomicSync(this.file(name), `${JSON.stringify(value, null, 2)}\n`); // NaN and Infinity become null
  }

  appendMetric(record: MetricRecord): void {
    const line = JSON.stringify(record); // NaN and Infinity become null
    appendFileChecked(this.file('metrics.jsonl'), `${line}\n`);
    // Kept as the file will read back, so curves need not re-read the log.
    this.#metrics?.push(JSON.parse(line) as MetricRecord);
  }

  /** The records of metrics.jsonl: read once, then kept up to date by appendMetric. */
  readMetrics(): MetricRecord[] {
    this.#metrics ??= this.#readMetricsFile();
    return this.#metrics;
  }

  #readMetricsFile(): MetricRecord[] {
    let text: string;
    try {
      text = fs.readFileSync(this.file('metrics.jsonl'), 'utf8');
    } catch {
      return [];
    }
    const records: MetricRecord[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        records.push(JSON.parse(line) as MetricRecord);
      } catch {
        // A line cut short by a hard kill: skip it.
      }
    }
    return records;
  }

  /**
   * Drops records of steps after `step` (written after the checkpoint the
   * run resumes from, so they are about to be run again).
   */
  truncateMetricsAfter(step: number): void {
    const records = this.readMetrics();
    const kept = records.filter((r) => typeof r.step !== 'number' || r.step <= step);
    if (kept.length === records.length) return;
    writeFileAtomicSync(this.file('metrics.jsonl'), kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
    this.#metrics = kept;
  }

  /** curves.svg from metrics.jsonl. */
  writeCurves(title: string): void {
    const records = this.readMetrics();
    const steps = records.filter((r): r is StepRecord => r.type === 'step');
    const epochs = records.filter((r): r is EpochRecord => r.type === 'epoch');
    const x = (s: StepRecord) => s.epoch + (s.batch + 1) / s.batches;
    const smooth = (values: Array<[number, number]>) => smoothed(values, Math.max(1, Math.round(values.length / 60)));
    const stepLoss = smooth(steps.map((s) => [x(s), s.loss]));
    const stepAcc = smooth(steps.map((s) => [x(s), 100 * s.accuracy]));
    const lossSeries: Series[] = [
      { name: 'train (per step, smoothed)', points: stepLoss, color: COLORS.trainFaint, faint: true },
      { name: 'train (epoch mean)', points: epochs.map((e) => [e.epoch + 1, e.train.loss]), color: COLORS.train, markers: true },
      { name: 'eval', points: epochs.filter((e) => e.eval).map((e) => [e.epoch + 1, e.eval!.loss]), color: COLORS.eval, markers: true, dashed: true },
    ];
    const accSeries: Series[] = [
      { name: 'train (per step, smoothed)', points: stepAcc, color: COLORS.trainFaint, faint: true },
      { name: 'train (epoch mean)', points: epochs.map((e) => [e.epoch + 1, 100 * e.train.accuracy]), color: COLORS.train, markers: true },
      { name: 'eval', points: epochs.filter((e) => e.eval).map((e) => [e.epoch + 1, 100 * e.eval!.accuracy]), color: COLORS.eval, markers: true, dashed: true },
    ];
    const last = epochs[epochs.length - 1];
    const bestEval = epochs.filter((e) => e.eval).reduce<EpochRecord | undefined>((b, e) => (!b || e.eval!.accuracy > b.eval!.accuracy ? e : b), undefined);
    const subtitle = [
      `${epochs.length} epoch${epochs.length === 1 ? '' : 's'}, ${steps.length ? steps[steps.length - 1]!.step : 0} steps`,
      last ? `last train accuracy ${(100 * last.train.accuracy).toFixed(2)}%` : '',
      bestEval ? `best eval accuracy ${(100 * bestEval.eval!.accuracy).toFixed(2)}% (epoch ${bestEval.epoch + 1})` : '',
    ]
      .filter(Boolean)
      .join(' | ');
    const svg = lineChartsSvg(
      title,
      subtitle,
      [
        { title: 'Loss (cross-entropy)', yLabel: 'loss', series: lossSeries },
        { title: 'Accuracy', yLabel: 'accuracy (%)', series: accSeries, yLimits: [0, 100], legend: 'bottom' },
      ],
      'epoch',
    );
    writeFileAtomicSync(this.file('curves.svg'), svg);
  }

  /** accuracy-by-step.svg: task 'classify-steps', accuracy against the number of steps (rows) seen. */
  writeAccuracyByStep(report: EvaluationReport, title: string, file = this.file('accuracy-by-step.svg')): void {
    if (!report.byStep) return;
    const points: Array<[number, number]> = report.byStep.map((s) => [s.steps, 100 * s.accuracy]);
    const at = (fraction: number) => report.byStep![Math.max(0, Math.round(fraction * report.byStep!.length) - 1)]!;
    const subtitle = `${report.dataset}: accuracy after ${at(0.25).steps} steps ${(100 * at(0.25).accuracy).toFixed(1)}%, ${at(0.5).steps} steps ${(100 * at(0.5).accuracy).toFixed(1)}%, all ${report.byStep.length} steps ${(100 * at(1).accuracy).toFixed(1)}%`;
    const svg = lineChartsSvg(
      title,
      subtitle,
      [
        {
          title: 'How early can the model tell?',
          yLabel: 'accuracy (%)',
          series: [{ name: 'eval, prediction at this step', points, color: COLORS.eval, markers: true }],
          yLimits: [0, 100],
          legend: 'bottom',
        },
      ],
      'steps (rows) seen',
    );
    writeFileAtomicSync(file, svg);
  }

  writeConfusion(report: EvaluationReport, title: string, file = this.file('confusion.svg')): void {
    const subtitle = `${report.dataset}: accuracy ${(100 * report.accuracy).toFixed(2)}% (${report.correct}/${report.total}), loss ${report.loss.toFixed(4)}; rows normalised`;
    writeFileAtomicSync(file, confusionSvg({ title, subtitle, counts: report.confusion, classNames: report.perClass.map((c) => c.name) }));
  }
}

/** Means of consecutive groups of `group` points. */
function smoothed(points: Array<[number, number]>, group: number): Array<[number, number]> {
  if (group <= 1) return points;
  const out: Array<[number, number]> = [];
  for (let i = 0; i < points.length; i += group) {
    const chunk = points.slice(i, i + group);
    out.push([chunk[chunk.length - 1]![0], chunk.reduce((a, p) => a + p[1], 0) / chunk.length]);
  }
  return out;
}
