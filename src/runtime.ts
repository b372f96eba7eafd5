/**
 * What this process runs on: the loaded binary, the LibTorch it really
 * mapped, and what that LibTorch can do.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { loadedBinary, native, type NativeGpuInfo } from './native';
import { packageVersion } from './version';

export interface RuntimeReport {
  packageVersion: string;
  node: string;
  napiVersion: string;
  platform: string;
  glibc: string | null;
  binary: { path: string; reason: string };
  libtorch: { version: string; path: string | null; variant: string };
  cuda: {
    builtWithCuda: boolean;
    /** The CUDA major of the LibTorch this binary was built for ("13"), from its variant. */
    builtWith: string | null;
    available: boolean;
    runtimeVersion: string | null;
    driverVersion: string | null;
    cudnnVersion: string | null;
    /** The CUDA libraries this process mapped (cudart, cuBLAS, cuDNN, NCCL, NVRTC...), with their files. */
    libraries: { name: string; path: string }[];
  };
  gpus: NativeGpuInfo[];
  threads: { intraOp: number; interOp: number; parallelBackend: string };
}

/** CUDA encodes versions as 1000*major + 10*minor (12040 -> "12.4"). */
function cudaVersion(v: number): string | null {
  if (!v) return null;
  return `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
}

/** cuDNN 9 encodes 10000*major + 100*minor + patch; cuDNN 8 1000*major + 100*minor + patch. */
function cudnnVersion(v: number): string | null {
  if (!v) return null;
  const major = v >= 90000 ? Math.floor(v / 10000) : Math.floor(v / 1000);
  const rest = v >= 90000 ? v % 10000 : v % 1000;
  return `${major}.${Math.floor(rest / 100)}.${rest % 100}`;
}

/** The directory of the libtorch_cpu.so this process actually mapped. */
function mappedLibTorchDir(): string | null {
  try {
    const maps = fs.readFileSync('/proc/self/maps', 'utf8');
    const match = /\s(\/\S*libtorch_cpu\.so[^\s]*)$/m.exec(maps);
    return match ? path.dirname(match[1]) : null;
  } catch {
    return null;
  }
}

/** The CUDA major a binary was built for, from its variant (torch2.14-cu13-cxx11 -> '13'). */
function builtWithCuda(variant: string): string | null {
  const match = /-cu(\d+)-/.exec(variant);
  return match ? match[1] : null;
}

/**
 * The CUDA libraries mapped into this process, by soname stem: which cuBLAS
 * or cuDNN a CUDA build really uses (the toolkit's, or the nvidia-* pip
 * packages next to torch) is the first question when CUDA misbehaves.
 */
const CUDA_LIBRARY = /\s(\/\S*\/lib(cudart|cublas|cublasLt|cudnn|nccl|nvrtc|cusparse|cufft|curand|cusolver|nvJitLink|cuda)\.so[.\d]*)$/gm;
function mappedCudaLibraries(): { name: string; path: string }[] {
  let maps: string;
  try {
    maps = fs.readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return [];
  }
  const seen = new Map<string, string>();
  for (const match of maps.matchAll(CUDA_LIBRARY)) {
    if (!seen.has(match[2])) seen.set(match[2], match[1]);
  }
  return [...seen].map(([name, file]) => ({ name, path: file }));
}

function glibcVersion(): string | null {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ?? null;
}

function backend(parallelInfo: string): string {
  const match = /ATen parallel backend: (.+)/.exec(parallelInfo);
  return match ? match[1].trim() : 'unknown';
}

export function runtimeReport(): RuntimeReport {
  const info = native().runtimeInfo();
  const binary = loadedBinary();
  return {
    packageVersion: packageVersion(),
    node: process.version,
    napiVersion: process.versions.napi ?? 'unknown',
    platform: `${process.platform}-${process.arch}`,
    glibc: glibcVersion(),
    binary: binary ?? { path: 'unknown', reason: 'unknown' },
    libtorch: { version: info.torchVersion, path: mappedLibTorchDir(), variant: info.variant },
    cuda: {
      builtWithCuda: info.builtWithCuda,
      builtWith: info.builtWithCuda ? builtWithCuda(info.variant) : null,
      available: info.cudaAvailable,
      runtimeVersion: cudaVersion(info.cudaRuntimeVersion),
      driverVersion: cudaVersion(info.cudaDriverVersion),
      cudnnVersion: cudnnVersion(info.cudnnVersion),
      libraries: info.builtWithCuda ? mappedCudaLibraries() : [],
    },
    gpus: info.gpus,
    threads: { intraOp: info.intraOpThreads, interOp: info.interOpThreads, parallelBackend: backend(info.parallelInfo) },
  };
}
