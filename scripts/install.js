#!/usr/bin/env node
'use strict';
// npm install hook. Never touches the network: builds the addon from source
// with cmake-js against the LibTorch found on this machine.
// NRNM_SKIP_BUILD=1 skips the build (the loader then explains what is missing).
const { build } = require('./build.js');

if (process.env.NRNM_SKIP_BUILD === '1') {
  console.log('nrnm-native: NRNM_SKIP_BUILD=1, not building the native addon.');
} else {
  process.exitCode = build();
}
