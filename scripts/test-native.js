#!/usr/bin/env node
'use strict';
// Builds the C++ tests of native/nrnm in the addon's build tree (the core
// compiles once for both) and runs them with ctest. Part of `npm test`.
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { build } = require('./build.js');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'build');

let status = build({ out, extra: ['--CDNRNM_BUILD_TESTS=ON', '--CDNRNM_BUILD_BENCH=ON'] });
if (status === 0) {
  const result = spawnSync('ctest', ['--test-dir', out, '--output-on-failure', '--no-tests=error', '--timeout', '300'], {
    cwd: root,
    stdio: 'inherit',
  });
  status = result.status === null ? 1 : result.status;
}
process.exitCode = status;
