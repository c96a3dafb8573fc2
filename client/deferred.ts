/** Promises settled from outside, for the `when…()` methods and `open`. */
export interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

/** A promise with its resolve and reject. Settling twice is a no-op, as for any promise. */
export function deferred(): Waiter & { promise: Promise<void> } {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // May reject with nobody waiting (e.g. `ready` of a cart already in use): not an unhandled rejection.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** Settle every waiter of `list` (resolve, or reject with `err`) and empty it. */
export function settleAll(list: Waiter[], err?: Error): void {
  for (const w of list.splice(0)) {
    if (err) w.reject(err);
    else w.resolve();
  }
}
