'use strict';
// Makes a 128 MiB tensor, leaves it to the garbage collector, runs only
// young-generation collections, and prints resident memory before, while it
// is held and after (test/native/tensor-lifetime.test.ts). Run with
// node --expose-gc and NRNM_CPU_CACHE=0 (else the freed block stays cached).
const path = require('node:path');
const { Tensor } = require(path.join(__dirname, '..', '..', 'dist'));

const rssMiB = () => process.memoryUsage().rss / 1048576;

async function settle() {
  // Minor collections only: a FinalizationRegistry or anything else that
  // waits for a full collection would keep the tensor.
  for (let i = 0; i < 5; i++) {
    global.gc({ type: 'minor' });
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function main() {
  const data = new Float32Array(32 << 20).fill(1); // 128 MiB, held throughout
  Tensor.from(new Float32Array(4), [4]).dispose(); // loads the addon first
  await settle();
  const before = rssMiB();
  (() => {
    Tensor.from(data, [data.length]); // a 128 MiB native copy, never disposed
  })();
  const held = rssMiB();
  await settle();
  console.log(JSON.stringify({ before, held, after: rssMiB() }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
