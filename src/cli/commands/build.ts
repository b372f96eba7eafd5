import * as path from 'node:path';

import type { Command } from 'commander';

import { NRNMError } from '../../errors';
import { packageRoot } from '../../native';

/** `nrnm-native build`: compiles the addon from source for the LibTorch found. */
export function registerBuild(program: Command): void {
  program
    .command('build')
    .description('build the native addon from source for the LibTorch on this machine (needs cmake and a C++17 compiler)')
    .option('--debug', 'build with debug information')
    .action((options: { debug?: boolean }) => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { build } = require(path.join(packageRoot, 'scripts', 'build.js')) as { build(o: { debug?: boolean }): number };
      const status = build({ debug: options.debug });
      if (status !== 0) throw new NRNMError('the build failed; the output above says why', 'ERR_NATIVE_LOAD');
    });
}
