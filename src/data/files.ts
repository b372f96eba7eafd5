import * as fs from 'node:fs';

import { NRNMError } from '../errors';

/** Reads a whole file; a missing or unreadable file is an NRNMError naming it. */
export function readFileOrThrow(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new NRNMError(`${file}: cannot read (${err.code ?? err.message})`, err.code === 'ENOENT' ? 'ERR_NOT_FOUND' : 'ERR_FORMAT', { cause: e });
  }
}
