/**
 * Retry-until-true assertions instead of sleeps: `waitFor` re-runs `assertion` until it stops
 * throwing, and rethrows its last error once `timeoutMs` is up.
 */
export async function waitFor<T>(assertion: () => T | Promise<T>, { timeoutMs = 5000, intervalMs = 15 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      return await assertion();
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) throw lastError;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Resolve when `emitter` emits `event` (or reject after `timeoutMs`). */
export function once<T = unknown>(emitter: { once(event: string, fn: (arg: T) => void): unknown }, event: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), timeoutMs);
    emitter.once(event, (arg: T) => {
      clearTimeout(timer);
      resolve(arg);
    });
  });
}
