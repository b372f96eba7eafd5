import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

/** The version of this package, from its package.json. */
export function packageVersion(): string {
  if (!cached) {
    const file = path.resolve(__dirname, '..', 'package.json');
    cached = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return cached;
}
