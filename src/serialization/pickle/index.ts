/**
 * A minimal, safe Python pickle reader and writer.
 *
 * The reader runs the pickle virtual machine for the opcodes of protocols
 * 0 to 5 that data pickles use (containers, numbers, strings, bytes, memo,
 * persistent ids, REDUCE/BUILD). It never imports or runs anything: a Python
 * global (GLOBAL, STACK_GLOBAL, INST) is accepted only when the caller names
 * it in `globals`, and it is then "called" only through the caller's handler.
 * Anything else is an `ERR_FORMAT` error (with `refusedGlobal` set) naming
 * the global, the opcode and its byte offset.
 *
 * Python values become:
 *
 * | Python                 | JavaScript                                            |
 * | ---------------------- | ----------------------------------------------------- |
 * | None, True/False       | `null`, `true`/`false`                                |
 * | int                    | `number`, or `bigint` beyond ±(2^53 - 1)               |
 * | float                  | `number`                                              |
 * | str                    | `string`                                              |
 * | bytes, bytearray       | `Uint8Array` (a copy)                                 |
 * | list                   | `unknown[]` (mutable)                                 |
 * | tuple                  | a frozen array (`Object.isFrozen`), see `isTuple`     |
 * | dict                   | `Map` (insertion-ordered, like Python 3.7+ dicts)     |
 * | set, frozenset         | `Set`                                                 |
 * | py2 `str` (STRING ops) | `string` decoded as UTF-8 (or `Uint8Array`, see options) |
 * | allowed global         | `PyGlobal`; REDUCE on it calls the caller's handler   |
 *
 * The writer (`pickle`) turns the same JavaScript values back into a
 * protocol 2 (default) or 3 pickle that Python 3 (and, for protocol 2,
 * Python 2) reads. Tuples are frozen arrays, lists are unfrozen arrays; an
 * integral `number` is written as a Python int, any other number (and -0) as
 * a float.
 * `PyGlobal`, `PyReduce` and `PyPersistentId` write references to Python
 * callables the way `pickle` and `torch.save` do.
 */
export { getBuildState, isTuple, PY_SETSTATE, PyGlobal, PyPersistentId, PyReduce, pythonType, tuple, type GlobalHandler, type PyTuple } from './values';
export { unpickle, type UnpickleOptions } from './reader';
export { pickle, type PickleOptions } from './writer';
