/**
 * The IDX fuzz target's memory stays flat (issue 26's finding). A zlib call
 * that fails on corrupt gzip data leaves its stream, with a 16 KiB output
 * buffer, in Node's tick queue for its 'error' event; a fuzz loop that only
 * awaits microtasks never lets that queue run, and grew about 2.5 KiB a run.
 * The real fuzzer (scripts/fuzz/js-fuzzer.js, over dist/) runs the real
 * reader on mutated Fashion-MNIST seeds; its lines report the process's RSS.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureBuilt, root } from '../cli/run-cli';

const MiB = 2 ** 20;

function rssOf(out: string, tag: string): number {
  const m = out.match(new RegExp(`#\\d+ ${tag} .* rss: (\\d+)Mb`));
  if (!m) throw new Error(`no ${tag} line with rss in the fuzzer's output:\n${out}`);
  return Number(m[1]) * MiB;
}

test('40,000 runs of the idx fuzz target grow RSS by less than 64 MiB', () => {
  ensureBuilt();
  const artifacts = fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-idx-fuzz-'));
  try {
    const r = spawnSync(
      process.execPath,
      [path.join(root, 'scripts', 'fuzz', 'js-fuzzer.js'), 'idx', '--runs', '40000', '--seed', '1', '--max-len', '8192', '--no-save', '--artifacts', artifacts],
      { cwd: root, encoding: 'utf8', timeout: 110_000 },
    );
    const out = r.stdout + r.stderr;
    expect({ code: r.status, finding: /FINDING/.test(out) }).toEqual({ code: 0, finding: false });
    // Measured on the 2-core CI machine: 42 MiB (corpus, coverage, JIT warm-up); 117 MiB before the fix.
    expect(rssOf(out, 'DONE') - rssOf(out, 'INITED')).toBeLessThan(64 * MiB);
  } finally {
    fs.rmSync(artifacts, { recursive: true, force: true });
  }
});
