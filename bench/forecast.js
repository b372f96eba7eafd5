#!/usr/bin/env node
/**
 * One-step-ahead forecasting with task 'regress-steps': LSTM-NRNM against
 * the plain LSTM of the same size (the same network whose memory never
 * updates: blockLength 90 > T), same seeds, same step budget.
 *
 * The signal (synthetic, fully described): each sequence is
 *   x_t = a1 sin(2 pi t / p1 + f1) + a2 sin(2 pi t / p2 + f2) + 0.05 e_t
 * with p1 ~ U(20, 40), p2 ~ U(5, 10), a1 ~ U(0.5, 1), a2 ~ U(0.2, 0.5),
 * f1, f2 ~ U(0, 2 pi), e_t ~ N(0, 1), t = 0..T (T = 80). The input at step t
 * is x_t, the target x_{t+1}: the model must infer the two periods and
 * phases from what it has seen. Train and test sequences come from
 * different generator seeds. Also prints the MSE of "tomorrow = today".
 *
 *   npm run build:ts && nice node bench/forecast.js [--steps 300] [--batch 32] [--hidden 32] [--seeds 1,2,3]
 */
'use strict';

const { NRNMClassifier, Trainer } = require('../dist');
const { flag } = require('./flag');
const { median } = require('./stats');
const { mulberry32 } = require('../test/helpers/mulberry32');

const steps = Number(flag('steps', 300));
const batchSize = Number(flag('batch', 32));
const hidden = Number(flag('hidden', 32));
const seeds = String(flag('seeds', '1,2,3')).split(',').map(Number);
const T = 80;

/** n sequences: x [n, T, 1] and targets [n, T, 1] (the next value). */
function signals(n, seed) {
  const r = mulberry32(seed);
  const u = (lo, hi) => lo + (hi - lo) * r();
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const x = new Float32Array(n * T);
  const y = new Float32Array(n * T);
  for (let i = 0; i < n; i++) {
    const [p1, p2, a1, a2, f1, f2] = [u(20, 40), u(5, 10), u(0.5, 1), u(0.2, 0.5), u(0, 2 * Math.PI), u(0, 2 * Math.PI)];
    const v = Array.from(
      { length: T + 1 },
      (_, t) => a1 * Math.sin((2 * Math.PI * t) / p1 + f1) + a2 * Math.sin((2 * Math.PI * t) / p2 + f2) + 0.05 * normal(),
    );
    for (let t = 0; t < T; t++) {
      x[i * T + t] = v[t];
      y[i * T + t] = v[t + 1];
    }
  }
  return { x, y, n };
}

async function run(name, options, seed, test) {
  const model = new NRNMClassifier({
    inputSize: 1,
    classes: 1,
    task: 'regress-steps',
    hiddenSize: hidden,
    layers: 1,
    heads: 4,
    inputAggregation: 'strided',
    zoneout: 0,
    memoryDropout: 0,
    init: 'standard',
    device: 'cpu',
    seed,
    ...options,
  });
  const trainer = new Trainer(model, { lr: 3e-3, weightDecay: 0, clip: 5, scheduler: 'none' });
  const times = [];
  for (let s = 0; s < steps; s++) {
    const batch = signals(batchSize, 1000 * seed + s); // fresh training sequences every step
    const t0 = performance.now();
    await trainer.step({ data: batch.x, shape: [batchSize, T, 1] }, batch.y);
    times.push(performance.now() - t0);
  }
  const r = await trainer.evaluate({ data: test.x, shape: [test.n, T, 1] }, test.y);
  r.logits.dispose();
  trainer.dispose();
  model.dispose();
  return { name, seed, mse: r.loss, stepMs: median(times.slice(10)) };
}

async function main() {
  const test = signals(500, 987654321);
  let persistence = 0;
  for (let i = 0; i < test.x.length; i++) persistence += (test.y[i] - test.x[i]) ** 2;
  persistence /= test.x.length;
  const variants = { 'LSTM-NRNM': {}, 'plain LSTM': { blockLength: 90, stride: 45 } };
  const runs = [];
  for (const seed of seeds) {
    for (const [name, options] of Object.entries(variants)) {
      const r = await run(name, options, seed, test);
      runs.push(r);
      console.error(`${name} seed ${seed}: test MSE ${r.mse.toFixed(5)}, step ${r.stepMs.toFixed(1)} ms`);
    }
  }
  const lines = [
    `| model (hidden ${hidden}, 1 layer, ${steps} steps of ${batchSize}) | test MSE (500 sequences x ${T} steps), mean ± half range over seeds ${seeds.join(', ')} | step time (ms) |`,
    '|---|---|---|',
  ];
  for (const name of Object.keys(variants)) {
    const m = runs.filter((r) => r.name === name).map((r) => r.mse);
    const mean = m.reduce((a, b) => a + b, 0) / m.length;
    lines.push(
      `| ${name} | ${mean.toFixed(5)} ± ${((Math.max(...m) - Math.min(...m)) / 2).toFixed(5)} | ${median(runs.filter((r) => r.name === name).map((r) => r.stepMs)).toFixed(1)} |`,
    );
  }
  lines.push(`| "next = current" (persistence) | ${persistence.toFixed(5)} | - |`);
  console.log(lines.join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
