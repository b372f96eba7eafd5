/**
 * The single place that loads the native addon and declares its interface.
 * Public classes keep native handles private; nothing else requires a .node.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { Choice } from './choices';
import type { DType } from './dtype';
import { NRNMError } from './errors';

/** Root of the installed package (holds package.json, build/, prebuilds/). */
export const packageRoot = path.resolve(__dirname, '..');

/** Training precision (tf32 and bf16 only on CUDA). */
export type Precision = Choice<'precision'>;
export type NativeTypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface NativeTensorHandle {
  shape(): number[];
  dtype(): DType;
  device(): string;
  toArray(): NativeTypedArray;
  to(device: string): NativeTensorHandle;
  dispose(): void;
  isDisposed(): boolean;
}

export interface NativeGpuInfo {
  index: number;
  name: string;
  totalMemoryBytes: number;
  computeCapability: string;
  multiprocessors: number;
}

export interface NativeRuntimeInfo {
  torchVersion: string;
  builtWithCuda: boolean;
  cudaAvailable: boolean;
  cudaRuntimeVersion: number;
  cudaDriverVersion: number;
  cudnnVersion: number;
  intraOpThreads: number;
  interOpThreads: number;
  parallelInfo: string;
  variant: string;
  gpus: NativeGpuInfo[];
}

/** The flat, fully-defaulted model options that cross into C++. */
export interface NativeModelOptions {
  inputSize: number;
  classes: number;
  hiddenSize: number;
  layers: number;
  blockLength: number;
  stride: number;
  heads: number;
  inputAggregation: string;
  zoneout: number;
  zoneoutMode: string;
  memoryDropout: number;
  memoryDropoutMode: string;
  aggregationDropout: number;
  init: string;
  head: string;
  backbone: string;
  task: string;
  attention: string;
  seed: number;
}

export interface NativeModelHandle {
  predict(x: NativeTensorHandle, lengths?: NativeTensorHandle): Promise<NativeTensorHandle>;
  lossAndGradients(
    x: NativeTensorHandle,
    y: NativeTensorHandle,
    lengths?: NativeTensorHandle,
  ): Promise<{ loss: number; gradients: Record<string, NativeTensorHandle> }>;
  setTraining(on: boolean): void;
  isTraining(): boolean;
  parameterNames(): string[];
  parameterShapes(): Record<string, number[]>;
  stateDict(): Record<string, NativeTensorHandle>;
  loadStateDict(dict: Record<string, NativeTensorHandle>): void;
  device(): string;
  describe(): string;
  /** Parameters and generator state, as an opaque archive. */
  /** The checkpoint's bytes, with `header` (JSON) as its "nrnm.header" metadata. */
  save(header: string): Promise<Buffer>;
  /** Restores from checkpoint bytes; all or nothing; errors name `source`. */
  load(bytes: Buffer, source: string): Promise<void>;
  dispose(): void;
}

/** The state of one stream over a model (src/stream.ts). */
export interface NativeStreamHandle {
  /** x [B, S, F] -> the head at each of the S steps [B, S, C], on the CPU. */
  push(x: NativeTensorHandle): Promise<NativeTensorHandle>;
  /** All rows (the next push may change the batch), or the given rows, back to step 0 with the initial state. */
  reset(rows?: number[]): Promise<void>;
  dispose(): void;
}

/** The flat, fully-defaulted trainer options that cross into C++. */
export interface NativeTrainerOptions {
  optimizer: Choice<'optimizer'>;
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  scheduler: Choice<'scheduler'>;
  stepSize: number;
  gamma: number;
  tMax: number;
  minLr: number;
  patience: number;
  monitor: Choice<'monitor'>;
  warmupSteps: number;
  clip: number;
  precision: Precision;
}

/** The flat, checked struct native code reads (DistributedOptionsFromJs). */
export interface NativeDistributedOptions {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  storeFile: string;
  masterAddr: string;
  masterPort: number;
  hostStore: boolean;
  storePrefix: string;
  interface: string;
  timeout: number;
  backend: Choice<'backend'>;
}

/** What `join` takes: the options and what every rank must give alike ([name, value] pairs, `agreement` in group.h). */
export type NativeJoinOptions = NativeDistributedOptions & { agreement: Array<[string, string]> };

export interface NativeTrainerHandle {
  step(
    x: NativeTensorHandle,
    y: NativeTensorHandle,
    lengths?: NativeTensorHandle,
  ): Promise<{ loss: number; correct: number; gradNorm: number; samples: number; allreduceMs: number; targets: number }>;
  evaluate(
    x: NativeTensorHandle,
    y: NativeTensorHandle,
    lengths?: NativeTensorHandle,
  ): Promise<{ lossSum: number; correct: number; targets: number; logits: NativeTensorHandle }>;
  lr(): number;
  setLr(lr: number): void;
  /** `metric`: the epoch's evaluation that a 'plateau' scheduler follows. */
  endEpoch(metric?: number): void;
  counts(): { steps: number; epochs: number };
  /** Model parameters, generator and optimizer/scheduler state, as an opaque archive. */
  /** The checkpoint's bytes, with `header` (JSON) as its "nrnm.header" metadata. */
  save(header: string): Promise<Buffer>;
  /** Restores from checkpoint bytes; all or nothing; errors name `source`. */
  load(bytes: Buffer, source: string): Promise<void>;
  dispose(): void;
  /** Joins the other ranks (data-parallel), takes rank 0's weights. */
  join(options: NativeJoinOptions): Promise<void>;
  /** Each value summed over the ranks (the values themselves before join). */
  sumOverRanks(values: number[]): Promise<number[]>;
  agreeOverRanks(facts: Array<[string, string]>, what: string): Promise<void>;
}

export interface NativeBenchTiming {
  count: number;
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  q1Ms: number;
  q3Ms: number;
  minMs: number;
  maxMs: number;
  meanMs: number;
  samplesMs: number[];
}

export interface NativeBenchConfig {
  name: string;
  batch: number;
  timeSteps: number;
  features: number;
  hidden: number;
  layers: number;
  classes: number;
  blockLength: number;
  stride: number;
  aggregation: string;
  trainSteps: number;
  warmup: number;
  inferSteps: number;
  inferWarmup: number;
}

/** Flat, validated options of one benchmark run (0 / -1: the config's default; inferSteps -1: skip). */
export interface NativeBenchOptions {
  config: string;
  model: 'nrnm' | 'lstm';
  trainSteps: number;
  warmup: number;
  inferSteps: number;
  inferWarmup: number;
  device: string;
  precision: Precision;
  seed: number;
}

export interface NativeBenchResult {
  config: NativeBenchConfig;
  model: 'nrnm' | 'lstm';
  description: string;
  parameters: number;
  train: NativeBenchTiming;
  trainCpu: NativeBenchTiming;
  trainSequencesPerS: number;
  infer: NativeBenchTiming;
  lastLoss: number;
}

export interface NativeBench {
  configs(): string[];
  config(name: string): NativeBenchConfig;
  environment(device: string): {
    device: string;
    torchVersion: string;
    intraOpThreads: number;
    interOpThreads: number;
    blasThreads: number;
    parallelBackend: string;
    blas: string;
    cpuCachingAllocator: boolean;
  };
  run(options: NativeBenchOptions): Promise<NativeBenchResult>;
  /** false when the BLAS is not OpenBLAS. */
  setBlasThreads(n: number): boolean;
}

export interface NativeAddon {
  TensorHandle: {
    fromArray(data: NativeTypedArray, shape: readonly number[]): NativeTensorHandle;
  };
  ModelHandle: new (options: NativeModelOptions, device: string) => NativeModelHandle;
  TrainerHandle: new (model: NativeModelHandle, options: NativeTrainerOptions) => NativeTrainerHandle;
  StreamHandle: new (model: NativeModelHandle) => NativeStreamHandle;
  setErrorClass(ctor: typeof NRNMError): void;
  /** A checkpoint's metadata, after its checksum and format checks; errors name `source`. */
  checkpointMetadata(bytes: Buffer, source: string): Promise<Record<string, string>>;
  runtimeInfo(): NativeRuntimeInfo;
  /** The C++ defaults (TORCH_ARG initialisers); test/options-defaults.test.ts holds src/'s to them. */
  defaultOptions(): { model: Omit<NativeModelOptions, 'inputSize' | 'classes'>; trainer: NativeTrainerOptions };
  /** The names of every value of every option enum (C++'s EnumNames tables), by option. */
  optionChoices(): Record<string, string[]>;
  setThreads(intraOp: number): void;
  /** A tiny op on cuda:0; run it in a child process (src/device.ts). */
  probeCuda(): { ok: boolean; error?: string };
  /** Compile-time facts of this binary (no CUDA call needed to read them). */
  readonly builtWithCuda: boolean;
  readonly variant: string;
  /** Training/inference benchmark of NRNM against torch::nn::LSTM (src/bench.ts). */
  bench: NativeBench;
}

export interface LoadedBinary {
  /** Absolute path of the .node file that was loaded. */
  path: string;
  /** Why this file, e.g. 'prebuild for torch1.13-cpu-cxx11 (LibTorch 1.13.0 from system: ...)'. */
  reason: string;
  /** The LibTorch variant the binary was built for, when known (prebuilds). */
  variant?: string;
  /** Libraries opened before the binary (prebuilds), for child processes to repeat. */
  preload?: string[];
}

/** The LibTorch discovery of scripts/libtorch.js (shared with the build). */
export interface FoundLibTorch {
  source: string;
  root: string;
  libDir: string;
  version: string | null;
  flavour: string;
  cuda: boolean;
  /** The C++ ABI: 'cxx11' or 'precxx11' (_GLIBCXX_USE_CXX11_ABI=1 or 0). */
  abi: string;
  /** torch<major>.<minor>-<cpu|cuN>-<abi>: what a prebuild must match, all three. */
  variant: string;
}

let addon: NativeAddon | undefined;
let loaded: LoadedBinary | undefined;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const discovery = require(path.join(packageRoot, 'scripts', 'libtorch.js')) as {
  findLibTorch(env?: NodeJS.ProcessEnv): FoundLibTorch;
  prebuildFile(root: string, variant: string): string;
  variantMismatch(variant: string, found: FoundLibTorch): string | null;
};

/** What the prebuild search saw, for the one error when nothing loads. */
interface PrebuildSearch {
  shipped: string[];
  found?: FoundLibTorch;
}

interface Candidate {
  file: string;
  reason: string;
  variant?: string;
  /** LibTorch libraries to open first (a prebuild's RUNPATH points at its build machine). */
  preload?: string[];
}

/** Prebuild variant directories holding a binary for this platform. */
function prebuildVariants(): { variant: string; file: string }[] {
  let variants: string[];
  try {
    variants = fs.readdirSync(path.join(packageRoot, 'prebuilds'));
  } catch {
    return [];
  }
  return variants.map((variant) => ({ variant, file: discovery.prebuildFile(packageRoot, variant) })).filter((v) => fs.existsSync(v.file));
}

/** The libraries of a LibTorch, in dependency order, that exist in its lib dir. */
function libTorchLibraries(libtorch: FoundLibTorch): string[] {
  const names = ['libc10.so', 'libtorch_cpu.so', ...(libtorch.cuda ? ['libc10_cuda.so', 'libtorch_cuda.so'] : []), 'libtorch.so'];
  return names.map((n) => path.join(libtorch.libDir, n)).filter((f) => fs.existsSync(f));
}

/** The local build (build/Release, then build/Debug), as node-gyp-build resolves it. */
function localBuild(): string | undefined {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  try {
    const file = nodeGypBuild.resolve(packageRoot);
    return file.startsWith(path.join(packageRoot, 'build')) ? file : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where to load from, in order: NRNM_NATIVE_BINARY; in a git checkout the
 * local build; the prebuild whose variant matches the LibTorch on this
 * machine; the local build (its RUNPATH names the LibTorch it was built
 * with). Lazy: LibTorch discovery (which may start Python) runs only when
 * a prebuild is actually next to try. `tried` collects what was skipped.
 */
function* candidates(tried: string[], search: PrebuildSearch): Generator<Candidate> {
  const forced = process.env.NRNM_NATIVE_BINARY;
  if (forced) {
    yield { file: path.resolve(forced), reason: 'NRNM_NATIVE_BINARY' };
    return;
  }
  const local = localBuild();
  // In a git checkout the local build is what the developer is changing:
  // it goes before any (possibly stale) prebuild.
  const checkout = local !== undefined && fs.existsSync(path.join(packageRoot, '.git'));
  if (checkout) yield { file: local, reason: 'local build (git checkout)' };
  const prebuilds = prebuildVariants();
  search.shipped = prebuilds.map((p) => p.variant);
  if (prebuilds.length > 0) {
    let libtorch: FoundLibTorch | undefined;
    try {
      libtorch = discovery.findLibTorch(process.env);
    } catch (err) {
      tried.push(
        `prebuilds (${prebuilds.map((p) => p.variant).join(', ')}): no LibTorch on this machine to run them with:\n    ${(err as Error).message.split('\n').join('\n    ')}`,
      );
    }
    if (libtorch) {
      search.found = libtorch;
      const match = prebuilds.find((p) => p.variant === libtorch!.variant);
      if (match) {
        yield {
          file: match.file,
          reason: `prebuild for ${match.variant} (LibTorch ${libtorch.version} from ${libtorch.source}: ${libtorch.libDir})`,
          variant: match.variant,
          preload: libTorchLibraries(libtorch),
        };
      } else {
        // Explained, never tried: a wrong ABI or torch fails deep in dlopen.
        tried.push(
          `prebuilds: none fits the LibTorch found, ${libtorch.variant} (LibTorch ${libtorch.version} from ${libtorch.source}: ${libtorch.root}); ` +
            `a prebuild runs only with the torch minor, CUDA major and C++ ABI it was built for:\n${prebuilds
              .map((p) => `      ${discovery.variantMismatch(p.variant, libtorch!)}`)
              .join('\n')}`,
        );
      }
    }
  }
  if (local === undefined) {
    tried.push(`local build: no ${path.join(packageRoot, 'build', 'Release', 'nrnm_native.node')}`);
  } else if (!checkout) {
    yield { file: local, reason: 'local build' };
  }
}

function loadFailure(tried: string[], search: PrebuildSearch, cause?: unknown): NRNMError {
  const found = search.found
    ? `the LibTorch found is ${search.found.variant} (LibTorch ${search.found.version} from ${search.found.source}: ${search.found.root})`
    : 'no LibTorch was found to match a prebuild with';
  const shipped = search.shipped.length > 0 ? `this package ships prebuilds for ${search.shipped.join(', ')}` : 'this package ships no prebuilds';
  const lines = [
    `The native addon could not be loaded: ${found}; ${shipped}.`,
    `Tried:\n${tried.map((t) => `  - ${t}`).join('\n')}`,
    'Two ways out:',
    '  1. build it for the LibTorch on this machine: `npx nrnm-native build` (5-15 minutes; needs cmake, a C++17',
    '     compiler (C++20 for LibTorch 2.14+) and LibTorch: LIBTORCH=/path/to/libtorch, a Python with PyTorch, or',
    '     `apt-get install libtorch-dev`);',
    "  2. or, if npm skipped this package's install script (npm 11 asks before running them), allow it and",
    '     reinstall, so that it picks or builds the addon: `npm install-scripts approve nrnm-native`, then `npm rebuild nrnm-native`.',
    'NRNM_NATIVE_BINARY=/path/to/file.node loads a given build.',
  ];
  return new NRNMError(lines.join('\n'), 'ERR_NATIVE_LOAD', { cause });
}

/** Opens shared libraries globally so the addon's LibTorch dependencies resolve by soname. */
export function preload(libraries: string[]): void {
  const flags = os.constants.dlopen.RTLD_NOW | os.constants.dlopen.RTLD_GLOBAL;
  for (const library of libraries) {
    try {
      process.dlopen({ exports: {} } as NodeJS.Module, library, flags);
    } catch (err) {
      // A plain library is not a Node module: dlopen succeeds, then Node
      // complains that it did not register. Anything else is a real failure.
      if (!/did not self-register|Module did not self-register/.test((err as Error).message)) throw err;
    }
  }
}

/** Loads the addon once; later calls return the same module. */
export function native(): NativeAddon {
  if (addon) return addon;
  const tried: string[] = [];
  const search: PrebuildSearch = { shipped: [] };
  for (const candidate of candidates(tried, search)) {
    if (!fs.existsSync(candidate.file)) {
      tried.push(`${candidate.file} (${candidate.reason}): no such file`);
      continue;
    }
    try {
      if (candidate.preload) preload(candidate.preload);
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const module = require(candidate.file) as NativeAddon;
      module.setErrorClass(NRNMError);
      addon = module;
      loaded = { path: candidate.file, reason: candidate.reason, variant: candidate.variant, preload: candidate.preload };
      return module;
    } catch (err) {
      tried.push(`${candidate.file} (${candidate.reason}): ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw loadFailure(tried, search);
}

/** Which binary was loaded and why; undefined before the first load. */
export function loadedBinary(): LoadedBinary | undefined {
  return loaded;
}
