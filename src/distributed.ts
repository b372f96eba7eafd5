/**
 * Data-parallel training options: checked once here, then one flat struct
 * crosses into C++ (native/nrnm/distributed/group.h, on c10d). Also reads the
 * environment that torchrun and `nrnm-native train --nproc` give each worker.
 */
import * as os from 'node:os';

import { CHOICES, type Choice } from './choices';
import { chooseDevice } from './device';
import { NRNMError, argError } from './errors';
import { native, type NativeDistributedOptions } from './native';
import { checkKeys, intOption, oneOf, stringOption } from './validate';

export interface DistributedOptions {
  /** This process's rank in [0, worldSize). */
  rank: number;
  /** Number of processes training together. */
  worldSize: number;
  /** Rank on this machine: the GPU it uses on CUDA. Default: rank. */
  localRank?: number;
  /** Processes on this machine (they share its cores). Default: worldSize. */
  localWorldSize?: number;
  /**
   * Where the ranks meet. `{ file }`: a FileStore (one machine, no port
   * opened; the file must not exist yet, so use a new temporary folder per
   * run). `{ host, port }`: a TCPStore that rank 0 hosts, unless
   * `hostedByLauncher` (torchrun's agent hosts one). Default
   * `{ host: '127.0.0.1', port: 29500 }`.
   */
  store?: { file: string } | { host: string; port: number; hostedByLauncher?: boolean; prefix?: string };
  /** Network interface of the connections between ranks (as GLOO_SOCKET_IFNAME). Default: 127.0.0.1 for a file store or a loopback host, else this host's address. */
  interface?: string;
  /** Seconds to wait for the other ranks when joining and in each collective (default 300). */
  timeout?: number;
  /** 'gloo' (CPU, default) or 'nccl' (CUDA builds, one GPU per rank). */
  backend?: Choice<'backend'>;
}

/** The flat, checked struct native code reads; its shape lives with the other native shapes. */
export type ResolvedDistributed = NativeDistributedOptions;

export const DEFAULT_DISTRIBUTED_TIMEOUT = 300;
const KEYS = ['rank', 'worldSize', 'localRank', 'localWorldSize', 'store', 'interface', 'timeout', 'backend'] as const;

export function resolveDistributed(o: DistributedOptions): ResolvedDistributed {
  checkKeys(o, KEYS, 'distributed');
  const worldSize = intOption('distributed.worldSize', o.worldSize, 0, 1);
  if (o.worldSize === undefined) throw argError('distributed.worldSize', 'a positive integer', undefined);
  if (o.rank === undefined) throw argError('distributed.rank', `an integer between 0 and ${worldSize - 1}`, undefined);
  const rank = intOption('distributed.rank', o.rank, 0, 0, worldSize - 1);
  const localWorldSize = intOption('distributed.localWorldSize', o.localWorldSize, worldSize, 1, worldSize);
  const localRank = intOption('distributed.localRank', o.localRank, rank % localWorldSize, 0, localWorldSize - 1);
  const timeout = o.timeout ?? DEFAULT_DISTRIBUTED_TIMEOUT;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) throw argError('distributed.timeout', 'a positive number of seconds', timeout);
  const store = o.store ?? { host: '127.0.0.1', port: 29500 };
  let file = '';
  let host = '127.0.0.1';
  let port = 29500;
  let hostStore = true;
  let prefix = 'nrnm';
  if (typeof store !== 'object' || store === null) throw argError('distributed.store', '{ file } or { host, port }', store);
  if ('file' in store) {
    checkKeys(store, ['file'], 'distributed.store');
    file = stringOption('distributed.store.file', store.file);
  } else {
    checkKeys(store, ['host', 'port', 'hostedByLauncher', 'prefix'], 'distributed.store');
    host = stringOption('distributed.store.host', store.host);
    port = intOption('distributed.store.port', store.port, 29500, 1, 65535);
    hostStore = !(store.hostedByLauncher ?? false);
    prefix = store.prefix === undefined ? prefix : stringOption('distributed.store.prefix', store.prefix);
  }
  return {
    rank,
    worldSize,
    localRank,
    localWorldSize,
    storeFile: file,
    masterAddr: host,
    masterPort: port,
    hostStore,
    storePrefix: prefix,
    interface: o.interface === undefined ? '' : stringOption('distributed.interface', o.interface),
    timeout,
    backend: oneOf('distributed.backend', o.backend, CHOICES.backend, 'gloo'),
  };
}

/**
 * What every rank of a run must give alike, checked when the ranks join
 * (before any collective): the model options but the seed and the device,
 * and the trainer options. Canonical text (JSON of each value) per name.
 */
export function agreementOf(model: object, trainer: object): Array<[string, string]> {
  const facts: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(model)) {
    if (name !== 'seed' && name !== 'device') facts.push([name, JSON.stringify(value)]);
  }
  for (const [name, value] of Object.entries(trainer)) {
    if (name !== 'distributed') facts.push([`trainer ${name}`, JSON.stringify(value)]);
  }
  return facts.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Set by `nrnm-native train --nproc` for its workers: the FileStore of the run. */
export const STORE_FILE_ENV = 'NRNM_STORE_FILE';

function envInt(env: NodeJS.ProcessEnv, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const text = env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new NRNMError(`The environment variable ${name}=${text} must be an integer between ${min} and ${max}`, 'ERR_ARG');
  }
  return value;
}

/**
 * The distributed options of this process from the variables torchrun (and
 * `nrnm-native train --nproc`) set: RANK, WORLD_SIZE, LOCAL_RANK,
 * LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_USE_AGENT_STORE,
 * TORCHELASTIC_RESTART_COUNT, GLOO_SOCKET_IFNAME. Undefined when WORLD_SIZE
 * is unset or 1 (one process trains as before).
 */
export function distributedFromEnv(env: NodeJS.ProcessEnv = process.env): DistributedOptions | undefined {
  const worldSize = envInt(env, 'WORLD_SIZE', 1);
  if (worldSize === undefined || worldSize === 1) return undefined;
  const rank = envInt(env, 'RANK', 0, worldSize - 1);
  if (rank === undefined)
    throw new NRNMError(`WORLD_SIZE=${worldSize} is set but RANK is not; start the workers with torchrun or nrnm-native train --nproc`, 'ERR_ARG');
  const localWorldSize = envInt(env, 'LOCAL_WORLD_SIZE', 1, worldSize);
  const localRank = envInt(env, 'LOCAL_RANK', 0, (localWorldSize ?? worldSize) - 1);
  const file = env[STORE_FILE_ENV];
  const store: DistributedOptions['store'] = file
    ? { file }
    : {
        host: env['MASTER_ADDR'] || '127.0.0.1',
        port: envInt(env, 'MASTER_PORT', 1, 65535) ?? 29500,
        // torchrun's agent already hosts a store at MASTER_ADDR:MASTER_PORT.
        hostedByLauncher: env['TORCHELASTIC_USE_AGENT_STORE'] === 'True',
        // A restarted worker group reuses the agent's store: new keys.
        prefix: `nrnm/${env['TORCHELASTIC_RESTART_COUNT'] ?? '0'}`,
      };
  return {
    rank,
    worldSize,
    ...(localRank !== undefined ? { localRank } : {}),
    ...(localWorldSize !== undefined ? { localWorldSize } : {}),
    store,
    ...(env['GLOO_SOCKET_IFNAME'] ? { interface: env['GLOO_SOCKET_IFNAME'] } : {}),
  };
}

/** The cores this process may use (what `--nproc` and the threads per rank are measured against). */
export function availableCores(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

/** CPU threads of one rank: the machine's cores shared by the ranks on it. */
export function threadsPerRank(localWorldSize: number): number {
  return Math.max(1, Math.floor(availableCores() / localWorldSize));
}

/**
 * Gives this rank its share of the cores, unless the user chose thread
 * counts: OpenBLAS's threads where the BLAS is OpenBLAS (ATen keeps one,
 * nrnm's default), else ATen's intra-op threads. torchrun sets
 * OMP_NUM_THREADS=1 itself, so under torchrun only OPENBLAS_NUM_THREADS
 * and MKL_NUM_THREADS count as the user's choice. Returns the count set.
 */
export function applyRankThreads(localWorldSize: number, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const names = ['OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'GOTO_NUM_THREADS'];
  if (env['TORCHELASTIC_RUN_ID'] === undefined) names.push('OMP_NUM_THREADS');
  if (names.some((name) => env[name])) return undefined;
  const n = threadsPerRank(localWorldSize);
  const addon = native();
  if (!addon.bench.setBlasThreads(n)) addon.setThreads(n);
  return n;
}

/**
 * The device of one rank: 'auto' and 'cuda' mean this rank's own GPU,
 * cuda:LOCAL_RANK, when CUDA works (NCCL needs one GPU per rank).
 */
export function rankDevice(spec: string, d: DistributedOptions): string {
  const device = chooseDevice(spec);
  if (device.startsWith('cuda') && (spec === 'auto' || spec === 'cuda')) return `cuda:${d.localRank ?? d.rank}`;
  return device;
}
