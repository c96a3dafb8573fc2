/**
 * Which open carts hold which SKUs, so a catalog change revalidates exactly the carts it affects.
 * Kept current by the revalidation worker (it knows each cart's lines after every change); entries
 * of carts that expired are dropped when a fan-out finds them gone.
 *
 * Keys: `{prefix}:idx:sku:{SKU}` (set of cart ids, one slot per SKU) and `{prefix}:idx:open`
 * (sorted set of carts with lines, by last revalidation time).
 */
import type { Redis } from 'ioredis';
import { Keys } from '../keys.ts';

export class SkuIndex {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
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
    for (const sku of now) ops.push(this.redis.sadd(this.skuKey(sku), cartId));
    for (const sku of previous) if (!now.has(sku)) ops.push(this.redis.srem(this.skuKey(sku), cartId));
    ops.push(now.size > 0 ? this.redis.zadd(this.openKey, Date.now(), cartId) : this.redis.zrem(this.openKey, cartId));
    await Promise.all(ops);
  }

  /** The cart is gone (expired): forget it wherever it is listed. */
  async forget(cartId: string, skus: readonly string[] = []): Promise<void> {
    await Promise.all([this.redis.zrem(this.openKey, cartId), ...skus.map((sku) => this.redis.srem(this.skuKey(sku), cartId))]);
  }

  async cartsWithSku(sku: string): Promise<string[]> {
    return this.redis.smembers(this.skuKey(sku));
  }

  async openCarts(): Promise<string[]> {
    return this.redis.zrange(this.openKey, '0', '-1');
  }
}
