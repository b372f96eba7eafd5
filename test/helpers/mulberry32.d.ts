/** mulberry32: a small deterministic PRNG, uniform in [0, 1) (mulberry32.js). */
export function mulberry32(seed: number): () => number;
