#!/usr/bin/env node
'use strict';
// npm run prebuild: builds the addon for the LibTorch found (same discovery as
// the install) into prebuilds/<variant>/<platform>-<arch>/, with a manifest
// saying what it was built against. One directory per variant
// (torch<minor>-<cpu|cuN>-<C++ ABI>, scripts/libtorch.js), because a binary
// runs only with those three of its LibTorch, and node-gyp-build cannot tell
// them apart by file name.
//
//   npm run prebuild                            # the LibTorch the install would find
//   npm run prebuild -- --python ~/venv/bin/python   # the torch of that Python
//   npm run prebuild -- --libtorch /opt/libtorch     # an unzipped LibTorch (or a wheel's torch/)
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { build } = require('./build.js');
const { findLibTorch, prebuildFile } = require('./libtorch.js');

const root = path.resolve(__dirname, '..');

function glibcVersion() {
  const report = process.report && process.report.getReport();
  return (report && report.header && report.header.glibcVersionRuntime) || 'unknown';
}

function compilerVersion(cacheFile) {
  const cache = fs.existsSync(cacheFile) ? fs.readFileSync(cacheFile, 'utf8') : '';
  const compiler = /CMAKE_CXX_COMPILER:\w+=(.+)/.exec(cache);
  if (!compiler) return 'unknown';
  try {
    return execFileSync(compiler[1].trim(), ['--version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {
    return compiler[1].trim();
  }
}

/** The kernels' architectures as the build chose them (cmake/NRNMCudaArchitectures.cmake). */
function cudaArchitectures(cacheFile) {
  const cache = fs.existsSync(cacheFile) ? fs.readFileSync(cacheFile, 'utf8') : '';
  const archs = /^NRNM_CUDA_ARCHITECTURES:\w+=(.*)$/m.exec(cache);
  return archs ? archs[1].trim() : null;
}

/**
 * The main build tree when it is configured for this LibTorch (incremental),
 * else build-<variant>: prebuilding the CUDA variant next to the CPU one
 * must not reconfigure (and fully rebuild) the developer's build/.
 */
function buildTree(libtorch) {
  const main = path.join(root, 'build');
  const own = path.join(root, `build-${libtorch.variant}`);
  const configuredFor = (dir) => {
    const cache = path.join(dir, 'CMakeCache.txt');
    if (!fs.existsSync(cache)) return null;
    const torchDir = /^Torch_DIR:\w+=(.*)$/m.exec(fs.readFileSync(cache, 'utf8'));
    return torchDir ? path.resolve(torchDir[1].trim()) : null;
  };
  const wanted = path.resolve(libtorch.cmakeDir);
  if (configuredFor(main) === wanted) return main;
  if (configuredFor(own) === wanted) return own; // e.g. left by scripts/ci/cuda-check.sh
  return fs.existsSync(path.join(main, 'CMakeCache.txt')) ? own : main;
}

/** The environment discovery reads, from --python <interpreter> / --libtorch <dir>. */
function environmentFor(args) {
  const env = { ...process.env };
  const value = (flag) => {
    const at = args.indexOf(flag);
    if (at < 0) return undefined;
    if (!args[at + 1]) throw new Error(`nrnm-native prebuild: ${flag} needs a value`);
    return args[at + 1];
  };
  const python = value('--python');
  const libtorch = value('--libtorch');
  if (python && libtorch) throw new Error('nrnm-native prebuild: give --python or --libtorch, not both');
  if (python) {
    delete env.LIBTORCH;
    delete env.Torch_DIR;
    delete env.NRNM_NO_PYTHON_TORCH;
    env.NRNM_PYTHON = python;
  }
  if (libtorch) {
    delete env.Torch_DIR;
    env.LIBTORCH = path.resolve(libtorch);
  }
  return env;
}

function prebuild(args = []) {
  const env = environmentFor(args);
  const libtorch = findLibTorch(env);
  const out = buildTree(libtorch);
  const status = build({ out, libtorch });
  if (status !== 0) return status;
  const file = prebuildFile(root, libtorch.variant);
  const target = path.dirname(file);
  fs.mkdirSync(target, { recursive: true });
  // node-gyp-build's naming: <name>.napi.node is the Node-API build for any Node.
  fs.copyFileSync(path.join(out, 'Release', 'nrnm_native.node'), file);
  const cache = path.join(out, 'CMakeCache.txt');
  const manifest = {
    package: require('../package.json').version,
    variant: libtorch.variant,
    libtorch: { version: libtorch.version, flavour: libtorch.flavour, abi: libtorch.abi, builtFrom: libtorch.root, source: libtorch.source },
    cuda: libtorch.cuda ? { flavour: libtorch.flavour, architectures: cudaArchitectures(cache) } : null,
    platform: `${process.platform}-${process.arch}`,
    napiVersions: require('../package.json').binary.napi_versions,
    compiler: compilerVersion(cache),
    glibc: glibcVersion(),
    builtOn: os.hostname(),
    builtAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(target, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`nrnm-native: prebuild written to ${path.relative(root, target)}/ (${libtorch.variant}, ${fs.statSync(file).size} bytes)`);
  return 0;
}

if (require.main === module) process.exitCode = prebuild(process.argv.slice(2));
module.exports = { prebuild };
