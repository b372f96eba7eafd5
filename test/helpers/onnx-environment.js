/**
 * A jest environment for tests that use onnxruntime-node: its native
 * binding creates output tensors with the typed-array constructors of the
 * main realm, and onnxruntime-common checks them with `instanceof` against
 * the test's own globals; jest gives each test file a realm of its own, so
 * the test file gets the main realm's typed arrays (plain node needs nothing).
 */
const { TestEnvironment } = require('jest-environment-node');

const TYPED = [
  'Float32Array',
  'Float64Array',
  'Int8Array',
  'Uint8Array',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'BigInt64Array',
  'BigUint64Array',
];

class OnnxEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of TYPED) this.global[name] = globalThis[name];
    this.global.ArrayBuffer = globalThis.ArrayBuffer;
  }
}

module.exports = OnnxEnvironment;
