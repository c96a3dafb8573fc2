/**
 * Which open carts hold which SKUs, so a catalog change revalidates exactly the carts it affects.
 * Kept current by the revalidation worker (it knows each cart's lines after every change).
 *
 * Keys: `{prefix}:idx:sku:{SKU}` (set of cart ids, one slot per SKU) and `{prefix}:idx:open`
 * (sorted set of carts with lines, by last revalidation time). Carts expire in Redis without
 * telling the index, so every index key has a bounded life: each write refreshes its expiry to
 * the cart TTL (a set nobody wrote to for that long names only expired carts), entries of the open
 * set older than the cart TTL are trimmed on write, and a fan-out drops the expired carts it meets.
 * Reads are paged (SSCAN / ZSCAN), never one reply with the whole set.
 */
import type { RedisClient } from '../redis/connect.ts';
import { Keys } from '../keys.ts';

/** Cart ids per page of a scan (a COUNT hint: RedisClient may return a few more or fewer). */
export const SCAN_PAGE = 200;

/** Default life of an index key after its last write: the default cart TTL (30 days) plus a day. */
const DEFAULT_TTL_MS = 31 * 24 * 3600_000;

export class SkuIndex {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    /** How long an index entry may outlive its last write: at least the cart TTL. */
    private readonly ttlMs: number = DEFAULT_TTL_MS,
  ) {}

  private skuKey(sku: string): string {
    return new Keys(this.prefix).skuIndex(sku);
  }

  private get openKey(): string {
    return new Keys(this.prefix).openCarts;
  }

  /** The cart now holds exactly `skus` (it held `previous`). */
  async update(cartId: string, skus: readonly string[], previous: readonly string[]): Promise<void> {
    const now = new Set(skus);
    const ops: Array<Promise<unknown>> = [];
    for (const sku of now) ops.push(this.redis.sadd(this.skuKey(sku), cartId), this.redis.pexpire(this.skuKey(sku), this.ttlMs));
    for (const sku of previous) if (!now.has(sku)) ops.push(this.redis.srem(this.skuKey(sku), cartId));
    if (now.size > 0) {
      const at = Date.now();
      // A cart not revalidated for a whole cart TTL has had no change for that long: it expired.
      ops.push(this.redis.zadd(this.openKey, at, cartId), this.redis.zremrangebyscore(this.openKey, '-inf', `(${at - this.ttlMs}`), this.redis.pexpire(this.openKey, this.ttlMs));
    } else {
      ops.push(this.redis.zrem(this.openKey, cartId));
    }
    await Promise.all(ops);
  }

  /** The cart is gone (expired): forget it wherever it is listed. */
  async forget(cartId: string, skus: readonly string[] = []): Promise<void> {
    await Promise.all([this.redis.zrem(this.openKey, cartId), ...skus.map((sku) => this.redis.srem(this.skuKey(sku), cartId))]);
  }

  /** Carts listed under `sku`, a page at a time. */
  async *cartsWithSku(sku: string): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const [next, ids] = await this.redis.sscan(this.skuKey(sku), cursor, 'COUNT', SCAN_PAGE);
      cursor = next;
      if (ids.length > 0) yield ids;
    } while (cursor !== '0');
  }

  /** Every open cart, a page at a time. */
  async *openCarts(): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.zscan(this.openKey, cursor, 'COUNT', SCAN_PAGE);
      cursor = next;
      // ZSCAN answers member, score, member, score, …
      const ids = flat.filter((_, i) => i % 2 === 0);
      if (ids.length > 0) yield ids;
    } while (cursor !== '0');
  }
}
