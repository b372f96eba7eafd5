/**
 * One step of an NRNM layer's backbone in ONNX nodes, as the addon computes
 * it (lstm_segment.cpp, gru_rnn_segment.cpp), the memory term included:
 *
 *   LSTM: [f|i|o|g] = gx + h W_hh;  c' = s(f) c + s(i) tanh(g) + term;  h' = s(o) tanh(c')
 *   GRU:  [r|z|n]_h = h W_hh + b_hh;  r, z = s(x + h);  n = tanh(n_x + r n_h);  h' = n + z (h - n) + term
 *   RNN:  h' = tanh(gx + h W_hh) + term
 *
 * then zoneout against the previous state (ops.ts).
 */
import type { ResolvedModelOptions } from '../options';
import type { GraphBuilder } from './graph';
import { split, zoneout, type Zeta } from './ops';
import type { Weights } from './weights';

export interface StepState {
  h: string; // (B, H)
  c: string; // (B, H); LSTM only (GRU, RNN carry it unchanged)
}

/**
 * `gx`: x_t W_ih + b (B, gates H); `term`: (r m) W_mt (B, H), 0 before the
 * first memory update; `p`: the layer's parameter prefix.
 */
export function backboneStep(
  g: GraphBuilder,
  w: Weights,
  o: Readonly<ResolvedModelOptions>,
  p: string,
  gx: string,
  term: string,
  state: StepState,
  zeta: Zeta,
): StepState {
  const { h, c } = state;
  const recurrent = g.op1('MatMul', [h, w.get(`${p}weight_hh`)]);
  switch (o.backbone) {
    case 'lstm': {
      const [f, i, og, gg] = split(g, g.op1('Add', [gx, recurrent]), 1, 4) as [string, string, string, string];
      const kept = g.op1('Mul', [g.op1('Sigmoid', [f]), c]);
      const written = g.op1('Mul', [g.op1('Sigmoid', [i]), g.op1('Tanh', [gg])]);
      const cNext = g.op1('Add', [g.op1('Add', [kept, written]), term]);
      const hNext = g.op1('Mul', [g.op1('Sigmoid', [og]), g.op1('Tanh', [cNext])]);
      return { h: zoneout(g, hNext, h, zeta), c: zoneout(g, cNext, c, zeta) };
    }
    case 'gru': {
      const hidden = g.op1('Add', [recurrent, w.get(`${p}bias_hh`)]);
      const [rx, zx, nx] = split(g, gx, 1, 3) as [string, string, string];
      const [rh, zh, nh] = split(g, hidden, 1, 3) as [string, string, string];
      const r = g.op1('Sigmoid', [g.op1('Add', [rx, rh])]);
      const z = g.op1('Sigmoid', [g.op1('Add', [zx, zh])]);
      const n = g.op1('Tanh', [g.op1('Add', [nx, g.op1('Mul', [r, nh])])]);
      const hNext = g.op1('Add', [g.op1('Add', [n, g.op1('Mul', [z, g.op1('Sub', [h, n])])]), term]);
      return { h: zoneout(g, hNext, h, zeta), c };
    }
    case 'rnn': {
      const hNext = g.op1('Add', [g.op1('Tanh', [g.op1('Add', [gx, recurrent])]), term]);
      return { h: zoneout(g, hNext, h, zeta), c };
    }
  }
}
