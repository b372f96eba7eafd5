/**
 * The memory update of an NRNM layer in ONNX nodes (NRNM_SPEC.md step 1;
 * memory_block.cpp): the aggregated input token, self-attention (or the
 * linear ablation) over [hidden tokens..., e], the shared-weight MLP, the two
 * LayerNorms and the gated write M_new = gi tanh(M~) + gf M.
 */
import type { ResolvedModelOptions } from '../options';
import type { GraphBuilder } from './graph';
import { layerNorm, linear, split, unsqueeze } from './ops';
import type { Weights } from './weights';

export interface MemoryUpdateInputs {
  /** The layer input (T_pad, B, d), read at the update's input steps. */
  x: string;
  /** The update step t (int64 scalar). */
  t: string;
  /** The previous block's outputs (k, B, H): the hidden tokens h_{t-s}, ..., h_{t-ns}. */
  previous: string;
  /** The memory as carried into the update (B, n, H). */
  memory: string;
}

/** M_new (B, n, H). At t = 0 the steps read are clamped to 0 (the caller discards that update). */
export function memoryUpdate(g: GraphBuilder, w: Weights, o: Readonly<ResolvedModelOptions>, layer: number, inputs: MemoryUpdateInputs): string {
  const p = `rnn.cell_${layer}.MC.`;
  const H = o.hiddenSize;
  const k = o.blockLength;
  const s = o.stride;
  const n = k / s;
  const token = linear(g, w, aggregatedInput(g, w, o, layer, inputs.x, inputs.t), `${p}input_projector`); // e: (B, H)
  const tokenGate = linear(g, w, token, `${p}input_gate_projector`); // (B, 2H)
  const hiddenRows = g.ints(Array.from({ length: n }, (_, j) => k - (j + 1) * s)); // rows of h_{t-s}, ..., h_{t-ns}
  const hidden = g.op1('Transpose', [g.op1('Gather', [inputs.previous, hiddenRows], { axis: 0 })], { perm: [1, 0, 2] }); // (B, n, H)
  const tokens = g.op1('Concat', [hidden, unsqueeze(g, token, 1)], { axis: 1 }); // (B, n+1, H), the input token last
  const attended =
    o.attention === 'self'
      ? selfAttention(g, w, o, p, tokens)
      : g.op1('Reshape', [linear(g, w, g.op1('Reshape', [tokens, g.ints([0, -1])]), `${p}linear_transform`), g.ints([0, n + 1, H])]);
  const y = layerNorm(g, w, g.op1('Add', [tokens, attended]), `${p}attended_memory_layernorm`);
  // The official ModuleList holds one Linear twice: relu(relu(y W + b) W + b).
  const mlp = g.op1('Relu', [linear(g, w, g.op1('Relu', [linear(g, w, y, `${p}attention_mlp.0`)]), `${p}attention_mlp.0`)]);
  const z = layerNorm(g, w, g.op1('Add', [y, mlp]), `${p}attended_memory_layernorm2`);
  const candidate = g.op1('Slice', [z, g.ints([0]), g.ints([n]), g.ints([1])]); // (B, n, H): the input token dropped
  const gates = g.op1('Add', [linear(g, w, g.op1('Tanh', [inputs.memory]), `${p}memory_gate_projector`), unsqueeze(g, tokenGate, 1)]);
  const [gi, gf] = split(g, gates, -1, 2) as [string, string];
  const inputGate = g.op1('Sigmoid', [g.op1('Add', [gi, w.get(`${p}input_bias`)])]);
  const forgetGate = g.op1('Sigmoid', [g.op1('Add', [gf, w.get(`${p}forget_bias`)])]);
  return g.op1('Add', [g.op1('Mul', [inputGate, g.op1('Tanh', [candidate])]), g.op1('Mul', [forgetGate, inputs.memory])]);
}

/** a_t (B, n d): the strided inputs side by side, or the dilated aggregation ELU(u W_a + b_a). */
function aggregatedInput(g: GraphBuilder, w: Weights, o: Readonly<ResolvedModelOptions>, layer: number, x: string, t: string): string {
  const s = o.stride;
  const n = o.blockLength / s;
  const steps = o.inputAggregation === 'strided' ? Array.from({ length: n }, (_, j) => g.op1('Sub', [t, g.ints((j + 1) * s)])) : dilatedSteps(g, t);
  // Clamped at 0: only at t = 0, whose update is discarded.
  const index = g.op1('Max', [
    g.op1(
      'Concat',
      steps.map((step) => unsqueeze(g, step, 0)),
      { axis: 0 },
    ),
    g.ints(0),
  ]);
  const stacked = g.op1('Reshape', [g.op1('Transpose', [g.op1('Gather', [x, index], { axis: 0 })], { perm: [1, 0, 2] }), g.ints([0, -1])]); // (B, S d)
  if (o.inputAggregation === 'strided') return stacked;
  const d = layer === 0 ? o.inputSize : o.hiddenSize;
  // The official cell's aggregation Linear: linear1 for 150-wide inputs, else linear2 (aggregation.cpp).
  const name = `rnn.cell_${layer}.${d === 150 ? 'linear1' : 'linear2'}.1`;
  return g.op1('Elu', [linear(g, w, stacked, name)], { alpha: { float: 1 } });
}

/** The dilated aggregation's steps at t: t-5 .. t-1, p, p+3, t with p = 6 (floor(t / 6) - 1) (schedule.cpp). */
function dilatedSteps(g: GraphBuilder, t: string): string[] {
  const p = g.op1('Mul', [g.op1('Sub', [g.op1('Div', [t, g.ints(6)]), g.ints(1)]), g.ints(6)]);
  return [...[5, 4, 3, 2, 1].map((back) => g.op1('Sub', [t, g.ints(back)])), p, g.op1('Add', [p, g.ints(3)]), t];
}

/** Multi-head self-attention over the tokens (B, N, H): head j owns features [3 hs j, 3 hs (j+1)) as q | k | v; no output projection. */
function selfAttention(g: GraphBuilder, w: Weights, o: Readonly<ResolvedModelOptions>, p: string, tokens: string): string {
  const H = o.hiddenSize;
  const heads = o.heads;
  const hs = H / heads;
  const qkv = layerNorm(g, w, linear(g, w, tokens, `${p}qkv_projector`), `${p}qkv_layernorm`); // (B, N, 3H)
  const perHead = g.op1('Transpose', [g.op1('Reshape', [qkv, g.ints([0, 0, heads, 3 * hs])])], { perm: [0, 2, 1, 3] }); // (B, heads, N, 3hs)
  const [q, key, v] = split(g, perHead, -1, 3) as [string, string, string];
  const scores = g.op1('MatMul', [g.op1('Mul', [q, g.scalar(1 / Math.sqrt(hs))]), g.op1('Transpose', [key], { perm: [0, 1, 3, 2] })]);
  const attended = g.op1('MatMul', [g.op1('Softmax', [scores], { axis: -1 }), v]); // (B, heads, N, hs)
  return g.op1('Reshape', [g.op1('Transpose', [attended], { perm: [0, 2, 1, 3] }), g.ints([0, 0, H])]); // (B, N, H)
}
