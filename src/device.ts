/**
 * Device choice. CUDA is probed once, in a child process (a broken driver
 * can only crash that one), and the answer is cached per binary on disk.
 * 'auto' falls back to the CPU loudly; an explicit 'cuda' fails with the reason.
 */
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NRNMError, argError } from './errors';
import { writeFileAtomicSync } from './io/atomic-write';
import { loadedBinary, native } from './native';

export interface CudaProbe {
  ok: boolean;
  /** Why CUDA cannot be used, when it cannot. */
  reason?: string;
}

let probed: CudaProbe | undefined;
let warned = false;

/** What to do about it: a CPU build needs another build, a CUDA build another machine. */
function howToGetCuda(): string {
  return native().builtWithCuda
    ? 'this binary was built with CUDA: run it where an NVIDIA GPU and its driver are visible (nvidia-smi lists the GPU; check CUDA_VISIBLE_DEVICES)'
    : 'to use a GPU, build nrnm-native against a CUDA LibTorch (README, "Building for CUDA") on a machine with an NVIDIA driver';
}

function cacheFile(binary: string): string {
  const stat = fs.statSync(binary);
  const key = crypto
    .createHash('sha256')
    .update([binary, stat.mtimeMs, stat.size, process.env.CUDA_VISIBLE_DEVICES ?? '', os.release()].join('\0'))
    .digest('hex')
    .slice(0, 16);
  return path.join(os.tmpdir(), `nrnm-native-cuda-probe-${process.getuid?.() ?? 0}-${key}.json`);
}

function probeInChild(binary: string, preloadList: string[]): CudaProbe {
  const script = `
    const os = require('os');
    for (const lib of ${JSON.stringify(preloadList)}) {
      try { process.dlopen({ exports: {} }, lib, os.constants.dlopen.RTLD_NOW | os.constants.dlopen.RTLD_GLOBAL); } catch (e) {}
    }
    const r = require(${JSON.stringify(binary)}).probeCuda();
    process.stdout.write(JSON.stringify(r));`;
  try {
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 120000, stdio: ['ignore', 'pipe', 'pipe'] });
    const r = JSON.parse(out) as { ok: boolean; error?: string };
    return r.ok ? { ok: true } : { ok: false, reason: r.error?.split('\n')[0] ?? 'the CUDA test failed' };
  } catch (err) {
    const e = err as { status?: number; signal?: string; stderr?: string };
    const detail = e.signal ? `it was killed by ${e.signal}` : `it exited with ${e.status}: ${(e.stderr ?? '').trim().split('\n').pop()}`;
    return { ok: false, reason: `the CUDA test process crashed (${detail}); the NVIDIA driver may be broken` };
  }
}

/** Whether CUDA works here, probed once per binary and cached. */
export function probeCuda(): CudaProbe {
  if (probed) return probed;
  // Not runtimeInfo(): on a CUDA build it queries the GPUs, in this process,
  // which is what the child probe below keeps a broken driver away from.
  const addon = native();
  if (!addon.builtWithCuda) {
    probed = { ok: false, reason: `this nrnm-native binary was built for a CPU LibTorch (${addon.variant})` };
    return probed;
  }
  const binary = loadedBinary()!;
  const file = cacheFile(binary.path);
  try {
    probed = JSON.parse(fs.readFileSync(file, 'utf8')) as CudaProbe;
    return probed;
  } catch {
    // not cached yet
  }
  probed = probeInChild(binary.path, binary.preload ?? []);
  try {
    writeFileAtomicSync(file, JSON.stringify(probed));
  } catch {
    // a read-only tmpdir only costs a probe per process
  }
  return probed;
}

/**
 * Resolves a device string: 'cpu', 'cuda', 'cuda:N' or 'auto'. Throws
 * ERR_CUDA for an explicit CUDA request that cannot work.
 */
export function chooseDevice(spec: string | undefined): string {
  const device = spec ?? 'auto';
  if (typeof device !== 'string' || !/^(cpu|cuda|cuda:\d+|auto)$/.test(device)) {
    throw argError('device', "'cpu', 'cuda', 'cuda:N' or 'auto'", device);
  }
  if (device === 'cpu') return 'cpu';
  const probe = probeCuda();
  if (probe.ok) return device === 'auto' ? 'cuda:0' : device;
  if (device === 'auto') {
    if (!warned && process.env.NRNM_QUIET_DEVICE !== '1') {
      warned = true;
      process.stderr.write(`nrnm-native: device 'auto' runs on the CPU: ${probe.reason}; ${howToGetCuda()}.\n`);
    }
    return 'cpu';
  }
  throw new NRNMError(`device '${device}' was requested but CUDA cannot be used: ${probe.reason}; ${howToGetCuda()}, or use device 'cpu'.`, 'ERR_CUDA');
}
