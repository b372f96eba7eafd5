'use strict';
/**
 * The benches' summary statistics, so every table means the same thing by
 * "median" and "p99".
 */

/** Nearest-rank quantile of an ascending array: the smallest value with at least q of the samples at or below it. */
function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** The median (the upper one of an even count, as the tables have always used). */
function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

module.exports = { quantile, median };
