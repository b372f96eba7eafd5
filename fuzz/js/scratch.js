'use strict';
// One scratch file per fuzz process, for the readers that take a path.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const dir = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();

function scratchFile(ext) {
  const file = path.join(dir, `nrnm-fuzz-${process.pid}-${ext}`);
  process.on('exit', () => fs.rmSync(file, { force: true }));
  return (data) => {
    fs.writeFileSync(file, data);
    return file;
  };
}

module.exports = { scratchFile };
