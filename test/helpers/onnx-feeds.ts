/** The inputs of an exported NRNM graph for onnxruntime-node: x [B, T, F] and, when given, lengths [B] as int64. */
import * as ort from 'onnxruntime-node';

export function onnxFeeds(x: Float32Array, shape: [number, number, number], lengths?: ArrayLike<number>): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', x, shape) };
  if (lengths)
    feeds['lengths'] = new ort.Tensor(
      'int64',
      BigInt64Array.from(Array.from(lengths), (v) => BigInt(v)),
      [shape[0]],
    );
  return feeds;
}
