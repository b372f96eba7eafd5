#!/usr/bin/env node
/**
 * What the NRNM variants buy on sequential Fashion-MNIST (28 rows of 28
 * pixels): the same step budget, batch and seeds for LSTM-NRNM, GRU-NRNM,
 * RNN-NRNM, NRNM w/o SA (attention 'linear') and the plain LSTM and GRU of
 * the same hidden size. "Plain" is the same network whose memory never
 * updates (blockLength 30 > 28 steps, so the refinement term stays 0): the
 * bare backbone with the same zoneout, head and initialisation.
 *
 *   npm run build:ts && nice node bench/variants.js [--steps 300] [--batch 64]
 *       [--hidden 64] [--seeds 1,2,3] [--test 2000] [--models all] [--json out.json]
 *
 * Per run: test accuracy on the first --test test images (eval mode) and the
 * median wall time of a training step (steps 11..N). Prints a Markdown table
 * of mean ± half the range over the seeds. Not a test: it takes minutes.
 */
'use strict';

const { writeFileSync } = require('node:fs');
const { NRNMClassifier, Trainer, datasets } = require('../dist');
const { flag } = require('./flag');
const { median } = require('./stats');

const steps = Number(flag('steps', 300));
const batchSize = Number(flag('batch', 64));
const hidden = Number(flag('hidden', 64));
const seeds = String(flag('seeds', '1,2,3')).split(',').map(Number);
const testRows = Number(flag('test', 2000));
const jsonOut = flag('json', undefined);

// The papers' clean options for a 28-wide input (strided aggregation).
const common = {
  inputSize: 28,
  classes: 10,
  hiddenSize: hidden,
  layers: 1,
  heads: 4,
  inputAggregation: 'strided',
  zoneoutMode: 'per-step',
  memoryDropoutMode: 'per-sample',
  init: 'standard',
  head: 'linear',
  device: 'cpu',
};
const noMemory = { blockLength: 30, stride: 15 }; // the first update would be at t = 30
const MODELS = {
  'LSTM-NRNM': { backbone: 'lstm' },
  'GRU-NRNM': { backbone: 'gru' },
  'RNN-NRNM': { backbone: 'rnn' },
  'NRNM w/o SA (LSTM)': { backbone: 'lstm', attention: 'linear' },
  'plain LSTM': { backbone: 'lstm', ...noMemory },
  'plain GRU': { backbone: 'gru', ...noMemory },
};
const chosen = flag('models', 'all') === 'all' ? Object.keys(MODELS) : String(flag('models')).split(',');

async function run(name, seed, train, test) {
  const model = new NRNMClassifier({ ...common, ...MODELS[name], seed });
  const trainer = new Trainer(model, { lr: 2e-3, weightDecay: 0, clip: 5, scheduler: 'none' });
  const times = [];
  let done = 0;
  for (let epoch = 0; done < steps; epoch++) {
    for await (const batch of train.batches(batchSize, { shuffle: true, seed, epoch, dropLast: true })) {
      if (done >= steps) break;
      const t0 = performance.now();
      await trainer.step({ data: batch.x, shape: batch.shape }, batch.y);
      times.push(performance.now() - t0);
      done++;
    }
  }
  let correct = 0;
  for (let start = 0; start < testRows; start += 500) {
    const batch = await test.readRange(start, Math.min(500, testRows - start));
    const r = await trainer.evaluate({ data: batch.x, shape: batch.shape }, batch.y);
    r.logits.dispose();
    correct += r.correct;
  }
  const parameters = Object.values(model.parameterShapes()).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  trainer.dispose();
  model.dispose();
  return { model: name, seed, accuracy: correct / testRows, stepMs: median(times.slice(10)), parameters };
}

async function main() {
  const train = datasets.fashionMnist.load({ part: 'train' });
  const test = datasets.fashionMnist.load({ part: 'test' });
  const runs = [];
  for (const seed of seeds) {
    for (const name of chosen) {
      const r = await run(name, seed, train, test);
      runs.push(r);
      console.error(`${name} seed ${seed}: accuracy ${(100 * r.accuracy).toFixed(2)}%, step ${r.stepMs.toFixed(1)} ms`);
    }
  }
  const lines = [
    `| model (hidden ${hidden}, 1 layer) | parameters | test accuracy (${testRows} images), mean ± half range over seeds ${seeds.join(', ')} | step time (ms, median of medians) |`,
    '|---|---|---|---|',
  ];
  for (const name of chosen) {
    const mine = runs.filter((r) => r.model === name);
    const acc = mine.map((r) => 100 * r.accuracy);
    const mean = acc.reduce((a, b) => a + b, 0) / acc.length;
    const spread = (Math.max(...acc) - Math.min(...acc)) / 2;
    lines.push(`| ${name} | ${mine[0].parameters} | ${mean.toFixed(2)} ± ${spread.toFixed(2)} % | ${median(mine.map((r) => r.stepMs)).toFixed(1)} |`);
  }
  console.log(lines.join('\n'));
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ steps, batchSize, hidden, seeds, testRows, runs }, null, 2));
  await train.close();
  await test.close();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
