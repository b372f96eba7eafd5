/** Reader calls for peak-rss.ts children (test/checkpoint-headers.test.ts). */
import { NRNMClassifier, Trainer } from '../../src';

export async function loadCheckpointFile(file: string): Promise<void> {
  (await NRNMClassifier.load(file, { device: 'cpu' })).dispose();
}

export async function resumeCheckpointFile(file: string): Promise<void> {
  (await Trainer.resume(file, { device: 'cpu' })).trainer.dispose();
}
