/**
 * The symbols of explicit resource management, for `using` and `await using`
 * (TypeScript 5.2+): NRNMClassifier, Trainer and Tensor free their native
 * memory at the end of the block. Node 20.20 defines Symbol.dispose and
 * Symbol.asyncDispose on the main realm's Symbol as the registry symbols
 * Symbol.for('nodejs.dispose') and Symbol.for('nodejs.asyncDispose'); other
 * realms (a vm context, each jest test file) and earlier Node 20 releases
 * lack them. The registry symbols stand in there, without a polyfill: they
 * are the same in every realm, so an object made in one is disposed by
 * `using` in another.
 */
export const DISPOSE: typeof Symbol.dispose = Symbol.dispose ?? (Symbol.for('nodejs.dispose') as typeof Symbol.dispose);
export const ASYNC_DISPOSE: typeof Symbol.asyncDispose = Symbol.asyncDispose ?? (Symbol.for('nodejs.asyncDispose') as typeof Symbol.asyncDispose);
