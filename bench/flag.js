'use strict';
/**
 * The value after `--name` on the command line, or `fallback` when the flag
 * is absent: the benches' only argument syntax.
 * @param {string} name
 * @param {string | number | undefined} fallback
 */
function flag(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
}

module.exports = { flag };
