#!/usr/bin/env node
'use strict';
// npm install hook. Never touches the network. With a prebuild for the
// LibTorch on this machine nothing is compiled; otherwise the addon is built
// from source with cmake-js (scripts/build.js prints the exact command).
// NRNM_SKIP_BUILD=1 skips the build (the loader then explains what is missing).
const fs = require('node:fs');
const path = require('node:path');
const { findLibTorch, LibTorchNotFoundError, prebuildFile, variantMismatch } = require('./libtorch.js');

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

/** The prebuild variants this package ships (prebuilds/<variant>/). */
function shippedVariants() {
  try {
    return fs.readdirSync(path.join(root, 'prebuilds')).filter((v) => fs.existsSync(prebuildFile(root, v)));
  } catch {
    return [];
  }
}

/**
 * Why none of the shipped prebuilds fits this LibTorch, said before
 * anything is compiled or loaded: a binary runs only with the torch minor,
 * CUDA major and C++ ABI it was built for.
 */
function mismatch(libtorch, variants) {
  if (variants.length === 0) return null;
  return (
    `the LibTorch found is ${libtorch.variant} (${libtorch.version} from ${libtorch.source}: ${libtorch.root}); ` +
    `the prebuilds shipped do not fit it:\n${variants.map((v) => `  - ${variantMismatch(v, libtorch)}`).join('\n')}\n` +
    'Compiling takes 5-15 minutes (cmake and a C++ compiler needed); or install the torch a prebuild was made for (README, "Prebuilt binaries").'
  );
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
    const why = mismatch(libtorch, shippedVariants());
    if (why) console.log(`nrnm-native: ${why}`);
  }
  return require('./build.js').build({ libtorch });
}

process.exitCode = main();
