/**
 * Deterministic shuffling: the same (seed, epoch) gives the same order on
 * every machine and every version of this package (tests pin it).
 *
 * Generator: sfc32 (Chris Doty-Humphrey's Small Fast Chaotic PRNG, 128-bit
 * state), seeded through splitmix32 from the seed and the epoch.
 */

/** A generator of uniform 32-bit unsigned integers. */
export function sfc32(seed: number, stream = 0): () => number {
  // splitmix32 spreads (seed, stream) over the 128-bit state.
  let s = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) >>> 0, 0x9e3779b9);
  const next = (): number => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  s ^= Math.imul(stream >>> 0, 0x632be5ab);
  let a = next();
  let b = next();
  let c = next();
  let d = 1;
  const gen = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) gen(); // discard the warm-up outputs
  return gen;
}

/** A uniform integer in [0, n) without modulo bias (n <= 2^32). */
function below(gen: () => number, n: number): number {
  if (n <= 1) return 0;
  const limit = 2 ** 32 - (2 ** 32 % n);
  for (;;) {
    const r = gen();
    if (r < limit) return r % n;
  }
}

/** The order of epoch `epoch` for `length` samples: a Fisher-Yates shuffle. */
export function permutation(length: number, seed: number, epoch: number): Int32Array {
  const order = new Int32Array(length);
  for (let i = 0; i < length; i++) order[i] = i;
  const gen = sfc32(seed, epoch);
  for (let i = length - 1; i > 0; i--) {
    const j = below(gen, i + 1);
    const t = order[i]!;
    order[i] = order[j]!;
    order[j] = t;
  }
  return order;
}
