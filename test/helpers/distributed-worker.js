'use strict';
// One rank of a data-parallel test run (test/native/distributed.test.ts):
// reads its rank and store from the environment as torchrun's workers do,
// trains a small model on a deterministic task, and prints one JSON line
// with its losses and a hash-free copy of its parameters (base64 float32).
// Argument: JSON { out, epochs, batchSize, seed, stopAfterSteps?, hiddenSize?, lr?, timeout? }.
const { NRNMClassifier, Trainer, distributedFromEnv } = require('../../dist');
const { InMemoryDataset } = require('../../dist/data/dataset');
const { mulberry32 } = require('./mulberry32');

function task(n, steps, features, seed) {
  const rand = mulberry32(seed);
  const x = new Float32Array(n * steps * features);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = Math.floor(rand() * features);
    for (let k = 0; k < steps * features; k++) x[i * steps * features + k] = (rand() - 0.5) * 2 + (k % features === y[i] ? 0.6 : 0);
  }
  return new InMemoryDataset(x, y, { steps, features, classes: features, name: `synthetic-${seed}` });
}

async function main() {
  const args = JSON.parse(process.argv[2]);
  const distributed = distributedFromEnv();
  const rank = distributed ? distributed.rank : 0;
  // Every rank starts from other weights: joining must give it rank 0's.
  const model = new NRNMClassifier({
    inputSize: 4,
    classes: 4,
    hiddenSize: args.hiddenSize ?? 16,
    layers: 1,
    device: 'cpu',
    seed: 11 + rank,
    zoneout: args.dropout ? 0.2 : 0,
    memoryDropout: args.dropout ? 0.5 : 0,
    aggregationDropout: args.dropout ? 0.5 : 0,
  });
  const trainer = new Trainer(model, {
    lr: args.lr ?? 1e-2,
    weightDecay: 0,
    ...(distributed ? { distributed: { ...distributed, timeout: args.timeout ?? 60 } } : {}),
  });
  const losses = [];
  const result = await trainer.fit(task(args.rows ?? 96, 20, 4, 3), {
    epochs: args.epochs,
    batchSize: args.batchSize,
    seed: args.seed,
    evalData: task(40, 20, 4, 4),
    checkpointDir: args.out,
    onStep: (e) => {
      losses.push(e.loss);
      if (args.stopAfterSteps !== undefined && e.step >= args.stopAfterSteps && rank === 1) {
        process.stdout.write('rank 1 stops\n');
        process.kill(process.pid, 'SIGKILL');
      }
    },
  });
  const parameters = {};
  for (const [name, t] of Object.entries(model.stateDict())) {
    parameters[name] = Buffer.from(t.toArray().buffer).toString('base64');
    t.dispose();
  }
  process.stdout.write(`${JSON.stringify({ rank, losses, steps: result.steps, eval: result.epochs.map((e) => e.eval), parameters })}\n`);
  trainer.dispose();
  model.dispose();
}

main().catch((err) => {
  process.stderr.write(`${err.code ?? ''} ${err.message}\n`);
  process.exitCode = 1;
});
