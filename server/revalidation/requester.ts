/**
 * Asks for revalidations on behalf of a node: at most one request per cart in flight, and one more
 * after it when changes arrived meanwhile, so a burst of edits costs a couple of enqueues, not one
 * per edit. BullMQ's deduplication then coalesces across nodes.
 */
import type { Logger } from '../../core/log.ts';
import type { Queues } from '../../core/queues.ts';

interface Pending {
  /** Changes arrived while the request was in flight; the oldest's time. */
  againSince: number | null;
}

export class RevalidationRequester {
  private readonly inflight = new Map<string, Pending>();
  /** Enqueues sent and not yet answered by Redis (shutdown waits for them). */
  private readonly sending = new Set<Promise<void>>();

  constructor(
    private readonly queues: Queues,
    private readonly log: Logger,
    /** How long a revalidation waits after being asked (config.revalidateDelayMs). */
    private readonly delayMs: number,
  ) {}

  /** An intent change of `cartId` was accepted at `since` (ms). */
  request(cartId: string, since = Date.now()): void {
    const pending = this.inflight.get(cartId);
    if (pending) {
      pending.againSince ??= since;
      return;
    }
    const state: Pending = { againSince: null };
    this.inflight.set(cartId, state);
    const send = (at: number): void => {
      const sent = this.queues.requestRevalidation(cartId, at, this.delayMs).then(
        () => undefined,
        // The cart stays behind its revalidated version; the next load of it asks again.
        (err: unknown) => this.log.warn('could not enqueue revalidation', { cartId, err }),
      );
      this.sending.add(sent);
      void sent.then(() => {
        this.sending.delete(sent);
        if (state.againSince !== null) {
          const next = state.againSince;
          state.againSince = null;
          send(next);
        } else {
          this.inflight.delete(cartId);
        }
      });
    };
    send(since);
  }

  /** Requests still in flight (shutdown waits for them). */
  get pending(): number {
    return this.inflight.size;
  }

  /**
   * Resolves when every request asked so far has reached the queue (or failed), including the
   * follow-ups asked meanwhile. Never rejects. Shutdown races it against its grace period.
   */
  async settled(): Promise<void> {
    // A follow-up is added while the previous send settles, before Promise.all sees it settled.
    while (this.sending.size > 0) await Promise.all(this.sending);
  }
}
