/**
 * The symbols of explicit resource management, for `using` and `await using`
 * (TypeScript 5.2+): NRNMClassifier, Trainer and Tensor free their native
 * memory at the end of the block. Node 20.20 defines Symbol.dispose and
 * Symbol.asyncDispose; earlier Node 20 releases lack them, and there the
 * names Node's own streams and timers use (Symbol.for('nodejs.dispose'),
 * Symbol.for('nodejs.asyncDispose')) stand in, without a polyfill.
 */
export const DISPOSE: typeof Symbol.dispose = Symbol.dispose ?? (Symbol.for('nodejs.dispose') as typeof Symbol.dispose);
export const ASYNC_DISPOSE: typeof Symbol.asyncDispose = Symbol.asyncDispose ?? (Symbol.for('nodejs.asyncDispose') as typeof Symbol.asyncDispose);
