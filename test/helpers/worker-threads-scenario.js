'use strict';
// Uses the addon from Node worker_threads in one scenario, in a process of its
// own (test/native/worker-threads.test.ts): a crash or an abort shows as the
// process's signal instead of taking jest down. Prints one JSON line.
//
//   node worker-threads-scenario.js <scenario> [json args]
//
// Scenarios (main thread):
//   sequential  workers one after another, each trains its own model
//   concurrent  several workers at once while the main thread trains too
//   terminate   workers terminated during trainer.step / trainer.fit, then
//               the main thread keeps training; RSS after each round
// Inside a worker (workerData.role): 'train' or 'step-forever' / 'fit-forever'.
const path = require('node:path');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const dist = path.join(__dirname, '..', '..', 'dist');
const { NRNMClassifier, Trainer } = require(dist);
const { InMemoryDataset } = require(path.join(dist, 'data', 'dataset'));
const { mulberry32 } = require('./mulberry32');

const FEATURES = 4;
const STEPS = 6;

/** A deterministic batch: the channel named by the label carries an offset. */
function batch(n, seed) {
  const rand = mulberry32(seed);
  const data = new Float32Array(n * STEPS * FEATURES);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = Math.floor(rand() * FEATURES);
    for (let k = 0; k < STEPS * FEATURES; k++) data[i * STEPS * FEATURES + k] = rand() - 0.5 + (k % FEATURES === labels[i] ? 0.6 : 0);
  }
  return { x: { data, shape: [n, STEPS, FEATURES] }, labels };
}

function modelOptions(hiddenSize) {
  return { inputSize: FEATURES, classes: FEATURES, hiddenSize, layers: 1, seed: 3 };
}

/** Trains a fresh model `steps` steps; returns plain numbers only (nothing native crosses threads). */
async function train(steps) {
  const model = new NRNMClassifier(modelOptions(16));
  const trainer = new Trainer(model);
  const losses = [];
  for (let i = 0; i < steps; i++) {
    const { x, labels } = batch(16, i);
    losses.push((await trainer.step(x, labels)).loss);
  }
  model.eval();
  const logits = await model.predict(batch(4, 99).x);
  const out = { losses, logits: Array.from(logits.toArray()) };
  logits.dispose();
  trainer.dispose();
  model.dispose();
  return out;
}

async function workerMain() {
  const { role, steps, hiddenSize } = workerData;
  if (role === 'train') {
    parentPort.postMessage(await train(steps));
    return;
  }
  // Long native calls that the main thread terminates part-way.
  const model = new NRNMClassifier(modelOptions(hiddenSize));
  const trainer = new Trainer(model);
  const big = batch(512, 7);
  if (role === 'step-forever') {
    for (;;) {
      parentPort.postMessage('stepping');
      await trainer.step(big.x, big.labels);
    }
  }
  const data = new InMemoryDataset(big.x.data, big.labels, { steps: STEPS, features: FEATURES, classes: FEATURES, name: 'worker' });
  parentPort.postMessage('stepping');
  await trainer.fit(data, { epochs: 1000, batchSize: 128, onStep: () => parentPort.postMessage('stepping') });
}

function runWorker(data) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__filename, { workerData: data });
    let result;
    worker.on('message', (m) => (result = m));
    worker.on('error', reject);
    worker.on('exit', (code) => (code === 0 ? resolve(result) : reject(new Error(`worker exited with ${code}`))));
  });
}

/** Starts a long-running worker and terminates it once its native call is under way. */
function terminateMidCall(role, hiddenSize, delayMs) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__filename, { workerData: { role, hiddenSize } });
    let stepping = 0;
    worker.on('error', reject);
    worker.on('message', (m) => {
      // The second message: one call finished, the next is running on the thread pool.
      if (m === 'stepping' && ++stepping === 2) setTimeout(() => worker.terminate(), delayMs);
    });
    worker.on('exit', (code) => resolve({ code, stepping }));
  });
}

function rssMiB() {
  return Math.round((process.memoryUsage().rss / 1048576) * 10) / 10;
}

async function main() {
  const scenario = process.argv[2];
  const args = JSON.parse(process.argv[3] ?? '{}');
  const steps = args.steps ?? 4;
  if (scenario === 'sequential') {
    const reference = await train(steps);
    const workers = [];
    for (let i = 0; i < (args.workers ?? 3); i++) workers.push(await runWorker({ role: 'train', steps }));
    const after = await train(steps);
    console.log(JSON.stringify({ reference, workers, after }));
  } else if (scenario === 'concurrent') {
    const running = [];
    for (let i = 0; i < (args.workers ?? 3); i++) running.push(runWorker({ role: 'train', steps }));
    const main = await train(steps); // the main thread trains meanwhile
    const workers = await Promise.all(running);
    console.log(JSON.stringify({ reference: main, workers }));
  } else if (scenario === 'terminate') {
    const rounds = [];
    for (let i = 0; i < (args.rounds ?? 3); i++) {
      const role = i % 2 === 0 ? 'step-forever' : 'fit-forever';
      const exit = await terminateMidCall(role, args.hiddenSize ?? 64, args.delayMs ?? 5);
      const main = await train(2); // the addon still works here
      rounds.push({ role, ...exit, rssMiB: rssMiB(), mainLosses: main.losses });
    }
    console.log(JSON.stringify({ rounds }));
  } else {
    throw new Error(`unknown scenario ${scenario}`);
  }
}

if (isMainThread) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  workerMain();
}
