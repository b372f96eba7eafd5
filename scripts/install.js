#!/usr/bin/env node
'use strict';
// npm install hook. Never touches the network. With a prebuild for the
// LibTorch on this machine nothing is compiled; otherwise the addon is built
// from source with cmake-js (scripts/build.js prints the exact command).
// NRNM_SKIP_BUILD=1 skips the build (the loader then explains what is missing).
const fs = require('node:fs');
const path = require('node:path');
const { findLibTorch, LibTorchNotFoundError, prebuildFile } = require('./libtorch.js');

const root = path.resolve(__dirname, '..');

function matchingPrebuild() {
  let libtorch;
  try {
    libtorch = findLibTorch();
  } catch (err) {
    if (err instanceof LibTorchNotFoundError) return { libtorch: null, file: null };
    throw err;
  }
  const file = prebuildFile(root, libtorch.variant);
  return { libtorch, file: fs.existsSync(file) ? file : null };
}

function main() {
  if (process.env.NRNM_SKIP_BUILD === '1') {
    console.log('nrnm-native: NRNM_SKIP_BUILD=1, not building the native addon.');
    return 0;
  }
  const { libtorch, file } = matchingPrebuild();
  if (file && process.env.NRNM_FORCE_BUILD !== '1') {
    console.log(`nrnm-native: using the prebuilt addon for ${libtorch.variant} (LibTorch ${libtorch.version} from ${libtorch.source}); nothing to compile.`);
    return 0;
  }
  if (libtorch) {
    console.log(`nrnm-native: no prebuilt addon for ${libtorch.variant}; building from source.`);
  }
  return require('./build.js').build({ libtorch });
}

process.exitCode = main();
