'use strict';
// What a reader may throw for a bad file: an NRNMError with a data-error
// code. A raw TypeError/RangeError, or a coded error that only wraps a
// TypeError or ReferenceError (a bug in the reader, hidden by the wrapper),
// is a finding.
const { NRNMError } = require('../../dist/errors');

const CODES = new Set(['ERR_FORMAT', 'ERR_CHECKPOINT_VERSION', 'ERR_SHAPE', 'ERR_DTYPE']);

function isExpected(err) {
  if (!(err instanceof NRNMError) || !CODES.has(err.code)) return false;
  const cause = err.cause;
  return !(cause instanceof TypeError || cause instanceof ReferenceError);
}

module.exports = { isExpected };
