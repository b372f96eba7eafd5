'use strict';
// torch.save files: zip + pickle + storages and views, as `convert` and the API read them.
const { readStateDictFromBytes, toFloat32 } = require('../../dist/serialization/pytorch');

exports.fuzz = async (data) => {
  for (const entry of await readStateDictFromBytes(data, 'fuzz.pt')) toFloat32(entry);
};

exports.dict = [
  'PK\x03\x04',
  'PK\x01\x02',
  'PK\x05\x06',
  'archive/data.pkl',
  'archive/data/0',
  'archive/version',
  'torch._utils',
  '_rebuild_tensor_v2',
  'FloatStorage',
  'collections\nOrderedDict',
  '\x80\x02',
  'q\x00',
  '.',
];
