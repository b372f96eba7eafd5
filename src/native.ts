/**
 * The single place that loads the native addon and declares its interface.
 * Public classes keep native handles private; nothing else requires a .node.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { NRNMError } from './errors';

/** Root of the installed package (holds package.json, build/, prebuilds/). */
export const packageRoot = path.resolve(__dirname, '..');

export type NativeDtype = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8';
export type NativeTypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;

export interface NativeTensorHandle {
  shape(): number[];
  dtype(): NativeDtype;
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

export interface NativeAddon {
  TensorHandle: {
    fromArray(data: NativeTypedArray, shape: readonly number[]): NativeTensorHandle;
  };
  setErrorClass(ctor: typeof NRNMError): void;
  runtimeInfo(): NativeRuntimeInfo;
  setThreads(intraOp: number): void;
}

export interface LoadedBinary {
  /** Absolute path of the .node file that was loaded. */
  path: string;
  /** Why this file: 'NRNM_NATIVE_BINARY', 'local build' or 'prebuild'. */
  reason: string;
}

let addon: NativeAddon | undefined;
let loaded: LoadedBinary | undefined;

function candidates(): { file: string; reason: string }[] {
  const forced = process.env.NRNM_NATIVE_BINARY;
  if (forced) return [{ file: path.resolve(forced), reason: 'NRNM_NATIVE_BINARY' }];
  // node-gyp-build resolves <root>/build/Release first, then
  // <root>/prebuilds/<platform>-<arch>.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
  try {
    const file = nodeGypBuild.resolve(packageRoot);
    const reason = file.includes(`${path.sep}prebuilds${path.sep}`) ? 'prebuild' : 'local build';
    return [{ file, reason }];
  } catch {
    return [];
  }
}

function loadFailure(tried: string[], cause?: unknown): NRNMError {
  const lines = [
    'nrnm-native: the native addon could not be loaded.',
    tried.length
      ? `Tried:\n${tried.map((t) => `  - ${t}`).join('\n')}`
      : `No binary found in ${path.join(packageRoot, 'build', 'Release')} or ${path.join(packageRoot, 'prebuilds')}.`,
    'To fix: build it for the LibTorch on this machine with `npx nrnm-native build`',
    '(needs cmake, a C++17 compiler and LibTorch: LIBTORCH=/path/to/libtorch, a Python with',
    'PyTorch, or `apt-get install libtorch-dev`), or point NRNM_NATIVE_BINARY at a .node file.',
  ];
  return new NRNMError(lines.join('\n'), 'ERR_NATIVE_LOAD', { cause });
}

/** Loads the addon once; later calls return the same module. */
export function native(): NativeAddon {
  if (addon) return addon;
  const tried: string[] = [];
  for (const { file, reason } of candidates()) {
    if (!fs.existsSync(file)) {
      tried.push(`${file} (${reason}): no such file`);
      continue;
    }
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const module = require(file) as NativeAddon;
      module.setErrorClass(NRNMError);
      addon = module;
      loaded = { path: file, reason };
      return module;
    } catch (err) {
      tried.push(`${file} (${reason}): ${(err as Error).message.split('\n')[0]}`);
      throw loadFailure(tried, err);
    }
  }
  throw loadFailure(tried);
}

/** Which binary was loaded and why; undefined before the first load. */
export function loadedBinary(): LoadedBinary | undefined {
  return loaded;
}
