/**
 * The built-in catalog in Redis: one hash of products keyed by SKU (JSON values), seeded from
 * seed.json for the embedded default. The admin API writes it; the built-in provider reads it.
 */
import { readFileSync } from 'node:fs';
import type { RedisClient } from '../redis/connect.ts';
import { Keys } from '../keys.ts';
import { type CatalogProduct, SKU_PATTERN } from '../../protocol/index.ts';

export type { CatalogProduct };

export function loadSeed(): CatalogProduct[] {
  return JSON.parse(readFileSync(new URL('./seed.json', import.meta.url), 'utf8')) as CatalogProduct[];
}

/**
 * One change of one product (see mergeProducts-1.lua). `set` fields overwrite; `prices` replaces
 * the price map when `replacePrices`, else merges per currency (null removes that currency).
 */
export interface ProductChange {
  sku: string;
  set: Partial<Pick<CatalogProduct, 'name' | 'category' | 'imageUrl' | 'stock'>>;
  prices?: Record<string, number | null>;
  replacePrices?: boolean;
}

/** A product before and after a change (`before: null`: it was created). */
export interface ProductWrite {
  before: CatalogProduct | null;
  after: CatalogProduct;
}

const MERGE_SCRIPT = {
  numberOfKeys: 1,
  lua: readFileSync(new URL('../redis/lua/mergeProducts-1.lua', import.meta.url), 'utf8'),
};

interface ScriptedRedis {
  mergeProducts(key: string, mode: 'put' | 'patch', ...changes: string[]): Promise<Array<number | string>>;
}

/** Stored JSON back to a product with a stable key order (Lua's cjson does not keep it). */
function parseProduct(raw: string): CatalogProduct {
  const p = JSON.parse(raw) as CatalogProduct;
  // cjson encodes an empty table as {}, but be strict about what we hand out.
  const prices = typeof p.prices === 'object' && p.prices !== null && !Array.isArray(p.prices) ? p.prices : {};
  return { sku: p.sku, name: p.name, prices, stock: p.stock, category: p.category, imageUrl: p.imageUrl ?? null };
}

export class CatalogStore {
  private readonly key: string;
  private readonly redis: RedisClient & ScriptedRedis;
  constructor(redis: RedisClient, prefix: string) {
    this.key = new Keys(prefix).catalog;
    const r = redis as RedisClient & Partial<ScriptedRedis>;
    if (typeof r.mergeProducts !== 'function') redis.defineCommand('mergeProducts', MERGE_SCRIPT);
    this.redis = redis as RedisClient & ScriptedRedis;
  }

  async list(): Promise<CatalogProduct[]> {
    const values = await this.redis.hvals(this.key);
    return values.map(parseProduct).sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
  }

  async get(sku: string): Promise<CatalogProduct | null> {
    if (!SKU_PATTERN.test(sku)) return null;
    const raw = await this.redis.hget(this.key, sku);
    return raw === null ? null : parseProduct(raw);
  }

  /** Every requested SKU mapped to its product or null (unknown or invalid SKU), in one HMGET. */
  async getMany(skus: readonly string[]): Promise<Map<string, CatalogProduct | null>> {
    const result = new Map<string, CatalogProduct | null>();
    const valid = [...new Set(skus)].filter((sku) => SKU_PATTERN.test(sku));
    for (const sku of skus) result.set(sku, null);
    if (valid.length === 0) return result;
    const values = await this.redis.hmget(this.key, ...valid);
    valid.forEach((sku, i) => {
      const raw = values[i];
      if (raw !== null && raw !== undefined) result.set(sku, parseProduct(raw));
    });
    return result;
  }

  /** Store whole products (replacing any with the same SKU). */
  async upsert(products: readonly CatalogProduct[]): Promise<void> {
    if (products.length === 0) return;
    await this.redis.hset(this.key, Object.fromEntries(products.map((p) => [p.sku, JSON.stringify(p)])));
  }

  /**
   * Apply `changes` atomically, all or nothing. 'put' creates missing products (the caller gives
   * every field a new product needs); 'patch' writes nothing and returns null when any is missing.
   */
  async merge(mode: 'put' | 'patch', changes: readonly ProductChange[]): Promise<ProductWrite[] | null> {
    if (changes.length === 0) return [];
    const reply = await this.redis.mergeProducts(this.key, mode, ...changes.map((c) => JSON.stringify({ ...c, replacePrices: c.replacePrices === true })));
    if (reply[0] !== 1) return null;
    const writes: ProductWrite[] = [];
    for (let i = 1; i + 1 < reply.length; i += 2) {
      const before = String(reply[i]);
      writes.push({ before: before === '' ? null : parseProduct(before), after: parseProduct(String(reply[i + 1])) });
    }
    return writes;
  }

  /** Remove a product; returns what was removed (null: there was no such product). One round trip. */
  async remove(sku: string): Promise<CatalogProduct | null> {
    if (!SKU_PATTERN.test(sku)) return null;
    const replies = await this.redis.multi().hget(this.key, sku).hdel(this.key, sku).exec();
    const raw = replies?.[0]?.[1];
    return typeof raw === 'string' ? parseProduct(raw) : null;
  }

  /** Seed `products` only when the catalog is empty (never overwrites a shop's own data). */
  async seedIfEmpty(products: readonly CatalogProduct[]): Promise<boolean> {
    if ((await this.redis.hlen(this.key)) > 0) return false;
    await this.upsert(products);
    return true;
  }
}
