import { NRNMError, Tensor } from '../../src';

describe('Tensor (native LibTorch memory)', () => {
  it('round-trips float32 data and shape through LibTorch', () => {
    const data = Float32Array.from({ length: 24 }, (_, i) => i * 0.5 - 3);
    const t = Tensor.from(data, [2, 3, 4]);
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([2, 3, 4]);
    expect(t.device).toBe('cpu');
    const back = t.toArray();
    expect(Object.prototype.toString.call(back)).toBe('[object Float32Array]');
    expect(Array.from(back)).toEqual(Array.from(data));
    // A copy, not a view: changing the source does not change the tensor.
    data[0] = 100;
    expect(t.toArray()[0]).toBe(-3);
  });

  it.each([
    ['float64', Float64Array.from([1.5, -2.25, 1e300])],
    ['int32', Int32Array.from([1, -2, 2147483647])],
    ['int64', BigInt64Array.from([1n, -2n, 9007199254740993n])],
    ['uint8', Uint8Array.from([0, 7, 255])],
  ] as const)('keeps %s values exactly', (dtype, data) => {
    const t = Tensor.from(data, [3]);
    expect(t.dtype).toBe(dtype);
    expect(Array.from(t.toArray() as ArrayLike<unknown>)).toEqual(Array.from(data as ArrayLike<unknown>));
  });

  it('rejects a shape that does not match the data, naming both', () => {
    expect(() => Tensor.from(new Float32Array(5), [2, 3])).toThrow(/6 elements for shape \[2, 3\].*has 5/);
    expect(() => Tensor.from(new Float32Array(5), [2, -1])).toThrow(NRNMError);
    expect(() => Tensor.from(new Int16Array(2) as unknown as Float32Array, [2])).toThrow(/Float32Array/);
  });

  it('throws ERR_DISPOSED after dispose, and dispose is idempotent', () => {
    const t = Tensor.from(new Float32Array([1, 2]), [2]);
    t.dispose();
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(() => t.toArray()).toThrow(expect.objectContaining({ code: 'ERR_DISPOSED' }));
    expect(() => t.device).toThrow(expect.objectContaining({ code: 'ERR_DISPOSED' }));
    expect(() => t.to('cpu')).toThrow(expect.objectContaining({ code: 'ERR_DISPOSED' }));
  });

  it('turns a native error into an NRNMError with a code (bad device string)', () => {
    const t = Tensor.from(new Float32Array([1]), [1]);
    let caught: unknown;
    try {
      t.to('tpu');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(NRNMError);
    expect((caught as NRNMError).message).toMatch(/'cpu', 'cuda', 'cuda:N' or 'auto' \(got 'tpu'\)/);
  });

  it('copies to the CPU device', () => {
    const t = Tensor.from(new Float32Array([1, 2, 3]), [3]);
    const u = t.to('cpu');
    t.dispose();
    expect(Array.from(u.toArray())).toEqual([1, 2, 3]);
  });
});
