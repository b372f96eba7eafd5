#!/usr/bin/env node
/**
 * Batch-1 latency of an exported ONNX model in onnxruntime-node (CPU) against
 * the addon's predict() (LibTorch, eval mode) on the same model and input:
 * the bench `small` config (1 x 128, 150 features, T = 100, dilated, 60
 * classes), randomly initialised. Runs alternate between the two; prints the
 * median and p90 of each (ms) and the largest difference of their outputs.
 *   npm run build:ts && nice node bench/onnx-latency.js --runs 200 [--threads N]
 * --threads sets onnxruntime's intra-op threads (default: its own default);
 * LibTorch uses its default (README "Threads").
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ort = require('onnxruntime-node');

const { NRNMClassifier } = require('../dist');
const { flag } = require('./flag');
const { quantile } = require('./stats');

async function main() {
  const runs = Number(flag('runs', 200));
  const threads = Number(flag('threads', 0));
  const [T, F] = [100, 150];
  const model = new NRNMClassifier({ inputSize: F, classes: 60, hiddenSize: 128, layers: 1, device: 'cpu', seed: 1 });
  model.eval();
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'nrnm-onnx-bench-')), 'small.onnx');
  await model.exportOnnx(file);
  const session = await ort.InferenceSession.create(file, threads > 0 ? { intraOpNumThreads: threads } : {});
  let seed = 1;
  const x = Float32Array.from({ length: T * F }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1);
  const feeds = { x: new ort.Tensor('float32', x, [1, T, F]) };
  const times = { onnxruntime: [], predict: [] };
  const cpu = { onnxruntime: [], predict: [] }; // process CPU time (all threads), less disturbed by other processes
  let diff = 0;
  for (let i = 0; i < runs + 10; i++) {
    let t = process.hrtime.bigint();
    let c = process.cpuUsage();
    const got = (await session.run(feeds)).logits.data;
    const ortMs = Number(process.hrtime.bigint() - t) / 1e6;
    let used = process.cpuUsage(c);
    const ortCpu = (used.user + used.system) / 1e3;
    t = process.hrtime.bigint();
    c = process.cpuUsage();
    const logits = await model.predict({ data: x, shape: [1, T, F] });
    const predictMs = Number(process.hrtime.bigint() - t) / 1e6;
    used = process.cpuUsage(c);
    const predictCpu = (used.user + used.system) / 1e3;
    const want = logits.toArray();
    logits.dispose();
    for (let j = 0; j < want.length; j++) diff = Math.max(diff, Math.abs(want[j] - got[j]));
    if (i < 10) continue; // warm-up
    times.onnxruntime.push(ortMs);
    times.predict.push(predictMs);
    cpu.onnxruntime.push(ortCpu);
    cpu.predict.push(predictCpu);
  }
  const summary = {};
  for (const [name, list] of Object.entries(times)) {
    const sorted = list.slice().sort((a, b) => a - b);
    const cpuSorted = cpu[name].slice().sort((a, b) => a - b);
    summary[name] = {
      medianMs: Number(quantile(sorted, 0.5).toFixed(3)),
      p90Ms: Number(quantile(sorted, 0.9).toFixed(3)),
      cpuMedianMs: Number(quantile(cpuSorted, 0.5).toFixed(3)),
    };
  }
  const bytes = fs.statSync(file).size;
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  model.dispose();
  console.log(
    JSON.stringify({ config: 'small 1x128, F=150, T=100, batch 1', runs, ortThreads: threads || 'default', fileBytes: bytes, maxAbsDiff: diff, ...summary }),
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
