import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { findLibTorch, variantMismatch } = require('../scripts/libtorch.js') as {
  findLibTorch(env: NodeJS.ProcessEnv): { source: string; version: string; variant: string; abi: string; libDir: string; cmakeDir: string };
  variantMismatch(variant: string, found: { variant: string }): string | null;
};

const root = path.resolve(__dirname, '..');
// Hides every LibTorch: no Python torch, no system prefixes.
const hidden = { ...process.env, NRNM_NO_PYTHON_TORCH: '1', NRNM_SYSTEM_LIBTORCH_PREFIXES: '/nonexistent' };

describe('LibTorch discovery', () => {
  it('finds a LibTorch on this machine and names its variant', () => {
    const found = findLibTorch(process.env);
    expect(found.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(found.variant).toMatch(/^torch\d+\.\d+-(cpu|cu\d+)-(cxx11|precxx11)$/);
    expect(fs.existsSync(path.join(found.libDir, 'libtorch.so'))).toBe(true);
  });

  it('prefers LIBTORCH over the system LibTorch and rejects one that points nowhere', () => {
    expect(() => findLibTorch({ ...process.env, LIBTORCH: '/nowhere/libtorch' })).toThrow(/LIBTORCH=\/nowhere\/libtorch .* is not a LibTorch installation/);
  });

  it('accepts Torch_DIR pointing at a CMake config directory', () => {
    const found = findLibTorch(process.env);
    const viaDir = findLibTorch({ ...hidden, Torch_DIR: found.cmakeDir });
    expect(viaDir.source).toBe('Torch_DIR');
    expect(viaDir.version).toBe(found.version);
  });

  it('reads the version and variant of a wheel-style LibTorch from either version header', () => {
    // The layout of PyTorch's wheels: lib/, share/cmake/Torch, and the
    // version in torch/csrc/api/include/torch/version.h (1.x) or, in newer
    // releases, only in torch/headeronly/version.h.
    for (const header of [
      ['include', 'torch', 'csrc', 'api', 'include', 'torch', 'version.h'],
      ['include', 'torch', 'headeronly', 'version.h'],
    ]) {
      const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-fake-libtorch-'));
      fs.mkdirSync(path.join(prefix, 'lib'));
      fs.writeFileSync(path.join(prefix, 'lib', 'libtorch.so'), '');
      fs.mkdirSync(path.join(prefix, 'share', 'cmake', 'Torch'), { recursive: true });
      fs.writeFileSync(path.join(prefix, 'share', 'cmake', 'Torch', 'TorchConfig.cmake'), '');
      fs.mkdirSync(path.join(prefix, ...header.slice(0, -1)), { recursive: true });
      fs.writeFileSync(path.join(prefix, ...header), '#define TORCH_VERSION_MAJOR 2\n#define TORCH_VERSION_MINOR 13\n#define TORCH_VERSION_PATCH 0\n');
      const found = findLibTorch({ ...hidden, LIBTORCH: prefix });
      expect(found.version).toBe('2.13.0');
      expect(found.variant).toBe('torch2.13-cpu-cxx11'); // no libc10.so to read: the ABI of every torch since 2.7
      fs.rmSync(prefix, { recursive: true, force: true });
    }
  });

  it('reads the C++ ABI from TORCH_CXX_FLAGS, else from the std::__cxx11 symbols of libc10.so', () => {
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-fake-libtorch-'));
    const config = path.join(prefix, 'share', 'cmake', 'Torch', 'TorchConfig.cmake');
    fs.mkdirSync(path.dirname(config), { recursive: true });
    fs.mkdirSync(path.join(prefix, 'lib'));
    fs.writeFileSync(path.join(prefix, 'lib', 'libtorch.so'), '');
    fs.mkdirSync(path.join(prefix, 'include', 'torch', 'headeronly'), { recursive: true });
    fs.writeFileSync(
      path.join(prefix, 'include', 'torch', 'headeronly', 'version.h'),
      '#define TORCH_VERSION_MAJOR 2\n#define TORCH_VERSION_MINOR 6\n#define TORCH_VERSION_PATCH 0\n',
    );
    const abi = (configText: string, c10: string) => {
      fs.writeFileSync(config, configText);
      fs.writeFileSync(path.join(prefix, 'lib', 'libc10.so'), c10);
      return findLibTorch({ ...hidden, LIBTORCH: prefix }).abi;
    };
    // torch <= 2.6 wheels: the flag says it (here against the symbols).
    expect(abi('  set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=0")\n', '_ZNSt7__cxx1112basic_string')).toBe('precxx11');
    expect(abi('  set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=1")\n', '')).toBe('cxx11');
    // torch >= 2.7 sets no flag: the symbols say it.
    expect(abi('', 'x _ZNKSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE4findEPKcmm y')).toBe('cxx11');
    expect(abi('', '_ZNKSs4findEPKcmm')).toBe('precxx11');
    fs.rmSync(prefix, { recursive: true, force: true });
  });

  it('says which of torch minor, CUDA major and C++ ABI keep a prebuild from fitting', () => {
    const debian = { variant: 'torch1.13-cpu-cxx11' };
    expect(variantMismatch('torch1.13-cpu-cxx11', debian)).toBeNull();
    expect(variantMismatch('torch1.13-cpu-precxx11', debian)).toBe(
      'torch1.13-cpu-precxx11: built with the pre-cxx11 (_GLIBCXX_USE_CXX11_ABI=0) C++ ABI, the LibTorch found uses cxx11 (_GLIBCXX_USE_CXX11_ABI=1) (it would fail to load with undefined std::__cxx11 symbols)',
    );
    expect(variantMismatch('torch2.14-cu13-cxx11', { variant: 'torch2.14-cu12-cxx11' })).toBe(
      'torch2.14-cu13-cxx11: built for CUDA 13, the LibTorch found is CUDA 12',
    );
    expect(variantMismatch('torch2.14-cu13-cxx11', debian)).toBe(
      'torch2.14-cu13-cxx11: built for torch 2.14, the LibTorch found is 1.13; built for CUDA 13, the LibTorch found is CPU only',
    );
  });

  it('names the three ways to get LibTorch when none is found', () => {
    expect(() => findLibTorch(hidden)).toThrow(/LIBTORCH=.*\n.*[\s\S]*python3[\s\S]*apt-get install libtorch-dev/);
  });

  it('makes the install fail with that message, not a CMake stack trace', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-nolibtorch-'));
    const result = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.js'), '--out', out], {
      env: hidden,
      encoding: 'utf8',
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/needs LibTorch .* and found none/);
    expect(result.stderr).toMatch(/apt-get install libtorch-dev/);
    expect(result.stdout + result.stderr).not.toMatch(/CMake Error|Call Stack/);
    fs.rmSync(out, { recursive: true, force: true });
  });
});
