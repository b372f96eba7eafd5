/**
 * A small learnable task for tests: sequences of `features` channels of
 * noise where channel `label` carries a positive offset; the class is the
 * channel with the offset. Deterministic for a seed.
 */
import { InMemoryDataset } from '../../src/data/dataset';
import { mulberry32 } from './mulberry32';

export interface Synthetic {
  x: Float32Array;
  y: Int32Array;
  shape: [number, number, number];
}

export function syntheticTask(n: number, steps: number, features: number, seed: number): Synthetic {
  const rand = mulberry32(seed);
  const x = new Float32Array(n * steps * features);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = Math.floor(rand() * features);
    y[i] = label;
    for (let t = 0; t < steps; t++) {
      for (let f = 0; f < features; f++) {
        x[(i * steps + t) * features + f] = (rand() - 0.5) * 2 + (f === label ? 0.6 : 0);
      }
    }
  }
  return { x, y, shape: [n, steps, features] };
}

export function syntheticDataset(n: number, steps: number, features: number, seed: number): InMemoryDataset {
  const s = syntheticTask(n, steps, features, seed);
  return new InMemoryDataset(s.x, s.y, { steps, features, classes: features, name: `synthetic-${seed}` });
}
