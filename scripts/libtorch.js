'use strict';
// LibTorch discovery, shared by the build (scripts/build.js), the install
// script and the runtime loader (src/native.ts). Plain CommonJS because it
// runs at install time, before TypeScript is compiled.
//
// Order (DESIGN.md): LIBTORCH or Torch_DIR from the environment; the LibTorch
// inside Python's `torch` package; the system LibTorch (Debian libtorch-dev).

const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const HOW_TO_GET_LIBTORCH = [
  'nrnm-native needs LibTorch (the C++ library of PyTorch) and found none. Provide one of:',
  '  1. LIBTORCH=/path/to/libtorch (an unzipped LibTorch from pytorch.org, the folder',
  '     holding include/ lib/ share/), or Torch_DIR=/path/to/share/cmake/Torch;',
  '  2. a Python with PyTorch on PATH as `python3` (pip install torch): its bundled',
  '     LibTorch is used, CUDA included;',
  '  3. the system package: sudo apt-get install libtorch-dev (Debian/Ubuntu, CPU).',
  'Then run `npm install` (or `npx nrnm-native build`) again.',
].join('\n');

class LibTorchNotFoundError extends Error {
  /** @param {string[]} tried */
  constructor(tried) {
    super(`${HOW_TO_GET_LIBTORCH}\nLooked in:\n${tried.map((t) => `  - ${t}`).join('\n')}`);
    this.name = 'LibTorchNotFoundError';
    this.code = 'ERR_NO_LIBTORCH';
    this.tried = tried;
  }
}

/** Directories that hold libtorch.so for a given install prefix. */
function libDirCandidates(root) {
  const multiarch = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return [path.join(root, 'lib'), path.join(root, 'lib64'), path.join(root, 'lib', multiarch)];
}

function readVersion(root) {
  const candidates = [
    path.join(root, 'include', 'torch', 'csrc', 'api', 'include', 'torch', 'version.h'),
    // Newer LibTorch (2.13: the api header above only includes this one).
    path.join(root, 'include', 'torch', 'headeronly', 'version.h'),
  ];
  for (const header of candidates) {
    if (!fs.existsSync(header)) continue;
    const text = fs.readFileSync(header, 'utf8');
    const major = /TORCH_VERSION_MAJOR\s+(\d+)/.exec(text);
    const minor = /TORCH_VERSION_MINOR\s+(\d+)/.exec(text);
    const patch = /TORCH_VERSION_PATCH\s+(\d+)/.exec(text);
    if (major && minor && patch) return `${major[1]}.${minor[1]}.${patch[1]}`;
  }
  return null;
}

/**
 * The CUDA flavour of a LibTorch: 'cpu', or 'cuXYZ' (e.g. 'cu130').
 * libtorch_cuda.so decides whether it has CUDA; the version comes from the
 * zip's build-version file or the Python package's version.py.
 */
function readCudaFlavour(root, libDir, pythonCudaVersion) {
  if (!fs.existsSync(path.join(libDir, 'libtorch_cuda.so'))) return 'cpu';
  let cuda = pythonCudaVersion || null;
  const buildVersion = path.join(root, 'build-version');
  if (!cuda && fs.existsSync(buildVersion)) {
    const m = /\+cu(\d+)/.exec(fs.readFileSync(buildVersion, 'utf8'));
    if (m) return `cu${m[1]}`;
  }
  const versionPy = path.join(root, 'version.py');
  if (!cuda && fs.existsSync(versionPy)) {
    const m = /cuda\s*(?::\s*\w+(?:\[\w+\])?)?\s*=\s*'([\d.]+)'/.exec(fs.readFileSync(versionPy, 'utf8'));
    if (m) cuda = m[1];
  }
  return cuda ? `cu${cuda.split('.').slice(0, 2).join('')}` : 'cuda';
}

/**
 * The C++ ABI of a LibTorch's std::string/std::list: 'cxx11' or 'precxx11'
 * (_GLIBCXX_USE_CXX11_ABI=1 or 0). A binary built against one cannot load
 * with the other (undefined std::__cxx11 symbols). Pip wheels up to torch 2.6
 * and pytorch.org's "pre-cxx11" LibTorch zips use 0; Debian's and newer
 * wheels 1. Read from Python's torch._C._GLIBCXX_USE_CXX11_ABI when there is
 * one, else the TORCH_CXX_FLAGS TorchConfig.cmake sets (torch < 2.7), else
 * whether libc10.so has std::__cxx11 symbols.
 */
function readAbi(cmakeDir, libDir, pythonAbi) {
  if (pythonAbi === true || pythonAbi === false) return pythonAbi ? 'cxx11' : 'precxx11';
  const config = path.join(cmakeDir, 'TorchConfig.cmake');
  const flag = /set\(TORCH_CXX_FLAGS\s+"[^"]*-D_GLIBCXX_USE_CXX11_ABI=([01])/.exec(fs.readFileSync(config, 'utf8'));
  if (flag) return flag[1] === '1' ? 'cxx11' : 'precxx11';
  try {
    return fs.readFileSync(fs.realpathSync(path.join(libDir, 'libc10.so'))).includes('__cxx11') ? 'cxx11' : 'precxx11';
  } catch {
    return 'cxx11'; // nothing to read: the ABI of every torch since 2.7
  }
}

/** cu130 / cu128 -> cu13 / cu12: the CUDA runtime is compatible within a major. */
function cudaMajor(flavour) {
  const m = /^cu(\d+)$/.exec(flavour);
  if (!m) return flavour;
  return `cu${m[1].length >= 3 ? m[1].slice(0, -1) : m[1]}`;
}

/**
 * A LibTorch's prebuild variant: torch<major>.<minor>-<cpu|cuN>-<cxx11|precxx11>,
 * e.g. torch2.14-cu13-cxx11, torch1.13-cpu-cxx11: the three things a binary
 * built against it must match (DESIGN.md; README, "Prebuilt binaries").
 */
function variantOf(version, flavour, abi) {
  const [major, minor] = (version || '0.0').split('.');
  return `torch${major}.${minor}-${cudaMajor(flavour)}-${abi}`;
}

/** {torch, cuda, abi} of a variant name; null for a name not in that form. */
function parseVariant(variant) {
  const m = /^torch(\d+\.\d+)-(cpu|cu\d+|cuda)-(cxx11|precxx11)$/.exec(variant);
  return m ? { torch: m[1], cuda: m[2], abi: m[3] } : null;
}

const ABI_NAMES = { cxx11: 'cxx11 (_GLIBCXX_USE_CXX11_ABI=1)', precxx11: 'pre-cxx11 (_GLIBCXX_USE_CXX11_ABI=0)' };
const cudaName = (c) => (c === 'cpu' ? 'CPU only' : c === 'cuda' ? 'CUDA (version unknown)' : `CUDA ${c.slice(2)}`);

/**
 * Why the prebuild `variant` cannot run with LibTorch `found` (a describe()
 * result): each of the three parts that differs, in words; null when it fits.
 * Said before anything is loaded: a wrong C++ ABI otherwise fails as an
 * undefined std::__cxx11 symbol, a wrong torch as some other missing symbol.
 */
function variantMismatch(variant, found) {
  if (variant === found.variant) return null;
  const want = parseVariant(variant);
  const have = parseVariant(found.variant);
  if (!want || !have) return `${variant}: not a variant name of this package (torch<major>.<minor>-<cpu|cuN>-<cxx11|precxx11>)`;
  const why = [];
  if (want.torch !== have.torch) why.push(`built for torch ${want.torch}, the LibTorch found is ${have.torch}`);
  if (want.cuda !== have.cuda) why.push(`built for ${cudaName(want.cuda)}, the LibTorch found is ${cudaName(have.cuda)}`);
  if (want.abi !== have.abi) {
    why.push(
      `built with the ${ABI_NAMES[want.abi]} C++ ABI, the LibTorch found uses ${ABI_NAMES[have.abi]} (it would fail to load with undefined std::__cxx11 symbols)`,
    );
  }
  return `${variant}: ${why.join('; ')}`;
}

/**
 * Describe the LibTorch installed under `root` whose CMake config lives in
 * `cmakeDir`; null when it is not a usable LibTorch.
 */
function describe(root, cmakeDir, source, pythonCudaVersion, pythonAbi) {
  if (!fs.existsSync(path.join(cmakeDir, 'TorchConfig.cmake'))) return null;
  const libDir = libDirCandidates(root).find((d) => fs.existsSync(path.join(d, 'libtorch.so')));
  if (!libDir) return null;
  const version = readVersion(root);
  const flavour = readCudaFlavour(root, libDir, pythonCudaVersion);
  const abi = readAbi(cmakeDir, libDir, pythonAbi);
  return {
    source,
    root,
    cmakeDir,
    libDir,
    version,
    flavour,
    cuda: flavour !== 'cpu',
    abi,
    // The identity of a binary built against this LibTorch: e.g. torch2.14-cu13-cxx11.
    variant: variantOf(version, flavour, abi),
  };
}

function fromEnvironment(env, tried) {
  if (env.LIBTORCH) {
    const root = path.resolve(env.LIBTORCH);
    const cmakeDir = path.join(root, 'share', 'cmake', 'Torch');
    tried.push(`LIBTORCH=${env.LIBTORCH} (expects ${cmakeDir}/TorchConfig.cmake and lib/libtorch.so)`);
    return { found: describe(root, cmakeDir, 'LIBTORCH'), explicit: true };
  }
  if (env.Torch_DIR) {
    const cmakeDir = path.resolve(env.Torch_DIR);
    // share/cmake/Torch -> the prefix three levels up (LibTorch zip, Python
    // wheel); lib/<multiarch>/cmake/Torch -> four levels up (Debian).
    const roots = [path.resolve(cmakeDir, '..', '..', '..'), path.resolve(cmakeDir, '..', '..', '..', '..')];
    tried.push(`Torch_DIR=${env.Torch_DIR} (expects TorchConfig.cmake there)`);
    for (const root of roots) {
      const found = describe(root, cmakeDir, 'Torch_DIR');
      if (found) return { found, explicit: true };
    }
    return { found: null, explicit: true };
  }
  return { found: null, explicit: false };
}

function fromPython(env, tried) {
  const python = env.NRNM_PYTHON || 'python3';
  if (env.NRNM_NO_PYTHON_TORCH === '1') return null;
  const script =
    'import os, torch, json; print(json.dumps({"root": os.path.dirname(torch.__file__), ' +
    '"cmake": torch.utils.cmake_prefix_path, "cuda": torch.version.cuda, ' +
    '"abi": bool(getattr(torch._C, "_GLIBCXX_USE_CXX11_ABI", True))}))';
  let out;
  try {
    out = execFileSync(python, ['-c', script], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 60000,
    });
  } catch {
    tried.push(`${python} -c "import torch" (no Python with PyTorch)`);
    return null;
  }
  const info = JSON.parse(out.trim().split('\n').pop());
  const cmakeDir = path.join(info.cmake, 'Torch');
  tried.push(`Python torch at ${info.root} (expects ${cmakeDir}/TorchConfig.cmake)`);
  return describe(info.root, cmakeDir, `python (${python})`, info.cuda, info.abi);
}

function fromSystem(env, tried) {
  const prefixes = env.NRNM_SYSTEM_LIBTORCH_PREFIXES ? env.NRNM_SYSTEM_LIBTORCH_PREFIXES.split(path.delimiter).filter(Boolean) : ['/usr', '/usr/local'];
  const multiarch = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  for (const root of prefixes) {
    for (const cmakeDir of [
      path.join(root, 'lib', multiarch, 'cmake', 'Torch'),
      path.join(root, 'share', 'cmake', 'Torch'),
      path.join(root, 'lib', 'cmake', 'Torch'),
    ]) {
      tried.push(`system ${cmakeDir}`);
      const found = describe(root, cmakeDir, 'system');
      if (found) return found;
    }
  }
  return null;
}

/**
 * Find LibTorch. Throws LibTorchNotFoundError listing what was tried.
 * An explicit LIBTORCH/Torch_DIR that points nowhere is an error of its own
 * (no silent fall-through to another LibTorch than the one asked for).
 * @param {NodeJS.ProcessEnv} [env]
 */
function findLibTorch(env = process.env) {
  const tried = [];
  const explicit = fromEnvironment(env, tried);
  if (explicit.found) return explicit.found;
  if (explicit.explicit) {
    const err = new LibTorchNotFoundError(tried);
    err.message = `${tried[tried.length - 1]} is not a LibTorch installation.\n\n${err.message}`;
    throw err;
  }
  const found = fromPython(env, tried) || fromSystem(env, tried);
  if (found) return found;
  throw new LibTorchNotFoundError(tried);
}

/**
 * Where the prebuilt addon for a LibTorch variant lives under a package root:
 * prebuilds/<variant>/<platform>-<arch>/nrnm-native.napi.node (node-gyp-build's
 * naming; shared by prebuild.js, install.js and the runtime loader).
 */
function prebuildFile(root, variant) {
  return path.join(root, 'prebuilds', variant, `${process.platform}-${process.arch}`, 'nrnm-native.napi.node');
}

module.exports = { findLibTorch, LibTorchNotFoundError, HOW_TO_GET_LIBTORCH, prebuildFile, parseVariant, variantOf, variantMismatch };
