'use strict';
// .npy arrays (the npy dataset, NTU preprocessed data): header literal, dtypes, shapes.
const { parseNpy, toInt32 } = require('../../dist/data/npy');

exports.fuzz = (data) => {
  const array = parseNpy(data, 'fuzz.npy');
  if (array.dtype !== 'float32' && array.dtype !== 'float64') toInt32(array, 'fuzz.npy');
};

exports.dict = ['\x93NUMPY', "{'descr': '", "'fortran_order': ", "'shape': (", 'False', 'True', '<f4', '<f8', '<i8', '|u1', '>i4', ', ', '), }', '\n'];
