/** Splitting an epoch between data-parallel ranks. */

/**
 * The rows of one rank in an epoch, like torch's DistributedSampler: the
 * epoch's order padded (by repeating its start) to a multiple of the world
 * size, then every worldSize-th row from `rank`. All ranks get the same
 * number of rows, hence the same number of steps.
 */
export function shardRows(order: ArrayLike<number> | null, length: number, rank: number, worldSize: number): Int32Array {
  const perRank = Math.ceil(length / worldSize);
  const rows = new Int32Array(perRank);
  for (let k = 0; k < perRank; k++) {
    const i = (rank + k * worldSize) % length;
    rows[k] = order ? order[i]! : i;
  }
  return rows;
}
