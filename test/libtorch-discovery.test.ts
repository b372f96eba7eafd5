import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { findLibTorch } = require('../scripts/libtorch.js') as {
  findLibTorch(env: NodeJS.ProcessEnv): { source: string; version: string; variant: string; libDir: string; cmakeDir: string };
};

const root = path.resolve(__dirname, '..');
// Hides every LibTorch: no Python torch, no system prefixes.
const hidden = { ...process.env, NRNM_NO_PYTHON_TORCH: '1', NRNM_SYSTEM_LIBTORCH_PREFIXES: '/nonexistent' };

describe('LibTorch discovery', () => {
  it('finds a LibTorch on this machine and names its variant', () => {
    const found = findLibTorch(process.env);
    expect(found.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(found.variant).toMatch(/^torch\d+\.\d+-(cpu|cu\d+)$/);
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
      expect(found.variant).toBe('torch2.13-cpu');
      fs.rmSync(prefix, { recursive: true, force: true });
    }
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
