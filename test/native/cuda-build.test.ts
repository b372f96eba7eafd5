/**
 * What a CUDA build of the addon does, on a machine without a GPU (CI, a
 * laptop) and on one with a GPU. Which block runs depends on the binary that
 * loads (NRNM_NATIVE_BINARY picks the CUDA build in .ci/run) and on the
 * machine; the others skip and say why.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NRNMClassifier, NRNMError } from '../../src';
import { probeCuda } from '../../src/device';
import { native } from '../../src/native';
import { bin, ensureBuilt } from '../cli/run-cli';

const builtWithCuda = native().builtWithCuda;
const gpu = builtWithCuda && probeCuda().ok;
const small = { inputSize: 4, classes: 4, hiddenSize: 8, layers: 1, seed: 3 } as const;

function only(condition: boolean, why: string): jest.Describe {
  if (!condition) {
    console.log(`skipped: ${why}`);
    return describe.skip;
  }
  return describe;
}

only(builtWithCuda && !gpu, builtWithCuda ? 'a GPU is visible (the GPU block runs instead)' : `this binary is a CPU build (${native().variant})`)(
  'a CUDA build on a machine without a GPU',
  () => {
    beforeAll(() => ensureBuilt());

    it("falls back to the CPU for device 'auto' and says why, once", () => {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-cuda-auto-'));
      try {
        const run = spawnSync(
          process.execPath,
          [bin, 'train', '--max-steps', '2', '--limit', '64', '--batch-size', '16', '--device', 'auto', '--out', out, '--quiet'],
          { encoding: 'utf8', env: { ...process.env, NRNM_QUIET_DEVICE: '' } },
        );
        expect(run.status).toBe(0);
        const lines = run.stderr.split('\n').filter((l) => /device 'auto' runs on the CPU/.test(l));
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/CUDA|GPU|driver/);
        // The remedy fits a CUDA build: another machine, not another build.
        expect(lines[0]).toMatch(/built with CUDA: run it where an NVIDIA GPU/);
        expect(lines[0]).not.toMatch(/build nrnm-native against a CUDA LibTorch/);
        expect(fs.existsSync(path.join(out, 'last.nrnm'))).toBe(true);
      } finally {
        fs.rmSync(out, { recursive: true, force: true });
      }
    });

    it("refuses device 'cuda' with an NRNMError (no crash)", () => {
      let caught: unknown;
      try {
        new NRNMClassifier({ ...small, device: 'cuda' }).dispose();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(NRNMError);
      expect((caught as NRNMError).code).toBe('ERR_CUDA');
      expect((caught as NRNMError).message).toMatch(/device 'cuda' was requested but CUDA cannot be used/);
    });

    it('info says which CUDA it was built with, that no GPU is visible, and the CUDA libraries it mapped', () => {
      const text = execFileSync(process.execPath, [bin, 'info'], { encoding: 'utf8' });
      expect(text).toMatch(/CUDA: +built with CUDA \d+, no GPU visible/);
      const report = JSON.parse(execFileSync(process.execPath, [bin, 'info', '--json'], { encoding: 'utf8' }));
      expect(report.cuda.builtWith).toMatch(/^\d+$/); // the CUDA major of the variant
      expect(report.binary.reason).toBeDefined();
      const names = report.cuda.libraries.map((l: { name: string }) => l.name);
      expect(names).toEqual(expect.arrayContaining(['cudart']));
      for (const lib of report.cuda.libraries) expect(fs.existsSync(lib.path)).toBe(true);
    });
  },
);

only(gpu, builtWithCuda ? `no usable GPU: ${probeCuda().reason}` : `this binary is a CPU build (${native().variant})`)('a CUDA build on a GPU', () => {
  it("puts device 'auto' on cuda:0", async () => {
    const model = new NRNMClassifier({ ...small, device: 'auto' });
    expect(model.device).toMatch(/^cuda/);
    model.dispose();
  });
});
