/**
 * The TensorBoard log of `nrnm-native train` (one event file per process
 * run, in the run directory by default): per step train/*, per epoch
 * epoch/*, the final evaluation final/*, the configuration as text. Every
 * scalar's step is the optimizer step, so the curves line up and a resumed
 * run (a session start at its first step) continues them.
 */
import type { EpochEvent, StepEvent } from '../index';
import { SummaryWriter } from '../tensorboard/writer';
import type { EvaluationReport } from './evaluation';

export class RunTensorBoard {
  readonly writer: SummaryWriter;

  constructor(dir: string, config: Record<string, unknown>, resumeStep: number | undefined) {
    this.writer = new SummaryWriter(dir);
    if (resumeStep !== undefined) this.writer.addSessionStart(resumeStep + 1);
    this.writer.addText('config', `\`\`\`json\n${JSON.stringify(config, null, 2)}\n\`\`\``, resumeStep ?? 0);
  }

  step(e: StepEvent): void {
    const w = this.writer;
    w.addScalar('train/loss', e.loss, e.step);
    w.addScalar('train/accuracy', e.targets ? e.correct / e.targets : NaN, e.step);
    w.addScalar('train/lr', e.lr, e.step);
    w.addScalar('train/grad_norm', e.gradNorm, e.step);
    w.addScalar('train/sequences_per_second', e.sequencesPerSecond, e.step);
  }

  epoch(e: EpochEvent): void {
    const w = this.writer;
    w.addScalar('epoch/epoch', e.epoch + 1, e.step);
    w.addScalar('epoch/train_loss', e.train.loss, e.step);
    w.addScalar('epoch/train_accuracy', e.train.accuracy, e.step);
    w.addScalar('epoch/lr', e.lr, e.step);
    if (e.eval) {
      w.addScalar('epoch/eval_loss', e.eval.loss, e.step);
      w.addScalar('epoch/eval_accuracy', e.eval.accuracy, e.step);
    }
    w.flush();
  }

  /** The final evaluation at `step`; for per-step tasks the accuracy after t steps seen, at step t. */
  final(report: EvaluationReport, step: number): void {
    const w = this.writer;
    w.addScalar('final/eval_loss', report.loss, step);
    w.addScalar('final/eval_accuracy', report.accuracy, step);
    for (const s of report.byStep ?? []) w.addScalar('final/accuracy_by_steps_seen', s.accuracy, s.steps);
    w.flush();
  }

  close(): void {
    this.writer.close();
  }
}
