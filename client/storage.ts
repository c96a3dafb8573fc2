/**
 * Local persistence of carts, so a device keeps its cart (and its offline edits) across restarts.
 * The library stores `Y.encodeStateAsUpdate(doc)` per cart; implementations only move bytes.
 */

/** Where a device keeps its carts' local state. Every method may reject; the library reports it. */
export interface CartStorage {
  /** The state saved for `cartId`, or null when there is none. */
  load(cartId: string): Promise<Uint8Array | null>;
  /** Replace the state saved for `cartId`. Must be atomic: a crash leaves the old or the new state. */
  save(cartId: string, state: Uint8Array): Promise<void>;
  /** Forget `cartId` (no error when nothing is saved). */
  clear(cartId: string): Promise<void>;
}

/** Keeps carts in memory only: state survives closing a cart, not the process. The default. */
export class MemoryStorage implements CartStorage {
  private readonly carts = new Map<string, Uint8Array>();

  async load(cartId: string): Promise<Uint8Array | null> {
    const state = this.carts.get(cartId);
    return state ? state.slice() : null;
  }

  async save(cartId: string, state: Uint8Array): Promise<void> {
    // Copy: the caller may reuse its buffer.
    this.carts.set(cartId, state.slice());
  }

  async clear(cartId: string): Promise<void> {
    this.carts.delete(cartId);
  }
}
