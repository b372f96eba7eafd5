import * as fs from 'node:fs';

import { readingFileSync } from '../file-errors';

/** Reads a whole file; a missing or unreadable file (a directory, no permission) is an NRNMError naming it. */
export function readFileOrThrow(file: string): Buffer {
  return readingFileSync(file, () => fs.readFileSync(file));
}
