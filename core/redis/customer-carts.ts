/**
 * Each signed-in customer's active cart: one pointer per customer (`customer:{<digest>}:cart`),
 * moved only by compare-and-set, so devices signing in at once agree on one cart. The pointer
 * expires like a cart with lines and is refreshed at each sign-in; a pointer to a cart that
 * expired or was merged away is replaced by the next sign-in.
 */
import { readFileSync } from 'node:fs';
import type { RedisClient } from './connect.ts';
import { Keys } from '../keys.ts';

const SWAP = { numberOfKeys: 1, lua: readFileSync(new URL('./lua/swapActiveCart-1.lua', import.meta.url), 'utf8') };

interface ScriptedRedis {
  swapActiveCart(pointer: string, seen: string, next: string, ttlMs: number): Promise<string>;
}

export class CustomerCarts {
  private readonly redis: RedisClient & ScriptedRedis;
  private readonly keys: Keys;

  constructor(
    redis: RedisClient,
    prefix: string,
    /** The pointer's lifetime: a cart with lines lives this long after its last change. */
    private readonly ttlMs: number,
  ) {
    const r = redis as RedisClient & Partial<ScriptedRedis>;
    if (typeof r.swapActiveCart !== 'function') redis.defineCommand('swapActiveCart', SWAP);
    this.redis = redis as RedisClient & ScriptedRedis;
    this.keys = new Keys(prefix);
  }

  private pointer(customerId: string): string {
    return this.keys.activeCart(customerId);
  }

  /** The customer's active cart id, or null. */
  active(customerId: string): Promise<string | null> {
    return this.redis.get(this.pointer(customerId));
  }

  /**
   * Make `next` the active cart if the pointer still holds `seen` (null: none). Returns the cart
   * id the pointer holds afterwards (`next` when it moved).
   */
  swap(customerId: string, seen: string | null, next: string): Promise<string> {
    return this.redis.swapActiveCart(this.pointer(customerId), seen ?? '', next, this.ttlMs);
  }

  /** Keep the pointer as long as a cart with lines (a sign-in uses it). */
  async touch(customerId: string): Promise<void> {
    await this.redis.pexpire(this.pointer(customerId), this.ttlMs);
  }
}
