/**
 * RulesStore (core/catalog/rules-store.ts) against real Redis: round trips of every rule kind,
 * the version counter, getCached re-reading only when the version moved, and the seed.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { EMPTY_RULES, type PricingRules } from '../protocol/index.ts';
import { CatalogStore, loadSeed } from '../core/catalog/catalog-store.ts';
import { RulesStore, loadRulesSeed } from '../core/catalog/rules-store.ts';
import { uniquePrefix } from './helpers/node.ts';

let redis: Redis;
beforeAll(() => {
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 2 });
});
afterAll(() => {
  redis.disconnect();
});

const sample: PricingRules = {
  priceLists: [{ segment: 'vip', currency: 'USD', prices: { 'A-1': 900 } }],
  volumeTiers: [
    { sku: 'A-1', currency: 'USD', minQuantity: 10, unitPrice: 800 },
    { sku: 'A-1', currency: 'USD', minQuantity: 5, unitPrice: 850 },
  ],
  promotions: [{ id: 'p1', name: 'P', currency: 'USD', effect: { kind: 'percent_off', percent: 10, target: { category: 'shoes' } }, startsAt: null, endsAt: 2e12 }],
  coupons: [{ code: 'SAVE5', name: 'S', currency: 'USD', effect: { kind: 'amount_off', amount: 500, target: { cartOver: 0 } }, startsAt: null, endsAt: null, usageLimit: 10, used: 2 }],
  taxRules: [{ region: 'DE', rateBps: 1900, inclusive: true }],
  shipping: [{ currency: 'USD', flat: 599, freeOver: null }],
};

/** Records the names of the commands a real connection sends (they still go to Redis). */
function countCommands(conn: Redis): { count: () => number; names: string[] } {
  const names: string[] = [];
  const original = conn.sendCommand.bind(conn);
  conn.sendCommand = ((command: { name: string }, stream?: unknown) => {
    names.push(command.name);
    return original(command as never, stream as never);
  }) as typeof conn.sendCommand;
  return { count: () => names.length, names };
}

describe('RulesStore', () => {
  it('starts empty at version 0', async () => {
    const store = new RulesStore(redis, uniquePrefix());
    expect(await store.read()).toEqual({ version: 0, rules: EMPTY_RULES });
  });

  it('upserts, reads back and removes every kind; each change moves the version', async () => {
    const store = new RulesStore(redis, uniquePrefix());
    let version = 0;
    for (const kind of Object.keys(sample) as Array<keyof PricingRules>) {
      for (const rule of sample[kind]) {
        expect(await store.upsert(kind, rule)).toBeNull();
        expect(await store.version()).toBe(++version);
      }
    }
    const read = await store.read();
    expect(read.version).toBe(version);
    // Sorted by identity within a kind: the 10-unit tier sorts before the 5-unit one ("10" < "5").
    expect(read.rules).toEqual(sample);
    expect(await store.get()).toEqual(sample);

    const replaced = { ...sample.taxRules[0]!, rateBps: 700 };
    expect(await store.upsert('taxRules', replaced)).toEqual(sample.taxRules[0]);
    expect((await store.get()).taxRules).toEqual([replaced]);

    expect(await store.remove('volumeTiers', { sku: 'A-1', currency: 'USD', minQuantity: 5 })).toEqual(sample.volumeTiers[1]);
    expect(await store.remove('volumeTiers', { sku: 'A-1', currency: 'USD', minQuantity: 5 })).toBeNull();
    expect(await store.remove('coupons', { code: 'save5' })).toEqual(sample.coupons[0]);
    expect(await store.find('promotions', { id: 'p1' })).toEqual(sample.promotions[0]);
    const after = await store.get();
    expect(after.volumeTiers).toEqual([sample.volumeTiers[0]]);
    expect(after.coupons).toEqual([]);
  });

  it('stores coupon codes upper case', async () => {
    const store = new RulesStore(redis, uniquePrefix());
    await store.upsert('coupons', { ...sample.coupons[0]!, code: 'lower' });
    expect((await store.get()).coupons.map((c) => c.code)).toEqual(['LOWER']);
    expect(await store.find('coupons', { code: 'Lower' })).toMatchObject({ code: 'LOWER' });
  });

  it('get() is one round trip (a MULTI)', async () => {
    const conn = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 2 });
    try {
      const store = new RulesStore(conn, uniquePrefix());
      await store.upsert('shipping', sample.shipping[0]!);
      await conn.ping();
      const counter = countCommands(conn);
      await store.get();
      expect(counter.names).toEqual(['multi', 'get', 'hgetall', 'hgetall', 'hgetall', 'hgetall', 'hgetall', 'hgetall', 'exec']);
    } finally {
      conn.disconnect();
    }
  });

  it('getCached reads only the version while nothing changed, and re-reads after a change from anyone', async () => {
    const prefix = uniquePrefix();
    const conn = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 2 });
    try {
      const reader = new RulesStore(conn, prefix);
      const writer = new RulesStore(redis, prefix);
      await writer.upsert('taxRules', sample.taxRules[0]!);
      await conn.ping();
      const counter = countCommands(conn);
      const first = await reader.getCached();
      expect(first.taxRules).toEqual(sample.taxRules);
      const afterFirst = counter.count();
      expect(await reader.getCached()).toBe(first);
      expect(await reader.getCached()).toBe(first);
      expect(counter.names.slice(afterFirst)).toEqual(['get', 'get']);

      await writer.upsert('shipping', sample.shipping[0]!);
      const fresh = await reader.getCached();
      expect(fresh).not.toBe(first);
      expect(fresh.shipping).toEqual(sample.shipping);
      expect(await reader.getCached()).toBe(fresh);

      await writer.remove('taxRules', { region: 'DE' });
      expect((await reader.getCached()).taxRules).toEqual([]);
    } finally {
      conn.disconnect();
    }
  });

  it('seeds once: not again after the rules were changed or emptied', async () => {
    const store = new RulesStore(redis, uniquePrefix());
    const seed = loadRulesSeed();
    expect(await store.seedIfEmpty(seed)).toBe(true);
    const rules = await store.get();
    expect(rules.coupons).toEqual([expect.objectContaining({ code: 'SPRING10', effect: { kind: 'percent_off', percent: 10, target: { cartOver: 0 } } })]);
    expect(rules.promotions).toEqual([expect.objectContaining({ effect: expect.objectContaining({ kind: 'buy_x_get_y', buySku: 'SOCK-3PK', buyQuantity: 2, getQuantity: 1, percentOff: 100 }) })]);
    expect(rules.taxRules).toEqual([
      { region: 'DE', rateBps: 1900, inclusive: true },
      { region: 'US-CA', rateBps: 725, inclusive: false },
    ]);
    expect(rules.shipping).toEqual([{ currency: 'USD', flat: 599, freeOver: 7500 }]);
    await store.remove('coupons', { code: 'SPRING10' });
    expect(await store.seedIfEmpty(seed)).toBe(false);
    expect((await store.get()).coupons).toEqual([]);
  });

  it('the seeded rules name SKUs of the seeded catalog', async () => {
    const skus = new Set(loadSeed().map((p) => p.sku));
    const seed = loadRulesSeed();
    for (const p of seed.promotions ?? []) if (p.effect.kind === 'buy_x_get_y') expect(skus.has(p.effect.buySku) && skus.has(p.effect.getSku)).toBe(true);
    // And the catalog seed is in the CatalogProduct shape.
    const catalog = new CatalogStore(redis, uniquePrefix());
    expect(await catalog.seedIfEmpty(loadSeed())).toBe(true);
    expect(await catalog.get('SOCK-3PK')).toMatchObject({ sku: 'SOCK-3PK', prices: { USD: 1499 }, category: 'apparel' });
  });
});
