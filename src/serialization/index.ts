/**
 * PyTorch interop without Python: read and write `torch.save` state_dicts,
 * and read small Python data pickles (e.g. NTU `{train,val}_label.pkl`).
 */
export { SerializationError, type SerializationErrorCode } from './errors';
export {
  getBuildState,
  isTuple,
  pickle,
  PY_SETSTATE,
  PyGlobal,
  PyPersistentId,
  PyReduce,
  tuple,
  unpickle,
  type GlobalHandler,
  type PickleOptions,
  type PyTuple,
  type UnpickleOptions,
} from './pickle';
export {
  readStateDict,
  readStateDictFromBytes,
  toFloat32,
  writeStateDict,
  type TorchDType,
  type ReadStateDictOptions,
  type StateDictEntry,
  type TensorData,
  type WriteStateDictOptions,
} from './pytorch';
export { crc32, ZipReader, ZipWriter, type RandomAccessSource, type ZipEntry, type ZipWriterOptions } from './zip';
