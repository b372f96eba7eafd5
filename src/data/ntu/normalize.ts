/**
 * The official NRNM / 2s-AGCN preprocessing of one NTU RGB+D sample, step
 * by step, written from its description and checked value for value against
 * the official Python (see scripts/fixtures/compare_official.py):
 *
 *  1. keep the 2 most active of the first 4 bodies (activity: the sum over
 *     x, y, z of the standard deviation over the body's non-empty frames);
 *  2. keep the first 100 frames, zero-padded, as float32;
 *  3. per body: move non-empty frames to the start when the first frame is
 *     empty, then fill the trailing empty frames by repeating the frames so far;
 *  4. subtract the first body's joint 1 (spine middle) of each frame from
 *     every non-zero joint;
 *  5. rotate every joint of the non-empty frames so that the bone joint 0 -> 1
 *     of the first body's first frame points along +z; then, with the rotated
 *     values, so that its bone joint 4 -> 8 points along +x. (The second
 *     rotation generally tilts the first bone off z again, as in the official
 *     code.)
 *  6. lay out each frame as (body, coordinate, joint): 150 values.
 *
 * "Empty" and "non-zero" are tests of a sum against 0, as in the official
 * code; values are float32 from step 2 on, and each step rounds to float32
 * where the official code does (the bone vectors and their normalisation are
 * float32, the rotation matrices float64).
 */
import { KINECT_BODIES, NTU_JOINTS, type SkeletonSequence } from './skeleton';

export const NTU_FRAMES = 100;
export const NTU_BODIES = 2;
export const NTU_FEATURES = NTU_BODIES * 3 * NTU_JOINTS; // 150

const V = NTU_JOINTS;
const T = NTU_FRAMES;
const FRAME = V * 3; // values of one body in one frame
const PERSON = T * FRAME; // values of one body
const fround = Math.fround;

/** Activity of body `body` (0-3): sum over x, y, z of the population std over its non-empty frames. */
export function bodyEnergy(seq: SkeletonSequence, body: number): number {
  const { xyz } = seq;
  // Frames without a row hold only zeros: empty, they count for nothing.
  const rows = seq.dataFrames.length;
  const stride = KINECT_BODIES * FRAME;
  const mean = [0, 0, 0];
  let used = 0;
  const nonEmpty = new Uint8Array(rows);
  for (let r = 0; r < rows; r++) {
    const o = r * stride + body * FRAME;
    let sum = 0;
    for (let k = 0; k < FRAME; k++) sum += xyz[o + k]!;
    if (sum === 0) continue;
    nonEmpty[r] = 1;
    used++;
    for (let k = 0; k < FRAME; k++) mean[k % 3]! += xyz[o + k]!;
  }
  if (used === 0) return 0;
  const n = used * V;
  for (let c = 0; c < 3; c++) mean[c] = mean[c]! / n;
  const sq = [0, 0, 0];
  for (let r = 0; r < rows; r++) {
    if (!nonEmpty[r]) continue;
    const o = r * stride + body * FRAME;
    for (let k = 0; k < FRAME; k++) {
      const d = xyz[o + k]! - mean[k % 3]!;
      sq[k % 3]! += d * d;
    }
  }
  return Math.sqrt(sq[0]! / n) + Math.sqrt(sq[1]! / n) + Math.sqrt(sq[2]! / n);
}

/**
 * The 2 bodies kept, most active first. Ties go to the higher body number,
 * as numpy's argsort (stable for 4 elements) reversed does; NaN counts as
 * the most active, as numpy sorts it.
 */
export function selectBodies(seq: SkeletonSequence): [number, number] {
  const energy = [0, 1, 2, 3].map((b) => bodyEnergy(seq, b));
  const key = (b: number): number => (Number.isNaN(energy[b]) ? Infinity : energy[b]!);
  // Array.prototype.sort is stable: equal energies keep the order 3, 2, 1, 0.
  const order = [3, 2, 1, 0].sort((a, b) => {
    const d = key(b) - key(a);
    return d > 0 ? 1 : d < 0 ? -1 : 0;
  });
  return [order[0]!, order[1]!];
}

/** Step 2: the kept bodies' first 100 frames as float32 [2 bodies, 100 frames, 25 joints, 3]. */
export function keptFrames(seq: SkeletonSequence, bodies: readonly number[] = selectBodies(seq)): Float32Array {
  const s = new Float32Array(NTU_BODIES * PERSON);
  const frames = Math.min(seq.frames, T);
  for (let m = 0; m < NTU_BODIES; m++) {
    for (let r = 0; r < seq.dataFrames.length && seq.dataFrames[r]! < frames; r++) {
      const t = seq.dataFrames[r]!;
      const src = (r * KINECT_BODIES + bodies[m]!) * FRAME;
      const dst = m * PERSON + t * FRAME;
      for (let k = 0; k < FRAME; k++) s[dst + k] = seq.xyz[src + k]!; // float64 -> float32, round to nearest even
    }
  }
  return s;
}

function sumRange(s: Float32Array, start: number, length: number): number {
  let sum = 0;
  for (let k = start; k < start + length; k++) sum += s[k]!;
  return sum;
}

/** Step 3, in place on [2, 100, 25, 3]. */
export function padNullFrames(s: Float32Array): void {
  for (let m = 0; m < NTU_BODIES; m++) {
    const base = m * PERSON;
    if (sumRange(s, base, PERSON) === 0) continue;
    if (sumRange(s, base, FRAME) === 0) {
      let kept = 0;
      for (let t = 0; t < T; t++) {
        if (sumRange(s, base + t * FRAME, FRAME) === 0) continue;
        if (kept !== t) s.copyWithin(base + kept * FRAME, base + t * FRAME, base + (t + 1) * FRAME);
        kept++;
      }
      s.fill(0, base + kept * FRAME, base + PERSON);
    }
    const frameSums = new Float64Array(T);
    for (let t = 0; t < T; t++) frameSums[t] = sumRange(s, base + t * FRAME, FRAME);
    for (let f = 0; f < T; f++) {
      if (frameSums[f] !== 0) continue;
      let rest = 0;
      for (let t = f; t < T; t++) rest += frameSums[t]!;
      if (rest !== 0) continue; // an empty frame between non-empty ones stays empty
      if (f === 0) break;
      for (let t = f; t < T; t++) s.copyWithin(base + t * FRAME, base + ((t - f) % f) * FRAME, base + (((t - f) % f) + 1) * FRAME);
      break;
    }
  }
}

/** Step 4, in place: subtract body 0's joint 1 of each frame from every joint whose x + y + z (float32) is not 0. */
export function centerOnSpine(s: Float32Array): void {
  if (sumRange(s, 0, s.length) === 0) return;
  const center = new Float32Array(T * 3);
  for (let t = 0; t < T; t++) for (let c = 0; c < 3; c++) center[t * 3 + c] = s[t * FRAME + 3 + c]!;
  for (let m = 0; m < NTU_BODIES; m++) {
    const base = m * PERSON;
    if (sumRange(s, base, PERSON) === 0) continue;
    for (let t = 0; t < T; t++) {
      for (let v = 0; v < V; v++) {
        const o = base + t * FRAME + v * 3;
        const nonZero = fround(fround(s[o]! + s[o + 1]!) + s[o + 2]!) !== 0;
        for (let c = 0; c < 3; c++) s[o + c] = nonZero ? s[o + c]! - center[t * 3 + c]! : 0;
      }
    }
  }
}

/**
 * The rotation by `theta` about `axis` (counter-clockwise looking against
 * the axis), by the Euler-Rodrigues formula; identity for a null axis or angle.
 * Row-major 3x3, float64.
 */
export function rotationMatrix(axis: readonly number[], theta: number): Float64Array {
  const [x, y, z] = axis as [number, number, number];
  if (Math.abs(x) + Math.abs(y) + Math.abs(z) < 1e-6 || Math.abs(theta) < 1e-6) return Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 1);
  const n = Math.sqrt(x * x + y * y + z * z);
  const a = Math.cos(theta / 2);
  const sin = Math.sin(theta / 2);
  const b = -(x / n) * sin;
  const c = -(y / n) * sin;
  const d = -(z / n) * sin;
  const [aa, bb, cc, dd] = [a * a, b * b, c * c, d * d];
  const [bc, ad, ac, ab, bd, cd] = [b * c, a * d, a * c, a * b, b * d, c * d];
  return Float64Array.of(
    aa + bb - cc - dd, 2 * (bc + ad), 2 * (bd - ac),
    2 * (bc - ad), aa + cc - bb - dd, 2 * (cd + ab),
    2 * (bd + ac), 2 * (cd - ab), aa + dd - bb - cc,
  ); // prettier-ignore
}

/** The rotation taking the float32 vector `v` onto the unit axis `axisIndex` (0 x, 1 y, 2 z). */
export function alignmentMatrix(v: readonly number[], axisIndex: 0 | 1 | 2): Float64Array {
  const e = [0, 0, 0];
  e[axisIndex] = 1;
  const [v0, v1, v2] = v as [number, number, number];
  const cross = [v1 * e[2]! - v2 * e[1]!, v2 * e[0]! - v0 * e[2]!, v0 * e[1]! - v1 * e[0]!];
  let theta = 0;
  if (fround(fround(Math.abs(v0) + Math.abs(v1)) + Math.abs(v2)) >= 1e-6) {
    // float32 norm (as OpenBLAS's sdot computes it, which numpy wheels and
    // Debian use: float32 products summed in float64) and unit vector, then a
    // float64 dot with the axis.
    const norm = fround(Math.sqrt(fround(fround(v0 * v0) + fround(v1 * v1) + fround(v2 * v2))));
    const u = fround(v[axisIndex]! / norm);
    theta = Math.acos(Math.min(1, Math.max(-1, u)));
  }
  return rotationMatrix(cross, theta);
}

/** Step 5, in place: rotate so body 0's frame-0 bone `from` -> `to` points along axis `axisIndex`. */
export function alignBone(s: Float32Array, from: number, to: number, axisIndex: 0 | 1 | 2): void {
  if (sumRange(s, 0, s.length) === 0) return;
  const v = [0, 1, 2].map((c) => fround(s[to * 3 + c]! - s[from * 3 + c]!));
  const r = alignmentMatrix(v, axisIndex);
  for (let m = 0; m < NTU_BODIES; m++) {
    const base = m * PERSON;
    if (sumRange(s, base, PERSON) === 0) continue;
    for (let t = 0; t < T; t++) {
      const f = base + t * FRAME;
      if (sumRange(s, f, FRAME) === 0) continue;
      for (let o = f; o < f + FRAME; o += 3) {
        const x = s[o]!;
        const y = s[o + 1]!;
        const z = s[o + 2]!;
        s[o] = r[0]! * x + r[1]! * y + r[2]! * z;
        s[o + 1] = r[3]! * x + r[4]! * y + r[5]! * z;
        s[o + 2] = r[6]! * x + r[7]! * y + r[8]! * z;
      }
    }
  }
}

/** Step 6: [2, 100, 25, 3] -> [100, 150] with each frame as (body, coordinate, joint). */
export function toOfficialLayout(s: Float32Array, out: Float32Array = new Float32Array(T * NTU_FEATURES), offset = 0): Float32Array {
  for (let t = 0; t < T; t++) {
    for (let m = 0; m < NTU_BODIES; m++) {
      for (let c = 0; c < 3; c++) {
        const dst = offset + t * NTU_FEATURES + m * FRAME + c * V;
        const src = m * PERSON + t * FRAME + c;
        for (let v = 0; v < V; v++) out[dst + v] = s[src + v * 3]!;
      }
    }
  }
  return out;
}

/** Steps 1-6 for one sample: 100 x 150 float32 values, written into `out` at `offset` if given. */
export function preprocessSkeleton(seq: SkeletonSequence, out?: Float32Array, offset = 0): Float32Array {
  const s = keptFrames(seq);
  padNullFrames(s);
  centerOnSpine(s);
  alignBone(s, 0, 1, 2);
  alignBone(s, 4, 8, 0);
  return toOfficialLayout(s, out, offset);
}
