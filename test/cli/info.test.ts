import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

const bin = path.resolve(__dirname, '..', '..', 'bin', 'nrnm-native');

describe('nrnm-native info', () => {
  it('reports the LibTorch this process mapped and the binary it loaded', () => {
    const out = execFileSync(process.execPath, [bin, 'info', '--json'], { encoding: 'utf8' });
    const report = JSON.parse(out);
    expect(report.libtorch.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(report.libtorch.path).toMatch(/^\//);
    expect(report.binary.path).toMatch(/nrnm_native\.node$|\.node$/);
    expect(typeof report.cuda.available).toBe('boolean');
    expect(report.threads.intraOp).toBeGreaterThan(0);
  });

  it('prints a readable report without --json', () => {
    const out = execFileSync(process.execPath, [bin, 'info'], { encoding: 'utf8' });
    expect(out).toMatch(/^nrnm-native \d+\.\d+\.\d+ on Node v/);
    expect(out).toMatch(/LibTorch: +\d+\.\d+\.\d+ from \//);
  });
});
