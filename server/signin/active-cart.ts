/**
 * A signed-in customer's active cart: found through her pointer (core/redis/customer-carts.ts),
 * created on her first sign-in, owned by her. Devices signing in at once agree on one cart: the
 * pointer moves only by compare-and-set, and a device that lost the race uses the winner's cart.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { CartError, roots, writeCartFacts } from '../../protocol/index.ts';
import { newCartFacts } from '../../core/cart/restore.ts';
import type { CartStatusStore } from '../../core/redis/cart-status-store.ts';
import type { CustomerCarts } from '../../core/redis/customer-carts.ts';
import type { CartRegistry } from '../cart/registry.ts';

export interface ActiveCartDeps {
  registry: CartRegistry;
  statuses: CartStatusStore;
  customers: CustomerCarts;
}

/** What a sign-in found: the open active cart (or null), and the pointer's value it was read from. */
export interface ActiveLookup {
  cartId: string | null;
  seen: string | null;
}

/** Tries before giving up when other sign-ins keep moving the pointer. */
const MAX_ATTEMPTS = 4;

export class ActiveCarts {
  constructor(private readonly deps: ActiveCartDeps) {}

  /** The customer's active cart if it is still there and open (a pointer outlives an expired or merged cart). */
  async find(customerId: string): Promise<ActiveLookup> {
    const seen = await this.deps.customers.active(customerId);
    if (seen === null) return { cartId: null, seen };
    const status = await this.deps.statuses.status(seen);
    if (status === null || status.status !== 'open') return { cartId: null, seen };
    await this.deps.customers.touch(customerId);
    return { cartId: seen, seen };
  }

  /**
   * Make `cartId` (an existing cart she owns now) the active cart if the pointer still holds
   * `seen`. Returns the active cart afterwards: `cartId`, or the one another sign-in set first.
   */
  async point(customerId: string, seen: string | null, cartId: string): Promise<string> {
    return this.deps.customers.swap(customerId, seen, cartId);
  }

  /** The customer's active cart, created (and owned by her) when she has none. */
  async ensure(customerId: string, lookup: ActiveLookup): Promise<string> {
    let { cartId, seen } = lookup;
    for (let attempt = 0; cartId === null && attempt < MAX_ATTEMPTS; attempt++) {
      const created = await this.create(customerId);
      const now = await this.point(customerId, seen, created);
      if (now === created) return created;
      // Another device's sign-in set one first: use it if it is open (the cart made here is
      // empty and expires like any empty cart).
      ({ cartId, seen } = await this.find(customerId));
    }
    if (cartId === null) throw new CartError('E_STORAGE_UNAVAILABLE', 'too many concurrent sign-ins moved the active cart');
    return cartId;
  }

  /** A new, empty cart owned by `customerId`. */
  private async create(customerId: string): Promise<string> {
    const cartId = randomBytes(16).toString('base64url');
    const cart = await this.deps.registry.acquire(cartId);
    try {
      await cart.applyServerChange(
        (doc) => {
          if (!roots(doc).cart.has('schema')) writeCartFacts(doc, newCartFacts());
        },
        { kind: 'rest', requestId: randomUUID() },
      );
    } finally {
      this.deps.registry.release(cart);
    }
    const adopted = await this.deps.statuses.adopt(cartId, customerId);
    if (adopted.kind !== 'adopted') throw new CartError('E_STORAGE_UNAVAILABLE', `a new cart could not be owned (${adopted.kind})`);
    return cartId;
  }
}
