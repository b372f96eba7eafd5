#!/usr/bin/env node
/**
 * Per-frame latency of streaming inference at batch 1: `stream.push` of one
 * frame (every layer's state kept, the memory updating every blockLength
 * frames) against what a deployment without a stream does per frame, a
 * full `predict` over the last T frames (T = 100, a sliding window). Both in
 * eval mode, through the real addon and its thread pool (what a Node
 * application sees), random weights and frames, on --device (cpu).
 *
 *   npm run build:ts && nice node bench/stream-latency.js [--config small|official|all]
 *       [--frames 300] [--windows 50] [--window 100] [--warmup 20] [--device cpu] [--json]
 *
 * small: 1 x 128, F = 150; official: 2 x 512, F = 150 (60 classes, dilated).
 */
'use strict';

const { NRNMClassifier } = require('../dist');
const { flag } = require('./flag');
const { quantile } = require('./stats');
const { mulberry32 } = require('../test/helpers/mulberry32');

const CONFIGS = {
  small: { layers: 1, hiddenSize: 128 },
  official: { layers: 2, hiddenSize: 512 },
};
const F = 150;
const configName = String(flag('config', 'all'));
const frames = Number(flag('frames', 300));
const windows = Number(flag('windows', 50));
const window = Number(flag('window', 100));
const warmup = Number(flag('warmup', 20));
const device = String(flag('device', 'cpu'));
const json = process.argv.includes('--json');

function summary(ms) {
  const sorted = [...ms].sort((a, b) => a - b);
  return { samples: ms.length, median: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1] };
}

async function measure(name) {
  const model = new NRNMClassifier({ inputSize: F, classes: 60, ...CONFIGS[name], device, seed: 1 }).eval();
  const r = mulberry32(7);
  const total = warmup + Math.max(frames, window);
  const x = Float32Array.from({ length: total * F }, () => 2 * r() - 1);
  const frame = (t) => ({ data: x.subarray(t * F, (t + 1) * F), shape: [1, 1, F] });

  const stream = model.stream({ batch: 1 });
  const push = [];
  for (let t = 0; t < warmup + frames; t++) {
    const began = performance.now();
    const out = await stream.push(frame(t));
    const ms = performance.now() - began;
    out.dispose();
    if (t >= warmup) push.push(ms);
  }
  stream.dispose();

  // The sliding window: predict over frames [t - window + 1, t].
  const full = [];
  const last = x.subarray(0, window * F);
  for (let i = 0; i < warmup / 4 + windows; i++) {
    const began = performance.now();
    const out = await model.predict({ data: last, shape: [1, window, F] });
    const ms = performance.now() - began;
    out.dispose();
    if (i >= warmup / 4) full.push(ms);
  }
  model.dispose();
  return { config: name, layers: CONFIGS[name].layers, hiddenSize: CONFIGS[name].hiddenSize, features: F, stream: summary(push), window, full: summary(full) };
}

async function main() {
  const names = configName === 'all' ? Object.keys(CONFIGS) : [configName];
  for (const n of names) if (!CONFIGS[n]) throw new Error(`--config ${n}: expected small, official or all`);
  const results = [];
  for (const n of names) results.push(await measure(n));
  if (json) {
    process.stdout.write(`${JSON.stringify({ device, results })}\n`);
    return;
  }
  const f = (v) => v.toFixed(3);
  console.log(`batch-1 latency per frame, ms (device ${device}):`);
  console.log('| config | stream.push median | stream.push p99 | predict over last T median | predict over last T p99 | speed-up (median) |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.config} (${r.layers}x${r.hiddenSize}, F=${r.features}) | ${f(r.stream.median)} | ${f(r.stream.p99)} | ${f(r.full.median)} (T=${r.window}) | ${f(r.full.p99)} | ${(r.full.median / r.stream.median).toFixed(1)}x |`,
    );
  }
  console.log(`(${results[0].stream.samples} pushes and ${results[0].full.samples} windows per config)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
