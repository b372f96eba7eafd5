#!/usr/bin/env node
'use strict';
// Build the addon from source against the LibTorch that scripts/libtorch.js
// finds. Prints the exact cmake-js command so a failed build can be re-run by
// hand. Usage: node scripts/build.js [--out DIR] [--debug] [-- extra cmake-js args]
const path = require('node:path');
const os = require('node:os');
const { spawnSync } = require('node:child_process');
const { findLibTorch, LibTorchNotFoundError } = require('./libtorch.js');

const root = path.resolve(__dirname, '..');

// `configure` then `build`: configuring an existing tree is cheap and picks up
// a changed LibTorch; `build` alone cannot recover from a failed configure.
function buildCommand(libtorch, { out, debug, extra }, step = 'build') {
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const jobs = Math.max(1, Math.min(os.availableParallelism ? os.availableParallelism() : os.cpus().length, 16));
  return [
    process.execPath,
    cmakeJs,
    step,
    '--directory',
    root,
    '--out',
    out,
    '--parallel',
    String(jobs),
    `--CDTorch_DIR=${libtorch.cmakeDir}`,
    `--CDNRNM_TORCH_VARIANT=${libtorch.variant}`,
    ...(debug ? ['--debug'] : []),
    ...extra,
  ];
}

/** options.libtorch: a discovery result the caller already has (saves a second Python start). */
function build(options = {}) {
  let libtorch = options.libtorch;
  try {
    libtorch = libtorch || findLibTorch();
  } catch (err) {
    if (err instanceof LibTorchNotFoundError) {
      console.error(`\nnrnm-native: cannot build the native addon.\n${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const out = options.out || path.join(root, 'build');
  const settings = { out, debug: !!options.debug, extra: options.extra || [] };
  console.log(`nrnm-native: building against LibTorch ${libtorch.version} (${libtorch.flavour}) from ${libtorch.source}: ${libtorch.root}`);
  for (const step of ['configure', 'build']) {
    const argv = buildCommand(libtorch, settings, step);
    console.log(`nrnm-native: ${argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
    const result = spawnSync(argv[0], argv.slice(1), { cwd: root, stdio: 'inherit' });
    if (result.status !== 0) {
      console.error(
        `\nnrnm-native: the ${step} step failed (exit ${result.status}). The command above re-runs it; ` + 'the CMake output above says what went wrong.',
      );
      return result.status || 1;
    }
  }
  return 0;
}

module.exports = { build, buildCommand };

if (require.main === module) {
  const args = process.argv.slice(2);
  const dash = args.indexOf('--');
  const extra = dash >= 0 ? args.slice(dash + 1) : [];
  const own = dash >= 0 ? args.slice(0, dash) : args;
  const outIdx = own.indexOf('--out');
  process.exitCode = build({
    out: outIdx >= 0 ? path.resolve(own[outIdx + 1]) : undefined,
    debug: own.includes('--debug'),
    extra,
  });
}
