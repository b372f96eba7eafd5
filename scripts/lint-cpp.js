#!/usr/bin/env node
'use strict';
// Checks the C++ style (.clang-format) of every C++ and CUDA file under
// native/ (core, kernels, binding, tests); part of `npm test`.
// Without clang-format (Debian: apt-get install clang-format) it says so and
// passes: the style is no reason to keep a user's build from testing.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(__dirname, '..');
function cppFiles(dir) {
  return fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return cppFiles(rel);
    return /\.(cpp|h|cu|cuh)$/.test(entry.name) ? [rel] : [];
  });
}

const files = cppFiles('native').sort();

// The core's concept folders, bottom layer first (native/nrnm/CMakeLists.txt):
// a file may include from its own folder and from folders before it, never
// from one after it, so each layer builds and reads without the ones above.
const LAYERS = ['runtime', 'model', 'distributed', 'train', 'serialize', 'bench'];
const layering = [];
for (const file of files) {
  const own = /^native\/nrnm\/([a-z]+)\//.exec(file)?.[1];
  if (own === undefined || !LAYERS.includes(own)) continue;
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  for (const [, used] of text.matchAll(/^#include "nrnm\/([a-z]+)\//gm)) {
    if (LAYERS.indexOf(used) > LAYERS.indexOf(own)) layering.push(`${file} (${own}/) includes from ${used}/, a layer above it`);
  }
}
if (layering.length > 0) {
  console.error(`lint:cpp: layers are ${LAYERS.join(' < ')}; a folder includes only from those before it:\n  ${layering.join('\n  ')}`);
  process.exit(1);
}

const version = spawnSync('clang-format', ['--version'], { encoding: 'utf8' });
if (version.error) {
  console.log('lint:cpp: clang-format not found; C++ style not checked (Debian: apt-get install clang-format)');
  process.exit(0);
}
const result = spawnSync('clang-format', ['--dry-run', '-Werror', ...files], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  console.error(`lint:cpp: reformat with: clang-format -i ${files.join(' ')}`);
  process.exit(1);
}
console.log(`lint:cpp: ${files.length} files in style (${version.stdout.trim()}), layers ${LAYERS.join(' < ')} kept`);
