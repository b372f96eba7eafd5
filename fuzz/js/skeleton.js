'use strict';
// NTU .skeleton text files, read and preprocessed as `preprocess` does for each file.
const { processFiles } = require('../../dist/data/ntu/worker');
const { scratchFile } = require('./scratch');

const file = scratchFile('S001C001P001R001A001.skeleton');

exports.fuzz = (data) => {
  processFiles([file(data)]);
};

exports.dict = ['\r\n', ' ', '0', '1', '2', '25', '-', '.', 'e', '72057594037931101', 'nan', 'inf'];
