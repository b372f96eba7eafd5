/**
 * The one way this package writes files (checkpoints, config.json,
 * metrics.jsonl, SVG plots, eval and prediction outputs, preprocessed .npy,
 * .pt exports). Whatever fails, the file that was at the path before stays
 * intact:
 *
 *   1. the data goes to a temporary file in the same folder (same
 *      filesystem, so the rename below is atomic);
 *   2. every write is repeated until all bytes are written; a write that
 *      makes no progress, or any OS error, aborts;
 *   3. the temporary file is fsynced and closed, then renamed over the
 *      target, and the folder is fsynced so that the rename is durable;
 *   4. on any failure the temporary file is removed and an NRNMError
 *      (ERR_IO) names the path and the OS error. Temporary files still open
 *      when the process exits (a second Ctrl-C) are removed on exit.
 */
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

import { NRNMError } from '../errors';

export type FileData = string | Uint8Array | readonly Uint8Array[];

/** Temporary files being written; removed if the process exits first. */
const pending = new Set<string>();
let exitHookInstalled = false;

function removePendingOnExit(): void {
  for (const temp of pending) {
    try {
      fs.rmSync(temp, { force: true });
    } catch {
      // exiting anyway
    }
  }
}

/** The error for a failed write (or read) of `file`: path, what, OS error. */
export function ioError(file: string, action: string, err: unknown): NRNMError {
  if (err instanceof NRNMError) return err;
  const e = err as NodeJS.ErrnoException;
  const why = e.code ? `${e.code}: ${osMessage(e)}` : String(e?.message ?? err);
  const code = action === 'read' && e.code === 'ENOENT' ? 'ERR_NOT_FOUND' : 'ERR_IO';
  return new NRNMError(`Cannot ${action} ${file}: ${why}`, code, { cause: err });
}

// Node's message repeats the syscall and a path (perhaps the temporary
// file's); keep the OS's own words ("no space left on device").
function osMessage(e: NodeJS.ErrnoException): string {
  const m = /^[A-Z0-9]+: ([^,]+)/.exec(e.message);
  return m ? m[1]! : e.message;
}

/**
 * A fresh temporary path next to `file`, removed at exit unless committed
 * or discarded first.
 */
export function tempPathFor(file: string): string {
  if (!exitHookInstalled) {
    process.on('exit', removePendingOnExit);
    exitHookInstalled = true;
  }
  const temp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  pending.add(temp);
  return temp;
}

/** Renames a complete, fsynced temporary file over `file`; fsyncs the folder. */
export async function commitTemp(temp: string, file: string): Promise<void> {
  await fsp.rename(temp, file);
  pending.delete(temp);
  await syncFolder(path.dirname(path.resolve(file)));
}

/** Removes a temporary file (after a failure); never throws. */
export async function discardTemp(temp: string): Promise<void> {
  await fsp.rm(temp, { force: true }).catch(() => undefined);
  pending.delete(temp);
}

function discardTempSync(temp: string): void {
  try {
    fs.rmSync(temp, { force: true });
  } catch {
    // best effort; the exit hook tries again
    return;
  }
  pending.delete(temp);
}

function chunksOf(data: FileData): readonly Uint8Array[] {
  if (typeof data === 'string') return [Buffer.from(data, 'utf8')];
  return data instanceof Uint8Array ? [data] : data;
}

// Folders cannot be fsynced on every filesystem; where the OS says so
// (EINVAL, ENOTSUP, EISDIR on some), the rename is as durable as it gets.
const FOLDER_SYNC_UNSUPPORTED = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR', 'EBADF']);

async function syncFolder(dir: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (!FOLDER_SYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function syncFolderSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    if (!FOLDER_SYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function noProgress(): NodeJS.ErrnoException {
  const err = new Error('EIO: the write made no progress') as NodeJS.ErrnoException;
  err.code = 'EIO';
  return err;
}

/** Writes `data` to `file` atomically (see the module comment). */
export async function writeFileAtomic(file: string, data: FileData): Promise<void> {
  const temp = tempPathFor(file);
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(temp, 'wx');
    for (const chunk of chunksOf(data)) {
      for (let done = 0; done < chunk.length;) {
        const { bytesWritten } = await handle.write(chunk, done, chunk.length - done);
        if (bytesWritten <= 0) throw noProgress();
        done += bytesWritten;
      }
    }
    await handle.sync();
    const closing = handle;
    handle = undefined;
    await closing.close();
    await commitTemp(temp, file);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await discardTemp(temp);
    throw ioError(file, 'write', err);
  }
}

/**
 * A file written in place at any offsets (a .npy filled row by row), that
 * appears at its path only when commit() succeeds.
 */
export class AtomicFile {
  readonly file: string;
  readonly #temp: string;
  #fd: number | null;

  constructor(file: string) {
    this.file = file;
    this.#temp = tempPathFor(file);
    try {
      this.#fd = fs.openSync(this.#temp, 'wx');
    } catch (err) {
      discardTempSync(this.#temp);
      throw ioError(file, 'write', err);
    }
  }

  /** Writes all of `bytes` at `position`; on failure aborts and throws. */
  writeSync(bytes: Uint8Array, position: number): void {
    const fd = this.#live();
    try {
      for (let done = 0; done < bytes.length;) {
        const n = fs.writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30), position + done);
        if (n <= 0) throw noProgress();
        done += n;
      }
    } catch (err) {
      this.abort();
      throw ioError(this.file, 'write', err);
    }
  }

  /** Sets the file's size (space for rows written later). */
  truncateSync(size: number): void {
    const fd = this.#live();
    try {
      fs.ftruncateSync(fd, size);
    } catch (err) {
      this.abort();
      throw ioError(this.file, 'write', err);
    }
  }

  /** fsync, close, rename into place, fsync the folder. */
  commit(): void {
    const fd = this.#live();
    try {
      fs.fsyncSync(fd);
      this.#fd = null;
      fs.closeSync(fd);
      fs.renameSync(this.#temp, this.file);
      pending.delete(this.#temp);
      syncFolderSync(path.dirname(path.resolve(this.file)));
    } catch (err) {
      this.abort();
      throw ioError(this.file, 'write', err);
    }
  }

  /** Closes and removes the temporary file; idempotent, never throws. */
  abort(): void {
    if (this.#fd !== null) {
      try {
        fs.closeSync(this.#fd);
      } catch {
        // removed below anyway
      }
    }
    this.#fd = null;
    discardTempSync(this.#temp);
  }

  get open(): boolean {
    return this.#fd !== null;
  }

  #live(): number {
    if (this.#fd === null) throw new NRNMError(`${this.file}: the file was already closed`, 'ERR_DISPOSED');
    return this.#fd;
  }
}

/** writeFileAtomic for synchronous callers. */
export function writeFileAtomicSync(file: string, data: FileData): void {
  const out = new AtomicFile(file);
  let position = 0;
  for (const chunk of chunksOf(data)) {
    out.writeSync(chunk, position);
    position += chunk.length;
  }
  out.commit();
}

/**
 * Appends `text` to a log (metrics.jsonl) with every write checked; a
 * failed append is cut back to the previous end, so the lines written
 * before stay intact and no partial line is left. Not fsynced (a log line
 * per step); files that must survive a crash are written atomically.
 */
export function appendFileChecked(file: string, text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  let fd: number | undefined;
  let size = 0;
  try {
    fd = fs.openSync(file, 'a');
    size = fs.fstatSync(fd).size;
    for (let done = 0; done < bytes.length;) {
      const n = fs.writeSync(fd, bytes, done, bytes.length - done);
      if (n <= 0) throw noProgress();
      done += n;
    }
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.ftruncateSync(fd, size);
      } catch {
        // the error below still names the file
      }
    }
    throw ioError(file, 'append to', err);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
