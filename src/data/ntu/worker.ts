/**
 * Worker thread of `preprocess()`: reads and preprocesses the files of each
 * job it receives and sends back their rows (100 x 150 float32 each) in one
 * transferred buffer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { NTU_FEATURES, NTU_FRAMES, preprocessSkeleton } from './normalize';
import { readSkeletonFile } from './skeleton';

export const WORKER_TAG = 'nrnm-ntu-preprocess';

export interface WorkerJob {
  id: number;
  files: string[];
}

export type WorkerReply = { id: number; data: Float32Array } | { id: number; error: { message: string; code: string | undefined } };

const ROW = NTU_FRAMES * NTU_FEATURES;

/** Rows of `files`, one after another. */
export function processFiles(files: readonly string[]): Float32Array {
  const out = new Float32Array(files.length * ROW);
  for (let k = 0; k < files.length; k++) preprocessSkeleton(readSkeletonFile(files[k]!), out, k * ROW);
  return out;
}

const port = parentPort;
if (port !== null && (workerData as { tag?: string } | undefined)?.tag === WORKER_TAG) {
  port.on('message', (job: WorkerJob) => {
    let reply: WorkerReply;
    try {
      const data = processFiles(job.files);
      port.postMessage({ id: job.id, data } satisfies WorkerReply, [data.buffer as ArrayBuffer]);
      return;
    } catch (e) {
      const err = e as Error & { code?: string };
      reply = { id: job.id, error: { message: err.message, code: err.code } };
    }
    port.postMessage(reply);
  });
}
