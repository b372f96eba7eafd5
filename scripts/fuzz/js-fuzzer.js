#!/usr/bin/env node
'use strict';
/**
 * A coverage-guided fuzzer for the TypeScript readers (fuzz/js/<target>.js),
 * in the manner of libFuzzer: the compiled readers (dist/) are instrumented
 * with istanbul-lib-instrument as they load; an input that reaches a new
 * statement, branch or function, or a new hit-count bucket of one, joins the
 * corpus; inputs are mutated (bit flips, interesting integers, the target's
 * dictionary, ASCII numbers, erase/insert/copy, crossover).
 *
 * Why not Jazzer.js: @jazzer.js/fuzzer 4.0.0's only Linux x64 prebuild needs
 * glibc 2.38 (Debian 12 has 2.36), and 2.x downloads or builds its addon
 * (with LLVM's sources) at install time; nothing may download here.
 *
 * A finding is an error the target does not expect (fuzz/js/expected.js), an
 * input that runs past --timeout, or RSS past --rss-limit-mb. The fuzz loop
 * runs in a worker thread so that the main thread can stop a hang and save
 * its input. Usage:
 *   node scripts/fuzz/js-fuzzer.js <target> [corpus dirs...] [--time s] [--runs n]
 *     [--max-len n] [--timeout s] [--rss-limit-mb n] [--seed n] [--artifacts dir]
 *     [--merge out-dir] [--quiet]
 * The first corpus dir (default fuzz/corpus/<target>) receives new inputs
 * unless --no-save; --merge writes a minimal covering subset of all the dirs.
 */
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const ROOT = path.resolve(__dirname, '..', '..');

function parseArgs(argv) {
  const o = { dirs: [], time: 60, runs: Infinity, maxLen: 4096, timeout: 10, rssLimitMb: 2048, seed: Date.now() % 2 ** 31, save: true, quiet: false };
  const num = (i) => {
    const v = Number(argv[i]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`${argv[i - 1]} needs a non-negative number, got ${argv[i]}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--time') o.time = num(++i);
    else if (a === '--runs') o.runs = num(++i);
    else if (a === '--max-len') o.maxLen = num(++i);
    else if (a === '--timeout') o.timeout = num(++i);
    else if (a === '--rss-limit-mb') o.rssLimitMb = num(++i);
    else if (a === '--seed') o.seed = num(++i);
    else if (a === '--artifacts') o.artifacts = argv[++i];
    else if (a === '--merge') o.merge = argv[++i];
    else if (a === '--no-save') o.save = false;
    else if (a === '--quiet') o.quiet = true;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else if (o.target === undefined) o.target = a;
    else o.dirs.push(a);
  }
  if (o.target === undefined) throw new Error('usage: js-fuzzer.js <target> [corpus dirs...] [--time s] [--runs n] ...');
  if (o.dirs.length === 0) o.dirs.push(path.join(ROOT, 'fuzz', 'corpus', o.target));
  o.artifacts ??= process.cwd();
  return o;
}

const sha1 = (b) => crypto.createHash('sha1').update(b).digest('hex');

// ---------------------------------------------------------------------------
// Main thread: the supervisor (timeouts, memory, the report).
// ---------------------------------------------------------------------------

function supervise(o) {
  const current = new SharedArrayBuffer(8 + o.maxLen); // [progress, length] + the input being run
  const state = new Int32Array(current, 0, 2);
  const worker = new Worker(__filename, { workerData: { o, current } });
  let lastProgress = -1;
  let stuckSince = Date.now();
  let finished = false;
  const artifact = (kind) => {
    const len = Atomics.load(state, 1);
    const input = Buffer.from(new Uint8Array(current, 8, len));
    const file = path.join(o.artifacts, `${kind}-${o.target}-${sha1(input)}`);
    fs.writeFileSync(file, input);
    return file;
  };
  const stop = (code, line) => {
    if (finished) return;
    finished = true;
    clearInterval(timer);
    console.log(line);
    worker.terminate().then(() => process.exit(code));
  };
  const timer = setInterval(() => {
    const p = Atomics.load(state, 0);
    if (p !== lastProgress) {
      lastProgress = p;
      stuckSince = Date.now();
    } else if (Date.now() - stuckSince > o.timeout * 1000) {
      stop(1, `fuzz ${o.target}: FINDING timeout: one input ran over ${o.timeout} s; saved to ${artifact('timeout')}`);
    }
    const rss = process.memoryUsage.rss() / 2 ** 20;
    if (rss > o.rssLimitMb) stop(1, `fuzz ${o.target}: FINDING memory: RSS ${rss.toFixed(0)} MiB over ${o.rssLimitMb} MiB; input saved to ${artifact('oom')}`);
  }, 100);
  worker.on('message', (m) => {
    if (m.kind === 'status' && !o.quiet) console.log(m.line);
    if (m.kind === 'done') stop(0, m.line);
    if (m.kind === 'finding') stop(1, m.line);
  });
  worker.on('error', (e) => stop(1, `fuzz ${o.target}: FINDING worker died: ${e && e.stack ? e.stack : e}; input saved to ${artifact('crash')}`));
  worker.on('exit', (code) => stop(code === 0 ? 0 : 1, `fuzz ${o.target}: worker exited with ${code}`));
}

// ---------------------------------------------------------------------------
// Worker: instrumentation, corpus, mutation, the loop.
// ---------------------------------------------------------------------------

const COV = '__nrnmFuzzCoverage';

function instrumentDist() {
  const { createInstrumenter } = require('istanbul-lib-instrument');
  const instrumenter = createInstrumenter({ coverageVariable: COV, compact: true, esModules: false, produceSourceMap: false });
  const dist = path.join(ROOT, 'dist') + path.sep;
  const Module = require('node:module');
  const load = Module._extensions['.js'];
  Module._extensions['.js'] = function (module, filename) {
    if (!filename.startsWith(dist)) return load(module, filename);
    const code = instrumenter.instrumentSync(fs.readFileSync(filename, 'utf8'), filename);
    module._compile(code, filename);
  };
}

/** Hit counters of every instrumented file, flattened; read and cleared after each run. */
class Coverage {
  constructor() {
    this.files = [];
    this.known = 0;
    this.size = 0;
    this.everHit = new Uint8Array(0);
    this.seen = new Uint8Array(0);
  }

  refresh() {
    const all = globalThis[COV] || {};
    const names = Object.keys(all);
    if (names.length === this.known) return;
    for (const name of names.slice(this.known)) {
      const c = all[name];
      const parts = [];
      parts.push({ obj: c.s, keys: Object.keys(c.s), arr: false });
      parts.push({ obj: c.f, keys: Object.keys(c.f), arr: false });
      parts.push({ obj: c.b, keys: Object.keys(c.b), arr: true });
      for (const p of parts) {
        p.base = this.size;
        this.size += p.arr ? p.keys.reduce((n, k) => n + p.obj[k].length, 0) : p.keys.length;
        this.files.push(p);
      }
    }
    this.known = names.length;
    const grow = (a, n) => {
      const b = new Uint8Array(n);
      b.set(a);
      return b;
    };
    this.everHit = grow(this.everHit, this.size);
    this.seen = grow(this.seen, this.size);
  }

  static bucket(n) {
    return n >= 128 ? 128 : n >= 32 ? 64 : n >= 16 ? 32 : n >= 8 ? 16 : n >= 4 ? 8 : n === 3 ? 4 : n === 2 ? 2 : 1;
  }

  /** Collects the last run's counters (clearing them); the number of new features. */
  collect(record = true) {
    this.refresh();
    let fresh = 0;
    const mark = (i, n) => {
      const b = Coverage.bucket(n);
      this.everHit[i] = 1;
      if ((this.seen[i] & b) === 0) {
        if (record) this.seen[i] |= b;
        fresh++;
      }
    };
    for (const p of this.files) {
      let i = p.base;
      if (p.arr) {
        for (const k of p.keys) {
          const a = p.obj[k];
          for (let j = 0; j < a.length; j++, i++) {
            if (a[j] !== 0) {
              mark(i, a[j]);
              a[j] = 0;
            }
          }
        }
      } else {
        for (const k of p.keys) {
          const n = p.obj[k];
          if (n !== 0) {
            mark(i, n);
            p.obj[k] = 0;
          }
          i++;
        }
      }
    }
    return fresh;
  }

  get cov() {
    let n = 0;
    for (let i = 0; i < this.everHit.length; i++) n += this.everHit[i];
    return n;
  }

  get ft() {
    let n = 0;
    for (let i = 0; i < this.seen.length; i++) for (let s = this.seen[i]; s !== 0; s &= s - 1) n++;
    return n;
  }
}

/** mulberry32: a small seeded generator, so a run can be repeated with --seed. */
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n) => Math.floor(next() * n) };
}

const INTERESTING = [
  0, 1, 2, 7, 8, 15, 16, 31, 32, 63, 64, 100, 127, 128, 255, 256, 512, 1000, 1024, 4096, 32767, 32768, 65535, 65536, 0x7fffffff, 0x80000000, 0xffffffff,
];
const INTERESTING_TEXT = ['0', '1', '-1', '2', '25', '100', '255', '65536', '4294967296', '9007199254740993', '1e308', '-0', 'NaN', 'inf', '1.5'];

function mutator(r, maxLen, dict, corpus) {
  const ops = [
    // flip a bit
    (b) => {
      if (b.length === 0) return b;
      b[r.int(b.length)] ^= 1 << r.int(8);
      return b;
    },
    // a random byte
    (b) => {
      if (b.length === 0) return b;
      b[r.int(b.length)] = r.int(256);
      return b;
    },
    // an interesting integer, 1/2/4/8 bytes, either endianness
    (b) => {
      const width = [1, 2, 4, 8][r.int(4)];
      if (b.length < width) return b;
      const at = r.int(b.length - width + 1);
      let v = BigInt(INTERESTING[r.int(INTERESTING.length)]);
      if (r.int(4) === 0) v = -v;
      const big = r.int(2) === 0;
      for (let i = 0; i < width; i++) b[big ? at + width - 1 - i : at + i] = Number((v >> BigInt(8 * i)) & 0xffn);
      return b;
    },
    // add or subtract a little at a byte
    (b) => {
      if (b.length === 0) return b;
      const at = r.int(b.length);
      b[at] = (b[at] + r.int(35) - 17) & 0xff;
      return b;
    },
    // erase a range
    (b) => {
      if (b.length < 2) return b;
      const at = r.int(b.length);
      const n = 1 + r.int(Math.min(b.length - at, r.int(2) === 0 ? 8 : 256));
      return Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
    },
    // insert random bytes or a repeated byte
    (b) => {
      const n = 1 + r.int(r.int(2) === 0 ? 4 : 64);
      const ins = Buffer.alloc(n, r.int(256));
      if (r.int(2) === 0) for (let i = 0; i < n; i++) ins[i] = r.int(256);
      const at = r.int(b.length + 1);
      return Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
    },
    // copy a range elsewhere (insert or overwrite)
    (b) => {
      if (b.length < 2) return b;
      const from = r.int(b.length);
      const n = 1 + r.int(Math.min(b.length - from, 128));
      const part = Buffer.from(b.subarray(from, from + n));
      const at = r.int(b.length + 1);
      if (r.int(2) === 0) return Buffer.concat([b.subarray(0, at), part, b.subarray(at)]);
      part.copy(b, Math.min(at, b.length - 1));
      return b;
    },
    // a dictionary word (inserted or overwriting)
    (b) => {
      if (dict.length === 0) return b;
      const w = dict[r.int(dict.length)];
      const at = r.int(b.length + 1);
      if (r.int(2) === 0 || at + w.length > b.length) return Buffer.concat([b.subarray(0, at), w, b.subarray(at)]);
      w.copy(b, at);
      return b;
    },
    // an ASCII number replaced by another
    (b) => {
      const starts = [];
      for (let i = 0; i < b.length && starts.length < 64; i++)
        if (b[i] >= 0x30 && b[i] <= 0x39 && (i === 0 || b[i - 1] < 0x30 || b[i - 1] > 0x39)) starts.push(i);
      if (starts.length === 0) return b;
      const at = starts[r.int(starts.length)];
      let end = at;
      while (end < b.length && b[end] >= 0x30 && b[end] <= 0x39) end++;
      const text =
        r.int(2) === 0 ? INTERESTING_TEXT[r.int(INTERESTING_TEXT.length)] : String(r.int(2) === 0 ? r.int(10) : Math.floor(r.next() * 2 ** (1 + r.int(40))));
      return Buffer.concat([b.subarray(0, at), Buffer.from(text), b.subarray(end)]);
    },
    // crossover with another corpus input
    (b) => {
      if (corpus.length === 0) return b;
      const other = corpus[r.int(corpus.length)].data;
      if (other.length === 0) return b;
      const from = r.int(other.length);
      const part = other.subarray(from, from + 1 + r.int(Math.min(other.length - from, 512)));
      const at = r.int(b.length + 1);
      return r.int(2) === 0 ? Buffer.concat([b.subarray(0, at), part, b.subarray(at)]) : Buffer.concat([b.subarray(0, at), part]);
    },
  ];
  return (input) => {
    let b = Buffer.from(input);
    const n = 1 + r.int(r.int(2) === 0 ? 2 : 6);
    for (let i = 0; i < n; i++) b = ops[r.int(ops.length)](b);
    return b.length > maxLen ? b.subarray(0, maxLen) : b;
  };
}

function readDirs(dirs, maxLen) {
  const out = [];
  for (const d of dirs) {
    if (!fs.existsSync(d)) continue;
    for (const name of fs.readdirSync(d).sort()) {
      const f = path.join(d, name);
      if (fs.statSync(f).isFile()) out.push(fs.readFileSync(f).subarray(0, maxLen));
    }
  }
  return out;
}

async function fuzzInWorker() {
  const { o, current } = workerData;
  const state = new Int32Array(current, 0, 2);
  const bytes = new Uint8Array(current, 8, o.maxLen);
  instrumentDist();
  const target = require(path.join(ROOT, 'fuzz', 'js', `${o.target}.js`));
  const expected = require(path.join(ROOT, 'fuzz', 'js', 'expected.js'));
  const isExpected = target.expected || expected.isExpected;
  const dict = (target.dict || []).map((w) => Buffer.from(w));
  const cov = new Coverage();
  const r = rng(o.seed);
  const corpus = [];
  let execs = 0;
  let unexpectedNotes = 0;
  const started = Date.now();

  const runOne = async (data) => {
    bytes.set(data);
    Atomics.store(state, 1, data.length);
    Atomics.add(state, 0, 1);
    execs++;
    try {
      await target.fuzz(Buffer.from(data));
    } catch (err) {
      if (!isExpected(err)) {
        const file = path.join(o.artifacts, `crash-${o.target}-${sha1(data)}`);
        fs.writeFileSync(file, data);
        const what = err && err.stack ? err.stack.split('\n').slice(0, 8).join('\n') : String(err);
        const cause = err && err.cause ? `\ncause: ${err.cause.stack ? err.cause.stack.split('\n').slice(0, 6).join('\n') : err.cause}` : '';
        parentPort.postMessage({ kind: 'finding', line: `fuzz ${o.target}: FINDING after ${execs} runs: ${what}${cause}\ninput saved to ${file}` });
        await new Promise(() => {});
      }
      if (err && err.cause instanceof RangeError) unexpectedNotes++;
    }
  };
  const line = (tag) => {
    const s = (Date.now() - started) / 1000;
    const size = corpus.reduce((n, c) => n + c.data.length, 0);
    return `fuzz ${o.target}: #${execs} ${tag} cov: ${cov.cov} ft: ${cov.ft} corp: ${corpus.length}/${size}b exec/s: ${Math.round(execs / Math.max(s, 0.001))} time: ${s.toFixed(0)}s rss: ${Math.round(process.memoryUsage.rss() / 2 ** 20)}Mb`;
  };

  // Seeds first, smallest first, as libFuzzer does; with --merge, keep only those that add a feature.
  const seeds = readDirs(o.dirs, o.maxLen).sort((a, b) => a.length - b.length);
  if (seeds.length === 0) seeds.push(Buffer.alloc(0));
  for (const s of seeds) {
    await runOne(s);
    if (cov.collect() > 0 || (o.merge === undefined && corpus.length === 0)) corpus.push({ data: s });
  }
  if (o.merge !== undefined) {
    fs.mkdirSync(o.merge, { recursive: true });
    for (const c of corpus) fs.writeFileSync(path.join(o.merge, sha1(c.data)), c.data);
    parentPort.postMessage({ kind: 'done', line: `${line('MERGE')}: ${corpus.length} of ${seeds.length} inputs kept in ${o.merge}` });
    return;
  }
  parentPort.postMessage({ kind: 'status', line: line('INITED') });
  const mutate = mutator(r, o.maxLen, dict, corpus);
  const deadline = started + o.time * 1000;
  let nextStatus = Date.now() + 10000;
  while (execs < o.runs && Date.now() < deadline) {
    for (let k = 0; k < 64 && execs < o.runs; k++) {
      const parent = corpus[r.int(corpus.length)];
      const data = mutate(parent.data);
      await runOne(data);
      if (cov.collect() > 0) {
        corpus.push({ data });
        if (o.save) fs.writeFileSync(path.join(o.dirs[0], sha1(data)), data);
      }
    }
    // Let the event loop turn, as a program's does: Node frees some things
    // only from its tick queue (a zlib stream that failed, 16 KiB each, stays
    // queued for its 'error' event); awaiting microtasks alone never gets there.
    await new Promise((resolve) => setImmediate(resolve));
    if (Date.now() > nextStatus) {
      parentPort.postMessage({ kind: 'status', line: line('pulse') });
      nextStatus = Date.now() + 10000;
    }
  }
  const note = unexpectedNotes > 0 ? ` (${unexpectedNotes} refusals carried a RangeError as their cause)` : '';
  parentPort.postMessage({ kind: 'done', line: `${line('DONE')}, no finding${note}` });
}

if (isMainThread) {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`js-fuzzer: ${e.message}`);
    process.exit(2);
  }
  if (o.save && o.merge === undefined) fs.mkdirSync(o.dirs[0], { recursive: true });
  supervise(o);
} else {
  fuzzInWorker().catch((e) => {
    parentPort.postMessage({ kind: 'finding', line: `fuzz: the fuzzer itself failed: ${e.stack}` });
  });
}
