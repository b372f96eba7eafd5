/**
 * Small compositions of ONNX nodes that the NRNM emitters share: Linear,
 * the LayerNorm over (tokens, features), Unsqueeze, Split and the zoneout
 * blend.
 */
import type { GraphBuilder } from './graph';
import type { Weights } from './weights';

/** x W^T + b for the nn.Linear named `prefix` (weight [out, in], bias [out]). */
export function linear(g: GraphBuilder, w: Weights, x: string, prefix: string): string {
  return g.op1('Add', [g.op1('MatMul', [x, w.transposed(`${prefix}.weight`)]), w.get(`${prefix}.bias`)]);
}

/** x W + b for a weight stored [in, out] (the cell's own tensors). */
export function affine(g: GraphBuilder, w: Weights, x: string, weight: string, bias: string): string {
  return g.op1('Add', [g.op1('MatMul', [x, w.get(weight)]), w.get(bias)]);
}

/** The LayerNorm named `prefix` over the last two dims jointly (tokens, features), eps 1e-5, affine of that shape. */
export function layerNorm(g: GraphBuilder, w: Weights, x: string, prefix: string): string {
  return g.op1('LayerNormalization', [x, w.get(`${prefix}.weight`), w.get(`${prefix}.bias`)], { axis: -2, epsilon: { float: 1e-5 } });
}

export function unsqueeze(g: GraphBuilder, x: string, axis: number): string {
  return g.op1('Unsqueeze', [x, g.ints([axis])]);
}

/** `parts` equal parts of x along `axis` (opset 13-17 Split without sizes). */
export function split(g: GraphBuilder, x: string, axis: number, parts: number): string[] {
  return g.op('Split', [x], { axis }, parts);
}

/**
 * Zoneout in evaluation mode: h = zeta h' + (1 - zeta) h_prev. `zeta` is the
 * scalar 1 - z, or a (B, 1) tensor where lengths are honoured (0 past a
 * sequence's end: the state is kept), with `rest` = 1 - zeta.
 */
export type Zeta = { keep: number } | { zeta: string; rest: string };

export function zoneout(g: GraphBuilder, next: string, previous: string, zeta: Zeta): string {
  if ('zeta' in zeta) return g.op1('Add', [g.op1('Mul', [previous, zeta.rest]), g.op1('Mul', [next, zeta.zeta])]);
  if (zeta.keep === 1) return next;
  return g.op1('Add', [g.op1('Mul', [next, g.scalar(zeta.keep)]), g.op1('Mul', [previous, g.scalar(1 - zeta.keep)])]);
}
