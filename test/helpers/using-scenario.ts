/**
 * Resident memory around a `using` block that holds a 128 MiB tensor
 * (test/native/using.test.ts runs it in a process of its own, through
 * ts-register.js, with NRNM_CPU_CACHE=0 so a freed block is not kept).
 */
import { Tensor } from '../../src';

const rssMiB = () => process.memoryUsage().rss / 1048576;

export function usingScenario(): { before: number; held: number; after: number; disposed: boolean } {
  const data = new Float32Array(32 << 20).fill(1); // 128 MiB of JavaScript memory, held throughout
  Tensor.from(new Float32Array(4), [4]).dispose(); // loads the addon first
  const before = rssMiB();
  let held: number;
  let seen: Tensor;
  {
    using t = Tensor.from(data, [data.length]); // its 128 MiB native copy
    held = rssMiB();
    seen = t;
  }
  // No collection ran: the block's end freed the native copy.
  return { before, held, after: rssMiB(), disposed: seen.disposed };
}
