'use strict';
// Label pickles (NTU's {train,val}_label.pkl): the pickle machine with the numpy scalar globals.
const { readLabelPkl } = require('../../dist/data/ntu/labels');
const { scratchFile } = require('./scratch');

const file = scratchFile('label.pkl');

exports.fuzz = (data) => {
  readLabelPkl(file(data));
};

exports.dict = [
  '\x80\x02',
  '\x80\x04\x95',
  '(',
  ']',
  ')',
  't',
  'q\x00',
  'X',
  'J',
  'K',
  'M',
  '.',
  'c',
  'numpy.core.multiarray\nscalar\n',
  'numpy\ndtype\n',
  'i8',
  'S001C001P001R001A001.skeleton',
];
