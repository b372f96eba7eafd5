/**
 * The progress report of `nrnm-native train`: a progress line per epoch,
 * metrics.jsonl records, --json events, the TensorBoard log and the curves
 * after each epoch.
 */
import type { SequenceDataset } from '../../data';
import type { EpochEvent, StepEvent } from '../../index';
import { type Output, ProgressLine, formatDuration } from '../output';
import type { RunDir } from '../run-dir';
import type { RunTensorBoard } from '../run-tensorboard';
import type { Plan } from './train-plan';

export class TrainProgress {
  readonly started = performance.now();
  #progress: ProgressLine | undefined;
  #epochStats = { loss: 0, correct: 0, targets: 0, seen: 0, started: performance.now() };

  constructor(
    private readonly out: Output,
    private readonly run: RunDir,
    private readonly fit: Plan['fit'],
    private readonly evalData: SequenceDataset | undefined,
    private readonly signal: AbortSignal,
    private readonly title: string,
    /** Data-parallel: the step records carry the allreduce time. */
    private readonly distributed = false,
    private readonly tensorboard?: RunTensorBoard,
  ) {}

  /** Ends the current progress line (also after a failure). */
  done(): void {
    this.#progress?.done();
  }

  readonly onStep = (e: StepEvent): void => {
    if (!this.#progress || e.batch === 0) {
      // This pass started when its first step did (a resumed run starts mid-epoch).
      const startedAt = performance.now() - (1000 * e.batchSize) / e.sequencesPerSecond;
      this.#progress = new ProgressLine(this.out, `epoch ${e.epoch + 1}/${this.fit.epochs}`, e.batches, e.batch, startedAt);
      this.#epochStats = { loss: 0, correct: 0, targets: 0, seen: 0, started: startedAt };
    }
    this.#epochStats.loss += e.loss * e.batchSize;
    this.#epochStats.correct += e.correct;
    this.#epochStats.targets += e.targets;
    this.#epochStats.seen += e.batchSize;
    // correct counts targets: sequences, or valid steps for the per-step tasks.
    const accuracy = e.correct / e.targets;
    const rate = this.#epochStats.seen / ((performance.now() - this.#epochStats.started) / 1000);
    this.run.appendMetric({
      type: 'step',
      epoch: e.epoch,
      batch: e.batch,
      batches: e.batches,
      step: e.step,
      loss: e.loss,
      accuracy,
      correct: e.correct,
      batchSize: e.batchSize,
      gradNorm: e.gradNorm,
      lr: e.lr,
      sequencesPerSecond: e.sequencesPerSecond,
      ...(this.distributed ? { allreduceMs: e.allreduceMs } : {}),
      time: (performance.now() - this.started) / 1000,
    });
    this.out.event('step', {
      epoch: e.epoch,
      batch: e.batch,
      batches: e.batches,
      step: e.step,
      loss: e.loss,
      accuracy,
      gradNorm: e.gradNorm,
      lr: e.lr,
      sequencesPerSecond: e.sequencesPerSecond,
    });
    this.tensorboard?.step(e);
    this.#progress.update(
      e.batch + 1,
      `loss ${(this.#epochStats.loss / this.#epochStats.seen).toFixed(4)} acc ${((100 * this.#epochStats.correct) / this.#epochStats.targets).toFixed(1)}% ${rate.toFixed(0)} seq/s`,
    );
    if (e.batch + 1 === e.batches && this.evalData && (e.epoch + 1) % this.fit.evalEvery === 0 && !this.signal.aborted) {
      const text = `epoch ${e.epoch + 1}/${this.fit.epochs} evaluating on ${this.evalData.name} (${this.evalData.length} sequences)...`;
      if (this.out.mode === 'tty') this.out.bar(text);
      else this.out.info(text);
    }
  };

  readonly onEpoch = (e: EpochEvent): void => {
    this.run.appendMetric({ type: 'epoch', ...e });
    this.out.event('epoch', { ...e });
    this.tensorboard?.epoch(e);
    const evalText = e.eval ? `, eval loss ${e.eval.loss.toFixed(4)} acc ${(100 * e.eval.accuracy).toFixed(2)}%` : '';
    this.#progress?.done(
      `epoch ${e.epoch + 1}/${this.fit.epochs}: train loss ${e.train.loss.toFixed(4)} acc ${(100 * e.train.accuracy).toFixed(2)}%${evalText} ` +
        `(${formatDuration(e.train.seconds)}, ${(e.train.sequences / e.train.seconds).toFixed(0)} seq/s, lr ${e.lr})`,
    );
    this.#progress = undefined;
    this.run.writeCurves(this.title);
  };
}
