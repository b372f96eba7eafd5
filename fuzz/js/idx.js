'use strict';
// IDX files (Fashion-MNIST), raw or gzipped: the path readIdx takes for a file.
const { readIdx } = require('../../dist/data/idx');
const { scratchFile } = require('./scratch');

const file = scratchFile('idx');

exports.fuzz = (data) => {
  readIdx(file(data));
};

exports.dict = ['\x00\x00\x08\x01', '\x00\x00\x08\x03', '\x00\x00\x09\x02', '\x1f\x8b\x08\x00', '\x00\x00\x00\x0a'];
