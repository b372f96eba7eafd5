/**
 * One NRNM layer over the padded sequence, as an ONNX `Loop` over its blocks
 * of k steps (cell.cpp): x W_ih + b and x W_mi + b_m are computed for all
 * steps first; each iteration i updates the memory before step t = i k from
 * the previous block's outputs (at i = 0 the update is multiplied by 0: the
 * memory and its term stay exactly 0, as before the first update of the
 * batch forward), then runs the block's k steps, unrolled.
 */
import type { ResolvedModelOptions } from '../options';
import { backboneStep, type StepState } from './backbone';
import { GraphBuilder, valueInfo } from './graph';
import { memoryUpdate } from './memory-block';
import { affine, unsqueeze, type Zeta } from './ops';
import { DataType } from './schema';
import type { Weights } from './weights';

export interface LayerInputs {
  /** The layer input (T_pad, B, d). */
  x: string;
  /** ceil(T / k) (int64 scalar): the Loop's trip count. */
  blocks: string;
  /** [B] (int64, 1-D). */
  batch: string;
  /** Where lengths are honoured: (T_pad, B, 1) bool, the steps inside each sequence. */
  valid?: string;
}

/** The layer's outputs h_0 .. h_{T_pad-1} (T_pad, B, H). */
export function layerGraph(g: GraphBuilder, w: Weights, o: Readonly<ResolvedModelOptions>, layer: number, inputs: LayerInputs): string {
  const p = `rnn.cell_${layer}.`;
  const H = o.hiddenSize;
  const k = o.blockLength;
  const n = k / o.stride;
  const keep = 1 - o.zoneout;
  // Past a sequence's end the input is 0 (NaN there changes nothing) and zeta is 0 (the state is kept).
  const x = inputs.valid ? g.op1('Where', [inputs.valid, inputs.x, g.scalar(0)]) : inputs.x;
  const xGates = affine(g, w, x, `${p}weight_ih`, `${p}bias`); // (T_pad, B, gates H)
  const xMemory = affine(g, w, x, `${p}weight_memi`, `${p}mem_bias`); // (T_pad, B, nH)

  const zeros = (dims: string[]) => g.op1('ConstantOfShape', [g.op1('Concat', dims, { axis: 0 })]); // float 0
  const h0 = zeros([inputs.batch, g.ints([H])]);
  const m0 = zeros([inputs.batch, g.ints([n, H])]);
  const previous0 = zeros([g.ints([k]), inputs.batch, g.ints([H])]);

  const body = new GraphBuilder(`layer${layer}_block`, g);
  const names = ['iteration', 'cond_in', 'h_in', 'c_in', 'memory_in', 'previous_in'].map((v) => body.fresh(v));
  const [iteration, condIn, hIn, cIn, memoryIn, previousIn] = names as [string, string, string, string, string, string];
  body.inputs.push(valueInfo(iteration, DataType.INT64, []), valueInfo(condIn, DataType.BOOL, []));
  for (const v of [hIn, cIn, memoryIn, previousIn]) body.inputs.push(valueInfo(v, DataType.FLOAT));

  // The memory update before the block's first step t.
  const t = body.op1('Mul', [iteration, body.ints(k)]);
  const first = body.op1('Cast', [body.op1('Greater', [iteration, body.ints(0)])], { to: DataType.FLOAT }); // 0 at block 0
  const updated = body.op1('Mul', [memoryUpdate(body, w, o, layer, { x, t, previous: previousIn, memory: memoryIn }), first]); // (B, n, H)
  const m = body.op1('Reshape', [updated, body.ints([0, -1])]); // m = vec(M_new) (B, nH)
  const mHidden = body.op1('MatMul', [m, w.get(`${p}weight_memh`)]); // m W_mh
  // A sequence that ended before t keeps its memory (as the addon; its steps keep their state anyway).
  const carried = inputs.valid ? body.op1('Where', [unsqueeze(body, body.op1('Gather', [inputs.valid, t], { axis: 0 }), 2), updated, memoryIn]) : updated;

  // The k steps of the block, unrolled.
  const range = (v: string) => body.op1('Slice', [v, unsqueeze(body, t, 0), unsqueeze(body, body.op1('Add', [t, body.ints(k)]), 0), body.ints([0])]);
  const blockGates = range(xGates); // (k, B, gates H)
  const blockMemory = range(xMemory); // (k, B, nH)
  // zeta (k, B, 1): 1 - z inside a sequence, 0 past its end.
  const blockZeta = inputs.valid ? body.op1('Mul', [body.op1('Cast', [range(inputs.valid)], { to: DataType.FLOAT }), body.scalar(keep)]) : undefined;
  let state: StepState = { h: hIn, c: cIn };
  const outputs: string[] = [];
  for (let j = 0; j < k; j++) {
    const step = body.ints(j);
    const gx = body.op1('Gather', [blockGates, step], { axis: 0 }); // (B, gates H)
    const r = body.op1('Sigmoid', [body.op1('Add', [body.op1('Gather', [blockMemory, step], { axis: 0 }), mHidden])]);
    const term = body.op1('MatMul', [body.op1('Mul', [r, m]), w.get(`${p}weight_memt`)]); // (r m) W_mt (B, H), 0 at block 0
    let zeta: Zeta = { keep };
    if (blockZeta) {
      const z = body.op1('Gather', [blockZeta, step], { axis: 0 }); // (B, 1)
      zeta = { zeta: z, rest: body.op1('Sub', [body.scalar(1), z]) };
    }
    state = backboneStep(body, w, o, p, gx, term, state, zeta);
    outputs.push(unsqueeze(body, state.h, 0));
  }
  const block = body.op1('Concat', outputs, { axis: 0 }); // (k, B, H)

  const outNames = ['cond_out', 'h_out', 'c_out', 'memory_out', 'previous_out', 'block_out'].map((v) => body.fresh(v));
  [condIn, state.h, state.c, carried, block, block].forEach((value, i) => body.opTo('Identity', [value], [outNames[i]!]));
  body.outputs.push(valueInfo(outNames[0]!, DataType.BOOL, []));
  for (const v of outNames.slice(1)) body.outputs.push(valueInfo(v, DataType.FLOAT));

  const loop = g.op('Loop', [inputs.blocks, '', h0, h0, m0, previous0], { body: { graph: body.build() } }, 5);
  const scanned = loop[4]!; // (blocks, k, B, H)
  const tail = g.op1('Slice', [g.op1('Shape', [scanned]), g.ints([2]), g.ints([4])]);
  return g.op1('Reshape', [scanned, g.op1('Concat', [g.ints([-1]), tail], { axis: 0 })]); // (T_pad, B, H)
}
