/**
 * Operating-system errors of the file readers as `NRNMError`s that name the
 * file and say what to do: Node's own messages (`EISDIR: illegal operation
 * on a directory, read`) name neither.
 */
import { NRNMError } from './errors';

const ADVICE: Readonly<Record<string, string>> = {
  ENOENT: 'no such file; check the path',
  EISDIR: 'is a directory; give the path of a file inside it',
  ENOTDIR: 'a part of the path is not a directory; check the path',
  EACCES: 'permission denied; check the file permissions',
  EPERM: 'operation not permitted; check the file permissions',
  EMFILE: 'too many open files; raise the limit (ulimit -n) or open fewer files at once',
  EIO: 'input/output error; the disk or network filesystem failed',
};

/** `err` as an NRNMError naming `file`; NRNMErrors pass through unchanged. */
export function fileError(file: string, err: unknown, doing = 'cannot read'): NRNMError {
  if (err instanceof NRNMError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    const what = ADVICE[code] ?? `${code}: ${(err as Error).message}`;
    return new NRNMError(`${file}: ${doing} (${what}).`, code === 'ENOENT' ? 'ERR_NOT_FOUND' : 'ERR_FORMAT', { cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof RangeError) {
    // Invalid typed array length, Maximum call stack size exceeded, Array buffer allocation failed:
    // the file asked for more than the process can hold.
    return new NRNMError(
      `${file}: ${doing}: the file declares more than can be held in memory (${message}). The file is corrupt or not what it claims to be.`,
      'ERR_FORMAT',
      { cause: err },
    );
  }
  return new NRNMError(`${file}: ${doing} (${message}).`, 'ERR_FORMAT', { cause: err });
}

/** Runs `read`, turning whatever it throws into `fileError(file, ...)`. */
export async function readingFile<T>(file: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    throw fileError(file, err);
  }
}

/** Synchronous `readingFile`. */
export function readingFileSync<T>(file: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw fileError(file, err);
  }
}

/**
 * Text taken from a file, for a message: quoted, at most `max` characters,
 * anything but printable ASCII escaped, so no raw bytes reach a terminal or a log.
 */
export function quoted(text: string, max = 40): string {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text;
  return `'${cut.replace(/[^\x20-\x7e]|['\\]/g, (c) => (c === "'" || c === '\\' ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))}'`;
}
