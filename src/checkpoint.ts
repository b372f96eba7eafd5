/**
 * Checkpoint files (.nrnm): one file with a JSON header (options, epoch,
 * step, seed, metrics) and the native archive (parameters, generator,
 * optimizer and scheduler state). Always written to a temp file in the same
 * directory, flushed, then renamed, so a kill leaves the last good file.
 *
 * Layout: "NRNMCKPT" | u32 LE format version | u32 LE header bytes |
 *         header (UTF-8 JSON) | archive bytes (to the end).
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';

import { NRNMError } from './errors';
import type { ResolvedModelOptions } from './options';
import { packageVersion } from './version';

const MAGIC = Buffer.from('NRNMCKPT', 'ascii');
export const CHECKPOINT_FORMAT_VERSION = 1;
const PREFIX_BYTES = MAGIC.length + 8;

export interface CheckpointHeader {
  format: 'nrnm-checkpoint';
  formatVersion: number;
  packageVersion: string;
  createdAt: string;
  model: ResolvedModelOptions;
  /** Resolved trainer options; null for a model saved on its own. */
  trainer: Record<string, unknown> | null;
  /** Where training stands: the next batch to run is batch `batch` of epoch `epoch`. */
  progress: { epoch: number; batch: number; step: number } | null;
  /** Seed of the data order (shuffling) of fit(). */
  seed: number | null;
  metrics: Record<string, unknown>;
}

export interface Checkpoint {
  header: CheckpointHeader;
  archive: Buffer;
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

/** Writes a checkpoint atomically: temp file + fsync + rename. */
export async function writeCheckpoint(file: string, header: CheckpointHeader, archive: Buffer): Promise<void> {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(PREFIX_BYTES);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(CHECKPOINT_FORMAT_VERSION, MAGIC.length);
  prefix.writeUInt32LE(json.length, MAGIC.length + 4);
  await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const temp = `${file}.tmp-${process.pid}-${Date.now().toString(36)}`;
  const handle = await fs.open(temp, 'w');
  try {
    await handle.writev([prefix, json, archive]);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fs.rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  await fs.rename(temp, file);
}

/** Reads and checks a checkpoint; errors name the file and what is wrong. */
export async function readCheckpoint(file: string): Promise<Checkpoint> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new NRNMError(`Cannot read checkpoint ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`, code === 'ENOENT' ? 'ERR_NOT_FOUND' : 'ERR_FORMAT');
  }
  if (bytes.length < PREFIX_BYTES || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new NRNMError(`${file} is not an nrnm-native checkpoint (no NRNMCKPT signature at byte 0)`, 'ERR_FORMAT');
  }
  const version = bytes.readUInt32LE(MAGIC.length);
  if (version !== CHECKPOINT_FORMAT_VERSION) {
    throw new NRNMError(
      `${file} is a checkpoint of format version ${version}; this nrnm-native reads version ${CHECKPOINT_FORMAT_VERSION}. Use the nrnm-native version that wrote it.`,
      'ERR_CHECKPOINT_VERSION',
    );
  }
  const headerBytes = bytes.readUInt32LE(MAGIC.length + 4);
  if (PREFIX_BYTES + headerBytes > bytes.length) {
    throw new NRNMError(`${file} is truncated: its header needs ${headerBytes} bytes at offset ${PREFIX_BYTES} but the file has ${bytes.length}`, 'ERR_FORMAT');
  }
  let header: CheckpointHeader;
  try {
    header = JSON.parse(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerBytes).toString('utf8')) as CheckpointHeader;
  } catch (err) {
    throw new NRNMError(`${file}: the checkpoint header at offset ${PREFIX_BYTES} is not valid JSON (${(err as Error).message})`, 'ERR_FORMAT');
  }
  if (header.format !== 'nrnm-checkpoint' || typeof header.model !== 'object') {
    throw new NRNMError(`${file}: the checkpoint header lacks its format or model options`, 'ERR_FORMAT');
  }
  const archive = bytes.subarray(PREFIX_BYTES + headerBytes);
  if (archive.length === 0) throw new NRNMError(`${file} is truncated: it has no parameters after the header`, 'ERR_FORMAT');
  return { header, archive };
}
