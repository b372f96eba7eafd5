/**
 * A small builder of ONNX graphs (plain objects in the shape of
 * onnx.GraphProto, encoded by schema.ts): nodes get fresh output names,
 * constants become initializers, a Loop body is a graph of its own that
 * reads the outer graph's values by name.
 */
import { AttributeType, DataType } from './schema';

export type Attribute = number | number[] | { float: number } | { graph: GraphProtoObject };

interface NodeObject {
  input: string[];
  output: string[];
  name: string;
  op_type: string;
  attribute: Record<string, unknown>[];
}

interface TensorObject {
  name: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}

export interface ValueInfoObject {
  name: string;
  type: { tensor_type: { elem_type: number; shape?: { dim: ({ dim_value: number } | { dim_param: string })[] } } };
}

export interface GraphProtoObject {
  name: string;
  node: NodeObject[];
  initializer: TensorObject[];
  input: ValueInfoObject[];
  output: ValueInfoObject[];
}

/** A value's type: element type and, when known, its dims (a number, or a name for a dynamic one). */
export function valueInfo(name: string, elemType: number, dims?: (number | string)[]): ValueInfoObject {
  const tensor: ValueInfoObject['type']['tensor_type'] = { elem_type: elemType };
  if (dims) tensor.shape = { dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) };
  return { name, type: { tensor_type: tensor } };
}

function bytesOf(view: Float32Array | BigInt64Array | Uint8Array): Uint8Array {
  // ONNX raw_data is little-endian, as typed arrays are on every platform Node runs on here (linux x64/arm64).
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

export class GraphBuilder {
  readonly nodes: NodeObject[] = [];
  readonly initializers: TensorObject[] = [];
  readonly inputs: ValueInfoObject[] = [];
  readonly outputs: ValueInfoObject[] = [];
  readonly #names: { next: number };
  readonly #prefix: string;
  /** Constants by value, so that each is one initializer (outermost graph only). */
  readonly #constants = new Map<string, string>();

  /** `parent`: the graph a Loop body belongs to (names stay unique across both; constants go to the outermost). */
  constructor(
    readonly name: string,
    private readonly parent?: GraphBuilder,
  ) {
    this.#names = parent ? parent.#names : { next: 0 };
    this.#prefix = parent ? `${name}/` : '';
  }

  /** A fresh value name. */
  fresh(hint: string): string {
    return `${this.#prefix}${hint}_${this.#names.next++}`;
  }

  /** One node; returns its output names (`outputs` of them). */
  op(type: string, inputs: string[], attributes: Record<string, Attribute> = {}, outputs = 1): string[] {
    const names = Array.from({ length: outputs }, () => this.fresh(type));
    this.nodes.push({ input: inputs, output: names, name: this.fresh(`${type}_node`), op_type: type, attribute: encodeAttributes(attributes) });
    return names;
  }

  /** One node with one output. */
  op1(type: string, inputs: string[], attributes: Record<string, Attribute> = {}): string {
    return this.op(type, inputs, attributes, 1)[0]!;
  }

  /** One node writing to the given names (a body's outputs). */
  opTo(type: string, inputs: string[], outputs: string[], attributes: Record<string, Attribute> = {}): void {
    this.nodes.push({ input: inputs, output: outputs, name: this.fresh(`${type}_node`), op_type: type, attribute: encodeAttributes(attributes) });
  }

  /** A float32 initializer (of the outermost graph: a Loop body reads it from there). */
  float(name: string, data: Float32Array, dims: number[]): string {
    if (this.parent) return this.parent.float(name, data, dims);
    this.initializers.push({ name, dims, data_type: DataType.FLOAT, raw_data: bytesOf(data) });
    return name;
  }

  /** A float32 scalar constant. */
  scalar(value: number): string {
    if (this.parent) return this.parent.scalar(value);
    const key = `f${value}`;
    let name = this.#constants.get(key);
    if (!name) {
      name = this.float(this.fresh('const'), Float32Array.of(value), []);
      this.#constants.set(key, name);
    }
    return name;
  }

  /** An int64 constant: a scalar for a number, a 1-D tensor for an array. */
  ints(values: number | number[]): string {
    if (this.parent) return this.parent.ints(values);
    const key = typeof values === 'number' ? `i${values}` : `i[${values.join(',')}]`;
    const known = this.#constants.get(key);
    if (known) return known;
    const list = typeof values === 'number' ? [values] : values;
    const name = this.fresh('const');
    this.#constants.set(key, name);
    this.initializers.push({
      name,
      dims: typeof values === 'number' ? [] : [list.length],
      data_type: DataType.INT64,
      raw_data: bytesOf(BigInt64Array.from(list, (v) => BigInt(v))),
    });
    return name;
  }

  build(): GraphProtoObject {
    return { name: this.name, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs };
  }
}

function encodeAttributes(attributes: Record<string, Attribute>): Record<string, unknown>[] {
  return Object.entries(attributes).map(([name, value]) => {
    if (typeof value === 'number') return { name, type: AttributeType.INT, i: value };
    if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
    if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
    return { name, type: AttributeType.GRAPH, g: value.graph };
  });
}
