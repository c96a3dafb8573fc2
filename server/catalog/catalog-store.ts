/**
 * The built-in catalog in Redis: one hash of products keyed by SKU (JSON values), seeded from
 * seed.json for the embedded default. The admin API and price/stock corrections build on it.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { type Money, SKU_PATTERN } from '../../protocol/index.ts';

export interface Product {
  sku: string;
  name: string;
  price: Money;
  stock: number;
  category: string;
  imageUrl: string | null;
}

export function loadSeed(): Product[] {
  return JSON.parse(readFileSync(new URL('./seed.json', import.meta.url), 'utf8')) as Product[];
}

export class CatalogStore {
  private readonly key: string;
  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.key = `${prefix}:catalog:products`;
  }

  async list(): Promise<Product[]> {
    const values = await this.redis.hvals(this.key);
    return values.map((v) => JSON.parse(v) as Product).sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
  }

  async get(sku: string): Promise<Product | null> {
    if (!SKU_PATTERN.test(sku)) return null;
    const raw = await this.redis.hget(this.key, sku);
    return raw === null ? null : (JSON.parse(raw) as Product);
  }

  async upsert(products: readonly Product[]): Promise<void> {
    if (products.length === 0) return;
    await this.redis.hset(this.key, Object.fromEntries(products.map((p) => [p.sku, JSON.stringify(p)])));
  }

  /** Seed `products` only when the catalog is empty (never overwrites a shop's own data). */
  async seedIfEmpty(products: readonly Product[]): Promise<boolean> {
    if ((await this.redis.hlen(this.key)) > 0) return false;
    await this.upsert(products);
    return true;
  }
}
