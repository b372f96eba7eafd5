/**
 * Benchmark: training throughput (forward + cross-entropy + backward + Adam
 * step) and batch-1 inference latency of NRNM against LibTorch's own
 * torch::nn::LSTM of the same input/hidden/layers, in this process, after
 * warm-up, on random data. The timing loop is native (native/nrnm/bench/benchmark.cpp,
 * shared with the standalone `nrnm_bench` executable); this file validates
 * options, applies thread settings, runs the configs and formats the result.
 */
import * as os from 'node:os';

import { CHOICES } from './choices';
import { argError } from './errors';
import { chooseDevice } from './device';
import { native, type NativeBenchResult, type NativeBenchTiming, type Precision } from './native';
import type { InputAggregation } from './options';
import { oneOf } from './validate';

export type BenchConfigName = 'small' | 'official' | 'long';
export const BENCH_CONFIGS: readonly BenchConfigName[] = ['small', 'official', 'long'];
export type BenchModelName = 'nrnm' | 'lstm';

export interface BenchOptions {
  /** One config, several, or 'all' (default 'small'). */
  config?: BenchConfigName | 'all' | readonly BenchConfigName[];
  /** Timed training steps per model (default: the config's, a few minutes in all on 2 CPU cores). */
  steps?: number;
  /** Untimed training steps first (default: the config's). */
  warmup?: number;
  /** Timed batch-1 forward calls; 0 skips inference (default: the config's). */
  inferSteps?: number;
  /** 'cpu' (default), 'cuda', 'cuda:N' or 'auto'. */
  device?: string;
  /** ATen intra-op threads; default: 1 (nrnm-native's default, README "Performance"). */
  threads?: number;
  /** OpenBLAS threads (Debian's LibTorch); default: OpenBLAS's own, one per core. */
  blasThreads?: number;
  /** 'fp32' (default); 'tf32' or 'bf16' on CUDA. */
  precision?: Precision;
  /** Which models (default both; the ratio needs both). */
  models?: readonly BenchModelName[];
  seed?: number;
  /** Called after each model of each config. */
  onResult?: (result: BenchModelResult) => void;
}

/** Timing of one measured loop, as the native benchmark reports it. */
export type BenchTiming = NativeBenchTiming;

export interface BenchConfigInfo {
  name: BenchConfigName;
  batch: number;
  timeSteps: number;
  features: number;
  hidden: number;
  layers: number;
  classes: number;
  blockLength: number;
  stride: number;
  aggregation: InputAggregation;
}

export interface BenchModelResult {
  config: BenchConfigName;
  model: BenchModelName;
  description: string;
  parameters: number;
  /** Wall-clock time of one training step. */
  train: BenchTiming;
  /** CPU time of the whole process per training step (all threads). */
  trainCpu: BenchTiming;
  /** Batch size / median step time. */
  trainSequencesPerS: number;
  /** Batch-1 forward latency (count 0 when skipped). */
  infer: BenchTiming;
  lastLoss: number;
}

export interface BenchConfigResult {
  config: BenchConfigInfo;
  trainSteps: number;
  warmup: number;
  nrnm?: BenchModelResult;
  lstm?: BenchModelResult;
  /** NRNM median step time / LSTM median step time (when both ran). */
  ratio?: number;
}

export interface BenchEnvironment {
  device: string;
  torchVersion: string;
  intraOpThreads: number;
  interOpThreads: number;
  blasThreads: number;
  parallelBackend: string;
  blas: string;
  /** nrnm-native's caching CPU allocator (NRNM_CPU_CACHE=0 turns it off). */
  cpuCachingAllocator: boolean;
  cpu: string;
  cpus: number;
  /** 1-minute load average before and after: other processes disturb the numbers. */
  loadBefore: number;
  loadAfter: number;
}

export interface BenchReport {
  environment: BenchEnvironment;
  results: BenchConfigResult[];
}

function positiveInteger(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw argError(name, `an integer >= ${min}`, value);
  }
  return value;
}

function configNames(config: BenchOptions['config']): BenchConfigName[] {
  if (config === undefined) return ['small'];
  if (config === 'all') return [...BENCH_CONFIGS];
  const list = typeof config === 'string' ? [config] : config;
  if (!Array.isArray(list) || list.length === 0) throw argError('config', "'small', 'official', 'long', 'all' or a list of them", config);
  for (const name of list) {
    if (!BENCH_CONFIGS.includes(name as BenchConfigName)) throw argError('config', "'small', 'official', 'long' or 'all'", name);
  }
  return [...list] as BenchConfigName[];
}

function timing(t: NativeBenchTiming): BenchTiming {
  return { ...t, samplesMs: [...t.samplesMs] };
}

/** Runs the benchmark; one config after the other, NRNM then LSTM. */
export async function runBench(options: BenchOptions = {}): Promise<BenchReport> {
  const names = configNames(options.config);
  const models = options.models ?? ['nrnm', 'lstm'];
  for (const m of models) if (m !== 'nrnm' && m !== 'lstm') throw argError('models', "a list of 'nrnm' and 'lstm'", models);
  const steps = options.steps === undefined ? 0 : positiveInteger('steps', options.steps, 1);
  const warmup = options.warmup === undefined ? -1 : positiveInteger('warmup', options.warmup, 0);
  const inferSteps = options.inferSteps === undefined ? 0 : options.inferSteps === 0 ? -1 : positiveInteger('inferSteps', options.inferSteps, 0);
  const threads = options.threads === undefined ? undefined : positiveInteger('threads', options.threads, 1);
  const blasThreads = options.blasThreads === undefined ? undefined : positiveInteger('blasThreads', options.blasThreads, 1);
  const seed = options.seed === undefined ? 0 : positiveInteger('seed', options.seed, 0);
  const precision = oneOf('precision', options.precision, CHOICES.precision, 'fp32');
  const device = chooseDevice(options.device ?? 'cpu');

  const addon = native();
  if (threads !== undefined) addon.setThreads(threads);
  if (blasThreads !== undefined && !addon.bench.setBlasThreads(blasThreads)) {
    process.stderr.write('nrnm-native: blasThreads ignored: the BLAS of this LibTorch is not OpenBLAS\n');
  }
  const loadBefore = os.loadavg()[0];
  const env = addon.bench.environment(device);
  const results: BenchConfigResult[] = [];
  for (const name of names) {
    const preset = addon.bench.config(name);
    const entry: BenchConfigResult = {
      config: {
        name,
        batch: preset.batch,
        timeSteps: preset.timeSteps,
        features: preset.features,
        hidden: preset.hidden,
        layers: preset.layers,
        classes: preset.classes,
        blockLength: preset.blockLength,
        stride: preset.stride,
        aggregation: preset.aggregation as InputAggregation,
      },
      trainSteps: steps || preset.trainSteps,
      warmup: warmup >= 0 ? warmup : preset.warmup,
    };
    for (const model of models) {
      const raw: NativeBenchResult = await addon.bench.run({
        config: name,
        model,
        trainSteps: steps,
        warmup,
        inferSteps,
        inferWarmup: -1,
        device,
        precision,
        seed,
      });
      const result: BenchModelResult = {
        config: name,
        model,
        description: raw.description,
        parameters: raw.parameters,
        train: timing(raw.train),
        trainCpu: timing(raw.trainCpu),
        trainSequencesPerS: raw.trainSequencesPerS,
        infer: timing(raw.infer),
        lastLoss: raw.lastLoss,
      };
      entry[model] = result;
      options.onResult?.(result);
    }
    if (entry.nrnm && entry.lstm && entry.lstm.train.medianMs > 0) entry.ratio = entry.nrnm.train.medianMs / entry.lstm.train.medianMs;
    results.push(entry);
  }
  const cpus = os.cpus();
  return {
    environment: {
      ...env,
      cpu: cpus[0]?.model ?? 'unknown',
      cpus: cpus.length,
      loadBefore,
      loadAfter: os.loadavg()[0],
    },
    results,
  };
}

function pad(text: string, width: number, left = false): string {
  return left ? text.padEnd(width) : text.padStart(width);
}

function ms(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** The report as a text table. */
export function formatBench(report: BenchReport): string {
  const e = report.environment;
  const lines = [
    `device ${e.device} (${e.cpu}, ${e.cpus} CPUs), LibTorch ${e.torchVersion}, ${e.parallelBackend} intra-op threads ${e.intraOpThreads}, ` +
      `OpenBLAS threads ${e.blasThreads || 'n/a'}, caching CPU allocator ${e.cpuCachingAllocator ? 'on' : 'off'}, ` +
      `load ${e.loadBefore.toFixed(2)} -> ${e.loadAfter.toFixed(2)}`,
    '',
    `${pad('config', 9, true)} ${pad('model', 5, true)} ${pad('step ms', 9)} ${pad('p10-p90 ms', 15)} ${pad('seq/s', 8)} ${pad('cpu ms', 8)} ${pad('infer ms', 9)} ${pad('p10-p90 ms', 13)}`,
  ];
  for (const r of report.results) {
    for (const m of [r.nrnm, r.lstm]) {
      if (!m) continue;
      lines.push(
        `${pad(r.config.name, 9, true)} ${pad(m.model, 5, true)} ${pad(ms(m.train.medianMs), 9)} ${pad(`${ms(m.train.p10Ms)}-${ms(m.train.p90Ms)}`, 15)} ` +
          `${pad(m.trainSequencesPerS.toFixed(1), 8)} ${pad(ms(m.trainCpu.medianMs), 8)} ` +
          `${pad(m.infer.count ? ms(m.infer.medianMs) : '-', 9)} ${pad(m.infer.count ? `${ms(m.infer.p10Ms)}-${ms(m.infer.p90Ms)}` : '-', 13)}`,
      );
    }
    if (r.ratio !== undefined) lines.push(`${pad(r.config.name, 9, true)} NRNM / LSTM step time: ${r.ratio.toFixed(2)}x (medians)`);
  }
  lines.push('');
  for (const r of report.results) {
    const c = r.config;
    lines.push(
      `${c.name}: batch ${c.batch}, ${c.timeSteps} steps, ${c.features} features, ${c.layers}x${c.hidden}, ` +
        `${c.aggregation} aggregation (k=${c.blockLength}, s=${c.stride}); ${r.trainSteps} timed step${r.trainSteps === 1 ? '' : 's'} after ${r.warmup} warm-up`,
    );
  }
  return lines.join('\n');
}
