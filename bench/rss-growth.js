#!/usr/bin/env node
/**
 * Resident memory over a long training run with predictions: a small model
 * trained step after step on synthetic data, with a prediction (logits read
 * back to JS, the Tensor left to the garbage collector as most callers do)
 * after every step. RSS is recorded every --every steps; the script reports
 * the growth between --from and the last step, which should stay below 5%.
 *
 *   npm run build:ts && node bench/rss-growth.js [--steps 10000] [--every 500] [--from 1500] [--json out.json]
 *
 * Not a test: it takes minutes. Run it niced on a shared machine.
 */
'use strict';

const { writeFileSync } = require('node:fs');
const { NRNMClassifier, Trainer } = require('../dist');
const { flag } = require('./flag');
const { mulberry32 } = require('../test/helpers/mulberry32');

const steps = Number(flag('steps', 10000));
const every = Number(flag('every', 500));
const from = Number(flag('from', 1500));
const jsonOut = flag('json', undefined);
// Diagnostics: where the growth comes from.
const dispose = process.argv.includes('--dispose'); // dispose the logits instead of leaving them to the collector
const predict = !process.argv.includes('--no-predict');
const gcEvery = Number(flag('gc-every', 0)); // global.gc() every N steps (needs node --expose-gc)

const B = 8;
const T = 20;
const F = 8;
const CLASSES = 4;

/** Deterministic batches: channel `label` of each sequence carries an offset. */
function batch(step) {
  const rand = mulberry32(step * 2654435761);
  const data = new Float32Array(B * T * F);
  const labels = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    labels[b] = Math.floor(rand() * CLASSES);
    for (let t = 0; t < T; t++) for (let f = 0; f < F; f++) data[(b * T + t) * F + f] = rand() - 0.5 + (f === labels[b] ? 0.6 : 0);
  }
  return { x: { data, shape: [B, T, F] }, labels };
}

function mib(bytes) {
  return Math.round((bytes / 1048576) * 10) / 10;
}

async function main() {
  const model = new NRNMClassifier({ inputSize: F, classes: CLASSES, hiddenSize: 32, layers: 1, inputAggregation: 'strided', seed: 1 });
  const trainer = new Trainer(model);
  const curve = [];
  const started = Date.now();
  const record = (step) => {
    const m = process.memoryUsage();
    const point = {
      step,
      rssMiB: mib(m.rss),
      heapTotalMiB: mib(m.heapTotal),
      heapUsedMiB: mib(m.heapUsed),
      externalMiB: mib(m.external),
      seconds: Math.round((Date.now() - started) / 100) / 10,
    };
    curve.push(point);
    console.log(JSON.stringify(point));
  };
  record(0);
  for (let step = 1; step <= steps; step++) {
    const { x, labels } = batch(step % 1000);
    model.train();
    await trainer.step(x, labels);
    if (predict) {
      model.eval();
      const logits = await model.predict(x);
      logits.toArray();
      if (dispose) logits.dispose();
    }
    if (gcEvery > 0 && step % gcEvery === 0) global.gc();
    if (step % every === 0) record(step);
  }
  const at = (s) => curve.reduce((best, p) => (Math.abs(p.step - s) < Math.abs(best.step - s) ? p : best));
  const base = at(from);
  const last = curve[curve.length - 1];
  const growth = (last.rssMiB - base.rssMiB) / base.rssMiB;
  const summary = { from: base.step, to: last.step, rssFromMiB: base.rssMiB, rssToMiB: last.rssMiB, growthPercent: Math.round(growth * 1000) / 10 };
  console.log(JSON.stringify({ summary }));
  if (jsonOut !== undefined) writeFileSync(jsonOut, `${JSON.stringify({ curve, summary }, null, 1)}\n`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
