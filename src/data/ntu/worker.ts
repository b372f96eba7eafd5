/**
 * Worker thread of `preprocess()`: reads and preprocesses the files of each
 * job it receives and sends back their rows (100 x 150 float32 each) in one
 * transferred buffer, with each clip's own length.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { NTU_FEATURES, NTU_FRAMES, preprocessSkeleton } from './normalize';
import { readSkeletonFile } from './skeleton';

export const WORKER_TAG = 'nrnm-ntu-preprocess';

export interface WorkerJob {
  id: number;
  files: string[];
}

export type WorkerReply = { id: number; data: Float32Array; lengths: Int32Array } | { id: number; error: { message: string; code: string | undefined } };

const ROW = NTU_FRAMES * NTU_FEATURES;

/**
 * The valid steps of a clip in the preprocessed layout: its own frames, at
 * most the 100 kept (the rows after them are the official fill, repeated
 * frames). At least 1, as a clip without frames is still one step of zeros.
 */
export function clipLength(frames: number): number {
  return Math.max(1, Math.min(frames, NTU_FRAMES));
}

/** Rows of `files`, one after another, and each clip's length. */
export function processFiles(files: readonly string[]): { data: Float32Array; lengths: Int32Array } {
  const data = new Float32Array(files.length * ROW);
  const lengths = new Int32Array(files.length);
  for (let k = 0; k < files.length; k++) {
    const seq = readSkeletonFile(files[k]!);
    preprocessSkeleton(seq, data, k * ROW);
    lengths[k] = clipLength(seq.frames);
  }
  return { data, lengths };
}

const port = parentPort;
if (port !== null && (workerData as { tag?: string } | undefined)?.tag === WORKER_TAG) {
  port.on('message', (job: WorkerJob) => {
    let reply: WorkerReply;
    try {
      const { data, lengths } = processFiles(job.files);
      port.postMessage({ id: job.id, data, lengths } satisfies WorkerReply, [data.buffer as ArrayBuffer]);
      return;
    } catch (e) {
      const err = e as Error & { code?: string };
      reply = { id: job.id, error: { message: err.message, code: err.code } };
    }
    port.postMessage(reply);
  });
}
