/**
 * Checkpoint files (.nrnm): safetensors files, written and read by the
 * native core (native/nrnm/serialize/checkpoint.h; README "Checkpoint format"), so
 * that loading one never runs code from it and Python reads it as it is.
 * This module holds the package's JSON header (the "nrnm.header" metadata:
 * options, progress, metrics) and the file I/O: writes go through
 * writeFileAtomic; every error names the file.
 */
import * as fs from 'node:fs/promises';

import { NRNMError } from './errors';
import type { MonitoredBest } from './fit-monitor';
import { ioError, writeFileAtomic } from './io/atomic-write';
import { native } from './native';
import type { ResolvedModelOptions } from './options';
import { packageVersion } from './version';

/** Format version of the checkpoints this version writes (the native core's). */
export const CHECKPOINT_FORMAT_VERSION = 2;
/** The signature of format 1 (a LibTorch archive after a JSON header), which is no longer read. */
const LEGACY_MAGIC = Buffer.from('NRNMCKPT', 'ascii');

export interface CheckpointHeader {
  format: 'nrnm-checkpoint';
  formatVersion: number;
  packageVersion: string;
  createdAt: string;
  model: ResolvedModelOptions;
  /** Resolved trainer options; null for a model saved on its own. */
  trainer: Record<string, unknown> | null;
  /**
   * Where training stands: the next batch to run is batch `batch` of epoch
   * `epoch`; fit() adds early stopping's state (best, sinceBest).
   */
  progress: { epoch: number; batch: number; step: number; best?: MonitoredBest; sinceBest?: number } | null;
  /** Seed of the data order (shuffling) of fit(). */
  seed: number | null;
  metrics: Record<string, unknown>;
}

/** A checkpoint read and checked (checksum, format); `bytes` go to the native load. */
export interface Checkpoint {
  header: CheckpointHeader;
  bytes: Buffer;
}

/** A header for the current package version; the parts a saver knows are given. */
export function checkpointHeader(
  parts: Pick<CheckpointHeader, 'model'> & Partial<Pick<CheckpointHeader, 'trainer' | 'progress' | 'seed' | 'metrics'>>,
): CheckpointHeader {
  return {
    format: 'nrnm-checkpoint',
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    packageVersion: packageVersion(),
    createdAt: new Date().toISOString(),
    model: parts.model,
    trainer: parts.trainer ?? null,
    progress: parts.progress ?? null,
    seed: parts.seed ?? null,
    metrics: parts.metrics ?? {},
  };
}

/** Writes checkpoint bytes (from a native save) atomically. */
export async function writeCheckpoint(file: string, bytes: Buffer): Promise<void> {
  await writeFileAtomic(file, bytes);
}

/** Reads a checkpoint and checks it; errors name the file and what is wrong. */
export async function readCheckpoint(file: string): Promise<Checkpoint> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    throw ioError(file, 'read', err);
  }
  if (bytes.length >= LEGACY_MAGIC.length && bytes.subarray(0, LEGACY_MAGIC.length).equals(LEGACY_MAGIC)) {
    throw new NRNMError(
      `${file} is a checkpoint of format 1 (nrnm-native 0.1), which held a LibTorch archive that could run code when loaded; ` +
        'this version reads only the data-only format 2 (safetensors). Convert it with the version that wrote it: ' +
        'README "Checkpoint format", "Converting format-1 checkpoints".',
      'ERR_CHECKPOINT_VERSION',
    );
  }
  // The native reader decides what the file says: it refuses NUL and invalid
  // UTF-8 in any key or string, duplicate keys, and stored model options that
  // are out of range or disagree with the stored tensors' shapes, all before
  // any model is built; JSON.parse below reads the same text it accepted.
  const metadata = await native().checkpointMetadata(bytes, file);
  const text = metadata['nrnm.header'];
  if (text === undefined) {
    throw new NRNMError(`${file}: the checkpoint has no "nrnm.header" metadata (options and progress); it was not written by nrnm-native`, 'ERR_FORMAT');
  }
  let header: CheckpointHeader;
  try {
    header = JSON.parse(text) as CheckpointHeader;
  } catch (err) {
    throw new NRNMError(`${file}: the checkpoint's "nrnm.header" metadata is not valid JSON (${(err as Error).message})`, 'ERR_FORMAT');
  }
  if (header === null || typeof header !== 'object' || header.format !== 'nrnm-checkpoint' || header.model === null || typeof header.model !== 'object') {
    throw new NRNMError(`${file}: the checkpoint's "nrnm.header" lacks its format or model options`, 'ERR_FORMAT');
  }
  return { header, bytes };
}

/**
 * Builds what a checkpoint's stored options describe; an option the API
 * refuses (ERR_ARG) is a fault of the file, named with it (ERR_FORMAT).
 */
export function fromStoredOptions<T>(file: string, build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof NRNMError && err.code === 'ERR_ARG') {
      throw new NRNMError(`${file}: the checkpoint's stored model options are invalid: ${err.message.slice(0, 300)}`, 'ERR_FORMAT', { cause: err });
    }
    throw err;
  }
}
