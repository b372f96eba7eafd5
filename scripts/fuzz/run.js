#!/usr/bin/env node
'use strict';
/**
 * `npm run fuzz [-- [targets...] [--time s] [--runs n] [--seed n] [--no-tsc]]`: fuzzes
 * the readers of untrusted files, each for a time box (default 60 s), and
 * prints one line per target (executions, coverage, findings).
 *   native (libFuzzer, ASan + UBSan; scripts/fuzz/build-native.sh): json, safetensors
 *   TypeScript (scripts/fuzz/js-fuzzer.js over dist/): zip, pt, pickle, npy, idx, skeleton
 * Inputs start from fuzz/corpus/<target>/ (committed, minimized); new ones go
 * to build/fuzz/corpus/<target>/, findings to build/fuzz/artifacts/. Exits 1
 * on any finding. Runs under `nice -n 15`: the machine is shared.
 */
const { spawnSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const NATIVE = { json: { maxLen: 2048 }, safetensors: { maxLen: 2048 } };
const JS = { zip: { maxLen: 4096 }, pt: { maxLen: 8192 }, pickle: { maxLen: 4096 }, npy: { maxLen: 4096 }, idx: { maxLen: 8192 }, skeleton: { maxLen: 8192 } };

function parseArgs(argv) {
  const o = { targets: [], time: 60, runs: undefined, seed: undefined, tsc: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--time') o.time = Number(argv[++i]);
    else if (a === '--runs') o.runs = Number(argv[++i]);
    else if (a === '--seed') o.seed = Number(argv[++i]);
    else if (a === '--no-tsc') o.tsc = false;
    else if (a === '--help' || a === '-h') {
      console.log(
        `usage: npm run fuzz -- [${[...Object.keys(NATIVE), ...Object.keys(JS)].join('|')} ...] [--time seconds per target] [--runs n] [--seed n] [--no-tsc: dist/ is current]`,
      );
      process.exit(0);
    } else if (a in NATIVE || a in JS) o.targets.push(a);
    else {
      console.error(`fuzz: unknown target or option '${a}' (targets: ${[...Object.keys(NATIVE), ...Object.keys(JS)].join(', ')})`);
      process.exit(2);
    }
  }
  for (const [k, v] of [
    ['--time', o.time],
    ['--runs', o.runs],
    ['--seed', o.seed],
  ]) {
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) {
      console.error(`fuzz: ${k} needs a non-negative integer`);
      process.exit(2);
    }
  }
  if (o.targets.length === 0) o.targets = [...Object.keys(NATIVE), ...Object.keys(JS)];
  return o;
}

/** Runs `cmd` under nice, echoing its output; resolves to [exit code, output]. */
function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn('nice', ['-n', '15', cmd, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const take = (chunk) => {
      out += chunk;
      if (out.length > 1 << 20) out = out.slice(-(1 << 19));
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('close', (code, signal) => resolve([code ?? (signal ? 128 : 1), out]));
  });
}

async function fuzzNative(t, o, dirs) {
  const args = [
    `-dict=${path.join(ROOT, 'fuzz', 'dict', `${t}.dict`)}`,
    `-max_len=${NATIVE[t].maxLen}`,
    `-max_total_time=${o.time}`,
    '-rss_limit_mb=2048',
    '-timeout=10',
    '-print_final_stats=1',
    `-artifact_prefix=${dirs.artifacts}/${t}-`,
    ...(o.runs === undefined ? [] : [`-runs=${o.runs}`]),
    ...(o.seed === undefined ? [] : [`-seed=${o.seed}`]),
    dirs.work,
    path.join(ROOT, 'fuzz', 'corpus', t),
  ];
  const [code, out] = await run(path.join(ROOT, 'build', 'fuzz', `${t}_fuzzer`), args);
  const done = out.match(/#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\S+).*exec\/s: (\d+)/);
  if (code === 0 && done) return { ok: true, line: `${done[1]} runs, cov ${done[2]}, ft ${done[3]}, corpus ${done[4]}, ${done[5]} exec/s, no finding` };
  const tail = out.split('\n').filter((l) => /ERROR|SUMMARY|runtime error|Test unit written|==\d+==/.test(l));
  return { ok: false, line: `FINDING (exit ${code}):\n    ${tail.slice(0, 12).join('\n    ')}` };
}

async function fuzzJs(t, o, dirs) {
  const args = [
    path.join(ROOT, 'scripts', 'fuzz', 'js-fuzzer.js'),
    t,
    dirs.work,
    path.join(ROOT, 'fuzz', 'corpus', t),
    '--time',
    String(o.time),
    '--max-len',
    String(JS[t].maxLen),
    '--timeout',
    '10',
    '--rss-limit-mb',
    '2048',
    '--artifacts',
    dirs.artifacts,
    '--quiet',
    ...(o.runs === undefined ? [] : ['--runs', String(o.runs)]),
    ...(o.seed === undefined ? [] : ['--seed', String(o.seed)]),
  ];
  const [code, out] = await run(process.execPath, args);
  const done = out.match(/#(\d+) DONE cov: (\d+) ft: (\d+) corp: (\S+) exec\/s: (\d+) .*rss: (\d+)Mb/);
  if (code === 0 && done)
    return {
      ok: true,
      line: `${done[1]} runs, cov ${done[2]}, ft ${done[3]}, corpus ${done[4]}, ${done[5]} exec/s, RSS ${done[6]} MiB at the end, no finding`,
    };
  return { ok: false, line: `FINDING (exit ${code}):\n    ${out.trim().split('\n').slice(-12).join('\n    ')}` };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const build = path.join(ROOT, 'build', 'fuzz');
  if (o.targets.some((t) => t in NATIVE)) {
    const b = spawnSync('bash', [path.join(ROOT, 'scripts', 'fuzz', 'build-native.sh')], { cwd: ROOT, stdio: 'inherit' });
    if (b.status !== 0) process.exit(b.status ?? 1);
  }
  if (o.tsc && o.targets.some((t) => t in JS)) {
    // The JS targets fuzz the compiled readers (dist/), as users run them.
    const b = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
    if (b.status !== 0) process.exit(b.status ?? 1);
  }
  let findings = 0;
  for (const t of o.targets) {
    const dirs = { work: path.join(build, 'corpus', t), artifacts: path.join(build, 'artifacts') };
    fs.mkdirSync(dirs.work, { recursive: true });
    fs.mkdirSync(dirs.artifacts, { recursive: true });
    const started = Date.now();
    const r = t in NATIVE ? await fuzzNative(t, o, dirs) : await fuzzJs(t, o, dirs);
    if (!r.ok) findings++;
    console.log(`fuzz: ${t} (${((Date.now() - started) / 1000).toFixed(0)} s): ${r.line}`);
  }
  console.log(
    `fuzz: ${o.targets.length} targets, ${findings} with findings${findings > 0 ? ` (inputs in ${path.relative(ROOT, path.join(build, 'artifacts'))}/)` : ''}`,
  );
  process.exit(findings > 0 ? 1 : 0);
}

main();
