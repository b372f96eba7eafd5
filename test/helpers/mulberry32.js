'use strict';
/**
 * mulberry32: a small deterministic PRNG, uniform in [0, 1). One copy for
 * the tests, their worker scripts, the fixture generators and the benches,
 * so that a seed means the same stream everywhere.
 * @param {number} seed
 * @returns {() => number}
 */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

module.exports = { mulberry32 };
