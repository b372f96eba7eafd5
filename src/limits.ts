/**
 * What the file readers may allocate for an input they have not checked
 * yet. Every reader compares the sizes a file declares with the file's real
 * size and these limits before it allocates or inflates, so a small crafted
 * file cannot make the process allocate much more than its own size
 * (README, "Limits on the files read").
 */

/**
 * Compressed data (a deflated zip entry, a gzipped IDX file) may expand to
 * at most this many times the size of the file holding it. Real tensors and
 * images compress 1.1 to 5 times; only data built to exhaust memory expands more.
 */
export const MAX_INFLATE_RATIO = 64;

/** What small inputs may always expand to (16 MiB): tiny archives of zeros are fine. */
export const MIN_ALLOWANCE = 16 << 20;

/** The bytes compressed data in a file of `fileSize` bytes may inflate to, in all. */
export function inflateAllowance(fileSize: number): number {
  return Math.max(MIN_ALLOWANCE, MAX_INFLATE_RATIO * fileSize);
}

/**
 * The tensors of a state_dict together may hold at most this many times the
 * bytes of the storages they view: a storage shared by several tensors is
 * copied for each, and a broadcast (stride-0) view is expanded.
 */
export const MAX_VIEW_EXPANSION = 4;

/** The bytes the tensors viewing `storageBytes` bytes of storage may hold, in all. */
export function viewAllowance(storageBytes: number): number {
  return Math.max(MIN_ALLOWANCE, MAX_VIEW_EXPANSION * storageBytes);
}

/** Longest line of a `.skeleton` file (real ones have at most ~150 bytes a line). */
export const MAX_SKELETON_LINE = 4096;
