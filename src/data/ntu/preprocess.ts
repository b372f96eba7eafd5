/**
 * Raw NTU RGB+D `.skeleton` files -> the official preprocessed layout:
 *
 *   <out>/<benchmark>/{train,val}_data_joint.npy   float32 (N, 100, 150)
 *   <out>/<benchmark>/{train,val}_label.pkl        pickled (names, labels)
 *   <out>/<benchmark>/{train,val}_lengths.npy      int32 (N): each clip's own frames, at most 100
 *                                                  (`ntu.load(dir, { lengths: true })` keeps clips unpadded)
 *
 * Every file is parsed and preprocessed once (in worker threads) and its
 * row written straight to its place in each benchmark's file, so memory
 * stays small whatever the corpus size. Samples are in file-name order
 * (the official script uses the directory's listing order, which the
 * operating system chooses).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { type ErrorCode, NRNMError, argError } from '../../errors';
import { NpyWriter, writeNpy } from '../npy';
import { checkKeys, intOption, oneOf, stringOption } from '../../validate';
import { writeLabelPkl } from './labels';
import { NTU_FEATURES, NTU_FRAMES } from './normalize';
import { type NtuSampleName, parseSampleName } from './skeleton';
import { NTU_BENCHMARKS, type NtuBenchmark, type NtuPart, detectVariant, partOf } from './splits';
import { WORKER_TAG, type WorkerJob, type WorkerReply, processFiles } from './worker';

export interface NtuPreprocessOptions {
  /** Directory of raw `.skeleton` files (other files are ignored). */
  raw: string;
  /** Output root; `<out>/<benchmark>/` is created. */
  out: string;
  /** Default: xsub and xview for NTU-60, xsub and xset for NTU-120. */
  benchmarks?: readonly NtuBenchmark[];
  /** 60 or 120 classes. Default: 120 when a file name has a setup, performer or action only NTU-120 has. */
  variant?: 60 | 120;
  /** Samples to skip: the path of a list (one name a line, e.g. samples_with_missing_skeletons.txt) or the names. */
  ignored?: string | readonly string[];
  /** Worker threads; 0 runs in this thread. Default: the available cores, up to 8 (none for one core or fewer than 64 files). */
  workers?: number;
  /** Called after each file. */
  onProgress?: (progress: NtuPreprocessProgress) => void;
  signal?: AbortSignal;
}

export interface NtuPreprocessProgress {
  done: number;
  total: number;
  /** The file just finished. */
  file: string;
  elapsedMs: number;
}

export interface NtuPreprocessOutput {
  benchmark: NtuBenchmark;
  part: NtuPart;
  data: string;
  label: string;
  /** Each clip's own frames (at most 100), for `ntu.load(dir, { lengths: true })`. */
  lengths: string;
  samples: number;
}

export interface NtuPreprocessResult {
  variant: 60 | 120;
  /** Samples written (each to every benchmark). */
  samples: number;
  /** Files skipped because they are in the ignored list. */
  ignored: number;
  workers: number;
  elapsedMs: number;
  outputs: NtuPreprocessOutput[];
}

const ROW = NTU_FRAMES * NTU_FEATURES;
const JOB_FILES = 8;
const KEYS = ['raw', 'out', 'benchmarks', 'variant', 'ignored', 'workers', 'onProgress', 'signal'];

function readIgnored(ignored: string | readonly string[] | undefined): Set<string> {
  if (ignored === undefined) return new Set();
  let names: readonly string[];
  if (typeof ignored === 'string') {
    try {
      names = fs.readFileSync(ignored, 'utf8').split('\n');
    } catch (e) {
      throw new NRNMError(`${ignored}: cannot read the list of ignored samples (${(e as NodeJS.ErrnoException).code ?? String(e)})`, 'ERR_NOT_FOUND', {
        cause: e,
      });
    }
  } else if (Array.isArray(ignored)) names = ignored;
  else throw argError('ignored', 'a file path or an array of sample names', ignored);
  const set = new Set<string>();
  for (const line of names) {
    const name = String(line).trim();
    if (name.length > 0) set.add(name.endsWith('.skeleton') ? name : `${name}.skeleton`);
  }
  return set;
}

/** Preprocesses a directory of raw `.skeleton` files into the official layout. */
export async function preprocess(options: NtuPreprocessOptions): Promise<NtuPreprocessResult> {
  const started = Date.now();
  checkKeys(options, KEYS, 'ntu.preprocess()');
  const raw = stringOption('raw', options.raw);
  const out = stringOption('out', options.out);
  const onProgress = options.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') throw argError('onProgress', 'a function', onProgress);
  const signal = options.signal;
  signal?.throwIfAborted();

  let entries: string[];
  try {
    entries = fs.readdirSync(raw);
  } catch (e) {
    throw new NRNMError(`${raw}: cannot list the raw skeleton directory (${(e as NodeJS.ErrnoException).code ?? String(e)})`, 'ERR_NOT_FOUND', { cause: e });
  }
  const ignoredSet = readIgnored(options.ignored);
  const all = entries.filter((n) => n.endsWith('.skeleton')).sort();
  const kept = all.filter((n) => !ignoredSet.has(n));
  if (kept.length === 0)
    throw new NRNMError(`${raw}: no .skeleton files to preprocess (${all.length} found, ${all.length - kept.length} ignored)`, 'ERR_NOT_FOUND');
  const samples: NtuSampleName[] = kept.map((n) => parseSampleName(path.join(raw, n)));
  const variant = oneOf('variant', options.variant, [60, 120] as const, detectVariant(samples));
  const benchmarks = options.benchmarks ?? (variant === 60 ? ['xsub', 'xview'] : ['xsub', 'xset']);
  if (!Array.isArray(benchmarks) || benchmarks.length === 0 || new Set(benchmarks).size !== benchmarks.length) {
    throw argError('benchmarks', `a list of distinct benchmarks from ${NTU_BENCHMARKS.join(', ')}`, benchmarks);
  }
  for (const b of benchmarks) oneOf('benchmarks[]', b, NTU_BENCHMARKS);
  const bad = samples.find((s) => s.action > variant);
  if (bad !== undefined)
    throw new NRNMError(`${path.join(raw, bad.name)}: action ${bad.action} is beyond the ${variant} classes of NTU-${variant}`, 'ERR_FORMAT');
  const cores = os.availableParallelism();
  const defaultWorkers = kept.length < 64 || cores < 2 ? 0 : Math.min(cores, 8);
  const workerCount = intOption('workers', options.workers, defaultWorkers, 0, 64);

  // Where each sample goes: its row in the train or val file of each benchmark.
  const parts = benchmarks.map((benchmark) => {
    const rows = new Int32Array(kept.length);
    const members: Record<NtuPart, number[]> = { train: [], val: [] };
    samples.forEach((s, i) => {
      const list = members[partOf(s, benchmark)];
      rows[i] = list.length;
      list.push(i);
    });
    return { benchmark, rows, members };
  });
  const writers = new Map<string, NpyWriter>();
  const key = (b: NtuBenchmark, p: NtuPart): string => `${b}/${p}`;
  const outputs: NtuPreprocessOutput[] = [];
  try {
    for (const { benchmark, members } of parts) {
      fs.mkdirSync(path.join(out, benchmark), { recursive: true });
      for (const part of ['train', 'val'] as const) {
        const data = path.join(out, benchmark, `${part}_data_joint.npy`);
        writers.set(key(benchmark, part), NpyWriter.create(data, 'float32', [members[part].length, NTU_FRAMES, NTU_FEATURES]));
        outputs.push({
          benchmark,
          part,
          data,
          label: path.join(out, benchmark, `${part}_label.pkl`),
          lengths: path.join(out, benchmark, `${part}_lengths.npy`),
          samples: members[part].length,
        });
      }
    }
    let done = 0;
    const clipLengths = new Int32Array(kept.length);
    const store = (index: number, rows: Float32Array, length: number): void => {
      clipLengths[index] = length;
      for (const { benchmark, rows: rowOf } of parts) {
        writers.get(key(benchmark, partOf(samples[index]!, benchmark)))!.writeSync(rowOf[index]!, rows);
      }
      done++;
      onProgress?.({ done, total: kept.length, file: kept[index]!, elapsedMs: Date.now() - started });
    };
    const files = kept.map((n) => path.join(raw, n));
    if (workerCount === 0) await runHere(files, store, signal);
    else await runInWorkers(files, workerCount, store, signal);

    for (const w of writers.values()) w.close();
    for (const { benchmark, members } of parts) {
      for (const part of ['train', 'val'] as const) {
        const list = members[part];
        writeLabelPkl(
          path.join(out, benchmark, `${part}_label.pkl`),
          list.map((i) => kept[i]!),
          list.map((i) => samples[i]!.action - 1),
        );
        writeNpy(
          path.join(out, benchmark, `${part}_lengths.npy`),
          Int32Array.from(list, (i) => clipLengths[i]!),
        );
      }
    }
  } catch (e) {
    for (const w of writers.values()) w.abort();
    throw e;
  }
  return { variant, samples: kept.length, ignored: all.length - kept.length, workers: workerCount, elapsedMs: Date.now() - started, outputs };
}

/** In this thread, yielding to the event loop every 50 ms so progress and abort work. */
async function runHere(files: string[], store: (i: number, rows: Float32Array, length: number) => void, signal: AbortSignal | undefined): Promise<void> {
  let last = Date.now();
  for (let i = 0; i < files.length; i++) {
    const { data, lengths } = processFiles([files[i]!]);
    store(i, data, lengths[0]!);
    if (Date.now() - last > 50) {
      await new Promise((resolve) => setImmediate(resolve));
      last = Date.now();
    }
    signal?.throwIfAborted();
  }
}

/** The worker script: the compiled worker.js, or (running from the TypeScript sources, as in tests) worker.ts compiled on load. */
function startWorker(): Worker {
  const workerData = { tag: WORKER_TAG };
  const js = path.join(__dirname, 'worker.js');
  if (fs.existsSync(js)) return new Worker(js, { workerData });
  const ts = path.join(__dirname, 'worker.ts');
  const typescript = require.resolve('typescript');
  const bootstrap = `
    const fs = require('node:fs');
    const ts = require(${JSON.stringify(typescript)});
    require.extensions['.ts'] = (module, filename) => {
      const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
        fileName: filename,
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      });
      module._compile(out.outputText, filename);
    };
    require(${JSON.stringify(ts)});`;
  return new Worker(bootstrap, { eval: true, workerData });
}

function runInWorkers(
  files: string[],
  count: number,
  store: (i: number, rows: Float32Array, length: number) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const workers: Worker[] = [];
    const jobs = new Map<number, number>(); // job id -> first file index
    let nextFile = 0;
    let nextId = 0;
    let finished = false;
    const finish = (error?: unknown): void => {
      if (finished) return;
      finished = true;
      signal?.removeEventListener('abort', onAbort);
      for (const w of workers) void w.terminate();
      if (error === undefined) resolve();
      else reject(error);
    };
    const onAbort = (): void => finish(signal?.reason ?? new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    const send = (w: Worker): void => {
      if (nextFile >= files.length) return;
      const id = nextId++;
      jobs.set(id, nextFile);
      const job: WorkerJob = { id, files: files.slice(nextFile, nextFile + JOB_FILES) };
      nextFile += job.files.length;
      w.postMessage(job);
    };
    for (let k = 0; k < count; k++) {
      const w = startWorker();
      workers.push(w);
      w.on('message', (reply: WorkerReply) => {
        if (finished) return;
        const first = jobs.get(reply.id)!;
        jobs.delete(reply.id);
        if ('error' in reply) {
          finish(new NRNMError(reply.error.message, (reply.error.code as ErrorCode | undefined) ?? 'ERR_FORMAT'));
          return;
        }
        try {
          for (let j = 0; j < reply.lengths.length; j++) store(first + j, reply.data.subarray(j * ROW, (j + 1) * ROW), reply.lengths[j]!);
        } catch (e) {
          finish(e);
          return;
        }
        send(w);
        if (jobs.size === 0 && nextFile >= files.length) finish();
      });
      w.on('error', (e) => finish(e));
      w.on('exit', (code) => {
        if (!finished) finish(new Error(`preprocess worker exited with code ${code}`));
      });
      // Two jobs in flight per worker, so it never waits for this thread.
      send(w);
      send(w);
    }
    if (jobs.size === 0) finish();
  });
}
