/**
 * The model's parameters (its state dict, official names) as initializers of
 * the exported graph: each added once, a Linear weight [out, in] also as its
 * transpose [in, out] for MatMul(x, W).
 */
import { NRNMError } from '../errors';
import type { GraphBuilder } from './graph';

/** A parameter by official name: its values and shape. */
export type Parameters = Record<string, { data: Float32Array; shape: readonly number[] }>;

export class Weights {
  readonly #added = new Map<string, string>();

  constructor(
    private readonly graph: GraphBuilder,
    private readonly parameters: Parameters,
  ) {}

  /** The parameter as it is stored. */
  get(name: string): string {
    let added = this.#added.get(name);
    if (!added) {
      const p = this.#parameter(name);
      added = this.graph.float(name, p.data, [...p.shape]);
      this.#added.set(name, added);
    }
    return added;
  }

  /** A Linear weight [out, in] as [in, out]. */
  transposed(name: string): string {
    const key = `${name}^T`;
    let added = this.#added.get(key);
    if (!added) {
      const p = this.#parameter(name);
      if (p.shape.length !== 2) throw new NRNMError(`ONNX export: parameter '${name}' has shape [${p.shape.join(', ')}]; expected a matrix`, 'ERR_SHAPE');
      const [rows, cols] = p.shape as [number, number];
      const t = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = p.data[r * cols + c]!;
      added = this.graph.float(key, t, [cols, rows]);
      this.#added.set(key, added);
    }
    return added;
  }

  #parameter(name: string): { data: Float32Array; shape: readonly number[] } {
    const p = this.parameters[name];
    if (!p) throw new NRNMError(`ONNX export: the model has no parameter '${name}'`, 'ERR_FORMAT');
    return p;
  }
}
