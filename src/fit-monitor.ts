/**
 * What fit() follows for best.nrnm and early stopping: the best value of
 * the monitored metric (lower loss or higher accuracy) and the evaluations
 * since it, carried in a checkpoint's progress so a resumed run goes on
 * from them.
 */
export interface MonitoredBest {
  epoch: number;
  accuracy: number;
  loss: number;
}

export class FitMonitor {
  best: MonitoredBest | undefined;
  sinceBest: number;

  constructor(
    readonly monitor: 'loss' | 'accuracy',
    /** 'eval' (the evaluations) or 'train' (the epochs themselves, without evaluation data). */
    readonly source: 'eval' | 'train',
    resumed?: { best?: MonitoredBest; sinceBest?: number },
  ) {
    this.best = resumed?.best ? { ...resumed.best } : undefined;
    this.sinceBest = resumed?.sinceBest ?? 0;
  }

  /** Takes the epoch's metrics; true when they are the best so far. */
  update(epoch: number, metrics: { loss: number; accuracy: number }): boolean {
    const b = this.best;
    const better = !b || (this.monitor === 'loss' ? metrics.loss < b.loss : metrics.accuracy > b.accuracy);
    if (better) {
      this.best = { epoch, accuracy: metrics.accuracy, loss: metrics.loss };
      this.sinceBest = 0;
    } else {
      this.sinceBest++;
    }
    return better;
  }

  /** For the checkpoint's progress. */
  state(): { best?: MonitoredBest; sinceBest: number } {
    return { ...(this.best ? { best: this.best } : {}), sinceBest: this.sinceBest };
  }

  /** "eval loss did not improve for 3 evaluations (best 0.4121 after epoch 7)". */
  reason(): string {
    const n = this.sinceBest;
    const best = this.best ? ` (best ${this.best[this.monitor].toFixed(4)} after epoch ${this.best.epoch + 1})` : '';
    return `${this.source} ${this.monitor} did not improve for ${n} evaluation${n === 1 ? '' : 's'}${best}`;
  }
}
