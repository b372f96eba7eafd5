'use strict';
// The ZIP reader under every .pt: central directory, local headers, ZIP64, deflate.
const { ZipReader } = require('../../dist/serialization/zip');

exports.fuzz = async (data) => {
  const zip = await ZipReader.fromBytes(data, 'fuzz.zip');
  try {
    for (const e of zip.entries) await zip.read(e);
  } finally {
    await zip.close();
  }
};

exports.dict = ['PK\x03\x04', 'PK\x01\x02', 'PK\x05\x06', 'PK\x06\x06', 'PK\x06\x07', '\x01\x00', '\xff\xff\xff\xff', 'archive/data.pkl', 'archive/data/0'];
