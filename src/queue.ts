/**
 * Runs the native calls of one model one after another, in call order, so
 * worker threads never contend for it. `busy` lets synchronous methods refuse
 * (ERR_BUSY) instead of blocking the event loop behind a running call.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();
  #pending = 0;

  get busy(): boolean {
    return this.#pending > 0;
  }

  run<T>(task: () => Promise<T> | T): Promise<T> {
    this.#pending += 1;
    const result = this.#tail.then(task, task);
    this.#tail = result.then(
      () => this.#done(),
      () => this.#done(),
    );
    return result;
  }

  #done(): void {
    this.#pending -= 1;
  }
}
