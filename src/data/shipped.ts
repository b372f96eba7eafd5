/**
 * The small files of datasets/ that ship with the package and that readers
 * need (label names, split definitions, sample lists), read once from the
 * package's own copy: each such fact lives in that one file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { readingFileSync } from '../file-errors';

/** The package's datasets/ folder (src/data and dist/data are two levels below the root). */
export const SHIPPED_DATASETS = path.resolve(__dirname, '..', '..', 'datasets');

/** The non-empty lines of a shipped text file, trimmed. */
export function shippedLines(...parts: string[]): string[] {
  const file = path.join(SHIPPED_DATASETS, ...parts);
  return readingFileSync(file, () => fs.readFileSync(file, 'utf8'))
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

/** A shipped JSON file. */
export function shippedJson<T>(...parts: string[]): T {
  const file = path.join(SHIPPED_DATASETS, ...parts);
  return readingFileSync(file, () => JSON.parse(fs.readFileSync(file, 'utf8')) as T);
}
