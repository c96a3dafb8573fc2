/**
 * The activity feed of a cart (protocol/SPEC.md §2 "Activity"): who added, changed or removed what,
 * and share codes redeemed and revoked. The cart's log cannot serve it: compaction folds entries
 * into a snapshot, and its entries are CRDT updates, not actions. So each change's entries (diffed
 * by protocol/activity.ts) go to a bounded list per cart in Redis (the newest MAX_ACTIVITY,
 * expiring like the cart) and to the cart's Socket.IO room on every node (`activity` event).
 */
import type { RedisClient } from '../core/redis/connect.ts';
import { type ActivityActor, type ActivityChange, type ActivityEntry, type CartSummary, changesBetween, readCart, summarize } from '../protocol/index.ts';
import { Keys } from '../core/keys.ts';
import type { Logger } from '../core/log.ts';
import type { Principal } from './auth.ts';
import type { ChangeWatch, HostedCart } from './cart/hosted-cart.ts';

/** Entries kept per cart: the newest. */
export const MAX_ACTIVITY = 200;

export function actorOf(principal: Principal, device: string | null): ActivityActor {
  return { id: principal.subject, role: principal.role, name: principal.name, device };
}

export class ActivityFeed {
  private readonly keys: Keys;
  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly cartTtlMs: number,
    private readonly log: Logger,
    /** Sends an entry to the cart's devices on every node. */
    private readonly emit: (cartId: string, entry: ActivityEntry) => void,
  ) {
    this.keys = new Keys(prefix);
  }

  /** A watch for one change of `cart` by `actor` (HostedCart calls it around the append): records what it changed. */
  watch(cart: HostedCart, actor: ActivityActor): ChangeWatch {
    let before: CartSummary | null = null;
    return {
      before: () => {
        before = summarize(readCart(cart.doc));
      },
      after: () => {
        if (before === null) return;
        const changes = changesBetween(before, summarize(readCart(cart.doc)));
        if (changes.length > 0) this.record(cart.cartId, actor, changes);
      },
    };
  }

  /** Store and announce `changes` (fire and forget: a lost entry costs a line of history, not the change). */
  record(cartId: string, actor: ActivityActor, changes: ActivityChange[]): void {
    const at = new Date().toISOString();
    const entries = changes.map((c): ActivityEntry => ({ at, actor, ...c }));
    const key = this.keys.activity(cartId);
    this.redis
      .multi()
      .lpush(key, ...entries.map((e) => JSON.stringify(e)))
      .ltrim(key, 0, MAX_ACTIVITY - 1)
      .pexpire(key, this.cartTtlMs)
      .exec()
      .catch((err: unknown) => this.log.warn('activity not recorded', { cartId, err }));
    for (const e of entries) this.emit(cartId, e);
  }

  /** The newest `limit` entries, newest first. */
  async list(cartId: string, limit: number): Promise<ActivityEntry[]> {
    const raw = await this.redis.lrange(this.keys.activity(cartId), 0, limit - 1);
    return raw.map((r) => JSON.parse(r) as ActivityEntry);
  }
}
