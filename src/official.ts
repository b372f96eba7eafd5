/**
 * The authors' state_dict layout (MyRNNModel with cell_type 'ORG_MEMO'):
 * which of its tensors our model has, which it holds but never uses, and
 * their order in a file torch.save wrote.
 */
import type { ResolvedModelOptions } from './options';

/** Official tensors our model has no parameter for, with their shapes. */
export interface ExtraTensor {
  name: string;
  shape: number[];
  /** Our parameter this tensor must equal (the Linear the official MLP uses twice). */
  copyOf?: string;
}

// The official aggregation Linears have fixed shapes whatever the sizes:
// linear1 (1200 -> 300) serves a 150-wide layer input, linear2 (4096 -> 1024)
// any other. Our model registers only the one a layer uses, sized 8d -> 2d.
const OFFICIAL_LINEAR1 = { out: 300, in: 1200 };
const OFFICIAL_LINEAR2 = { out: 1024, in: 4096 };

function layerInput(options: ResolvedModelOptions, layer: number): number {
  return layer === 0 ? options.inputSize : options.hiddenSize;
}

export function officialExtras(options: ResolvedModelOptions): ExtraTensor[] {
  const H = options.hiddenSize;
  const extras: ExtraTensor[] = [];
  for (let l = 0; l < options.layers; l++) {
    const cell = `rnn.cell_${l}`;
    extras.push(
      { name: `${cell}.MC.easy_projector.weight`, shape: [H, H] },
      { name: `${cell}.MC.easy_projector.bias`, shape: [H] },
      { name: `${cell}.MC.attention_mlp.1.weight`, shape: [H, H], copyOf: `${cell}.MC.attention_mlp.0.weight` },
      { name: `${cell}.MC.attention_mlp.1.bias`, shape: [H], copyOf: `${cell}.MC.attention_mlp.0.bias` },
    );
    const unused = usesLinear1(options, l) ? (['linear2', OFFICIAL_LINEAR2] as const) : (['linear1', OFFICIAL_LINEAR1] as const);
    extras.push(
      { name: `${cell}.${unused[0]}.1.weight`, shape: [unused[1].out, unused[1].in] },
      { name: `${cell}.${unused[0]}.1.bias`, shape: [unused[1].out] },
    );
  }
  return extras;
}

/** Whether layer l's aggregation is the official `linear1` (150-wide input). */
export function usesLinear1(options: ResolvedModelOptions, layer: number): boolean {
  return layerInput(options, layer) === 150;
}

/**
 * True for names an official state_dict may hold that no model option can
 * use: the unused aggregation Linear of either width, easy_projector, and
 * the second alias of the attention MLP.
 */
export function isOfficialExtraName(name: string): boolean {
  return /^rnn\.cell_\d+\.(MC\.easy_projector|MC\.attention_mlp\.1|linear[12]\.1)\.(weight|bias)$/.test(name);
}

const CELL_ORDER = [
  'weight_ih',
  'weight_hh',
  'weight_memh',
  'weight_memt',
  'weight_memi',
  'bias',
  'mem_bias',
  'MC.forget_bias',
  'MC.input_bias',
  'MC.qkv_projector.weight',
  'MC.qkv_projector.bias',
  'MC.qkv_layernorm.weight',
  'MC.qkv_layernorm.bias',
  'MC.easy_projector.weight',
  'MC.easy_projector.bias',
  'MC.attention_mlp.0.weight',
  'MC.attention_mlp.0.bias',
  'MC.attention_mlp.1.weight',
  'MC.attention_mlp.1.bias',
  'MC.attended_memory_layernorm.weight',
  'MC.attended_memory_layernorm.bias',
  'MC.attended_memory_layernorm2.weight',
  'MC.attended_memory_layernorm2.bias',
  'MC.input_projector.weight',
  'MC.input_projector.bias',
  'MC.input_gate_projector.weight',
  'MC.input_gate_projector.bias',
  'MC.memory_gate_projector.weight',
  'MC.memory_gate_projector.bias',
  'linear1.1.weight',
  'linear1.1.bias',
  'linear2.1.weight',
  'linear2.1.bias',
];

/** Sort key reproducing the order of the official model's state_dict(). */
export function officialOrder(name: string): number {
  if (name.startsWith('decoder.')) return Number.MAX_SAFE_INTEGER - (name.endsWith('weight') ? 1 : 0);
  const m = /^rnn\.cell_(\d+)\.(.+)$/.exec(name);
  if (!m) return Number.MAX_SAFE_INTEGER - 2;
  const index = CELL_ORDER.indexOf(m[2]);
  return Number(m[1]) * 1000 + (index < 0 ? 999 : index);
}
