/**
 * Persisting one cart's local state: `Y.encodeStateAsUpdate(doc)` written to the CartStorage at most
 * once per debounce window after changes, and on demand (close). Storage operations of a cart run
 * one at a time in order, so a `clear` after a rejection is never overtaken by an older save.
 */
import * as Y from 'yjs';
import type { CartStorage } from './storage.ts';

export class LocalSave {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly storage: CartStorage,
    private readonly cartId: string,
    private readonly debounceMs: number,
    /** Called with the error of a failed storage operation. */
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Save `doc()` once the debounce window has passed (changes meanwhile ride along). */
  schedule(doc: () => Y.Doc): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.now(doc());
    }, this.debounceMs);
  }

  /** Queue a save of `doc` as it is now. */
  now(doc: Y.Doc): void {
    this.cancel();
    const state = Y.encodeStateAsUpdate(doc);
    this.queue(() => this.storage.save(this.cartId, state));
  }

  /** Forget the saved state (after a rejection), after any save already queued. */
  clear(): void {
    this.cancel();
    this.queue(() => this.storage.clear(this.cartId));
  }

  /** Resolves when every queued operation has finished. */
  idle(): Promise<void> {
    return this.tail;
  }

  private cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private queue(op: () => Promise<void>): void {
    this.tail = this.tail.then(op).catch(this.onError);
  }
}
