/**
 * The element types of the package, in one place: what a Tensor holds and
 * what crosses into LibTorch (float32 data, int64 or int32 labels, uint8
 * bytes). Readers of other formats name theirs as a superset of it (a .npy
 * file may also hold int8, int16 and unsigned types: NpyDType).
 */
export type DType = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8';
