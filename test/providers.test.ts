/**
 * Catalog providers (core/providers/): the built-in one over the Redis catalog, and the HTTP one
 * against real local services that answer, hang, fail with 5xx or stop — retries, the circuit
 * breaker, and degrading to unverified prices/stock instead of failing.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CatalogProduct } from '../protocol/index.ts';
import { CatalogStore } from '../core/catalog/catalog-store.ts';
import { BuiltinCatalogProvider } from '../core/providers/builtin.ts';
import { HttpCatalogProvider, type HttpProviderOptions } from '../core/providers/http.ts';
import { uniquePrefix } from './helpers/node.ts';
import { type PricedProduct, ServiceServer, inventoryService, pricingService } from './helpers/shop-services.ts';
import { waitFor } from './helpers/wait.ts';

let redis: Redis;
let prefix: string;
let catalog: CatalogStore;
let builtin: BuiltinCatalogProvider;

const local: CatalogProduct[] = [
  { sku: 'SHOE-1', name: 'Local shoe', prices: { USD: 5000 }, stock: 4, category: 'shoes', imageUrl: null },
  { sku: 'HAT-1', name: 'Local hat', prices: { USD: 1500, EUR: 1400 }, stock: 0, category: 'hats', imageUrl: null },
];

beforeAll(async () => {
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 2 });
  prefix = uniquePrefix();
  catalog = new CatalogStore(redis, prefix);
  await catalog.upsert(local);
  builtin = new BuiltinCatalogProvider(catalog);
});
afterAll(() => {
  redis.disconnect();
});

describe('built-in provider', () => {
  it('maps the catalog to facts; unknown and invalid SKUs are null', async () => {
    const facts = await builtin.lookup(['SHOE-1', 'HAT-1', 'NOPE-1', '-invalid', 'SHOE-1']);
    expect([...facts.keys()]).toEqual(['SHOE-1', 'HAT-1', 'NOPE-1', '-invalid']);
    expect(facts.get('SHOE-1')).toEqual({ name: 'Local shoe', category: 'shoes', prices: { USD: 5000 }, stock: 4 });
    expect(facts.get('HAT-1')).toEqual({ name: 'Local hat', category: 'hats', prices: { USD: 1500, EUR: 1400 }, stock: 0 });
    expect(facts.get('NOPE-1')).toBeNull();
    expect(facts.get('-invalid')).toBeNull();
    expect((await builtin.lookup([])).size).toBe(0);
  });

  it('reads many products with one HMGET', async () => {
    const conn = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 2 });
    try {
      const store = new CatalogStore(conn, prefix);
      await conn.ping();
      const names: string[] = [];
      const send = conn.sendCommand.bind(conn);
      conn.sendCommand = ((command: { name: string }, stream?: unknown) => {
        names.push(command.name);
        return send(command as never, stream as never);
      }) as typeof conn.sendCommand;
      const many = await store.getMany(['SHOE-1', 'HAT-1', 'NOPE-1']);
      expect([...many.values()].map((p) => p?.name ?? null)).toEqual(['Local shoe', 'Local hat', null]);
      expect(names).toEqual(['hmget']);
    } finally {
      conn.disconnect();
    }
  });
});

describe('HTTP provider', () => {
  const remote = new Map<string, PricedProduct>([
    ['SHOE-1', { name: 'Remote shoe', category: 'shoes', prices: { USD: 4800, EUR: 4500 } }],
    ['REMOTE-ONLY', { name: 'Remote only', category: 'misc', prices: { USD: 100 } }],
  ]);
  const stock = new Map([
    ['SHOE-1', 9],
    ['REMOTE-ONLY', -2],
  ]);
  const servers: ServiceServer[] = [];
  const start = async (server: ServiceServer): Promise<ServiceServer> => {
    servers.push(server);
    return server.start();
  };
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });
  const provider = (options: Partial<HttpProviderOptions>): HttpCatalogProvider =>
    new HttpCatalogProvider({ fallback: builtin, timeoutMs: 300, backoffMs: 5, cooldownMs: 60_000, ...options });

  it('takes prices from the pricing service and stock from the inventory service', async () => {
    const pricing = await start(pricingService(remote));
    const inventory = await start(inventoryService(stock));
    const p = provider({ pricingUrl: pricing.url, inventoryUrl: inventory.url });
    const facts = await p.lookup(['SHOE-1', 'REMOTE-ONLY', 'HAT-1', 'SHOE-1'], { currency: 'EUR' });
    expect(facts.get('SHOE-1')).toEqual({ name: 'Remote shoe', category: 'shoes', prices: { USD: 4800, EUR: 4500 }, stock: 9 });
    // Negative stock counts as none; the remote catalog decides what exists (HAT-1 is only local).
    expect(facts.get('REMOTE-ONLY')).toEqual({ name: 'Remote only', category: 'misc', prices: { USD: 100 }, stock: 0 });
    expect(facts.get('HAT-1')).toBeNull();
    expect(pricing.requests).toEqual([{ skus: ['SHOE-1', 'REMOTE-ONLY', 'HAT-1'], currency: 'EUR' }]);
    expect(inventory.requests).toEqual([{ skus: ['SHOE-1', 'REMOTE-ONLY', 'HAT-1'] }]);
  });

  it('a SKU the inventory service does not list has none to sell; a part without a URL comes from the built-in catalog', async () => {
    const inventory = await start(inventoryService(new Map()));
    const onlyInventory = provider({ inventoryUrl: inventory.url });
    expect(await onlyInventory.lookup(['SHOE-1', 'NOPE-1'])).toEqual(
      new Map([
        ['SHOE-1', { name: 'Local shoe', category: 'shoes', prices: { USD: 5000 }, stock: 0 }],
        ['NOPE-1', null],
      ]),
    );
    const pricing = await start(pricingService(remote));
    const onlyPricing = provider({ pricingUrl: pricing.url });
    const facts = await onlyPricing.lookup(['SHOE-1', 'REMOTE-ONLY']);
    expect(facts.get('SHOE-1')).toEqual({ name: 'Remote shoe', category: 'shoes', prices: { USD: 4800, EUR: 4500 }, stock: 4 });
    // Known remotely but not locally: nobody can vouch for its stock.
    expect(facts.get('REMOTE-ONLY')).toMatchObject({ prices: { USD: 100 }, stock: null });
  });

  it('a pricing service slower than the timeout is retried, then prices are unverified (names from the built-in catalog)', async () => {
    const pricing = await start(pricingService(remote));
    pricing.mode = { kind: 'slow', delayMs: 2000 };
    const inventory = await start(inventoryService(stock));
    const p = provider({ pricingUrl: pricing.url, inventoryUrl: inventory.url, timeoutMs: 100, retries: 2 });
    const startedAt = Date.now();
    const facts = await p.lookup(['SHOE-1', 'REMOTE-ONLY']);
    expect(Date.now() - startedAt).toBeLessThan(1500);
    expect(pricing.requests).toHaveLength(3);
    expect(facts.get('SHOE-1')).toEqual({ name: 'Local shoe', category: 'shoes', prices: null, stock: 9 });
    // Unknown to the built-in catalog too: unverified rather than unknown, named by its SKU.
    expect(facts.get('REMOTE-ONLY')).toEqual({ name: 'REMOTE-ONLY', category: '', prices: null, stock: 0 });
    expect(p.state('pricing')).toBe('closed');
  });

  it('5xx answers open the breaker after 5 failed attempts; while open nothing is sent; a probe after the cooldown closes it', async () => {
    const pricing = await start(pricingService(remote));
    pricing.mode = { kind: 'status', status: 503 };
    const p = provider({ pricingUrl: pricing.url, retries: 2, cooldownMs: 300 });

    expect((await p.lookup(['SHOE-1'])).get('SHOE-1')?.prices).toBeNull();
    expect(pricing.requests).toHaveLength(3);
    expect(p.state()).toBe('closed');
    expect((await p.lookup(['SHOE-1'])).get('SHOE-1')?.prices).toBeNull();
    expect(pricing.requests).toHaveLength(5);
    expect(p.state()).toBe('open');
    for (let i = 0; i < 5; i++) expect((await p.lookup(['SHOE-1'])).get('SHOE-1')).toEqual({ name: 'Local shoe', category: 'shoes', prices: null, stock: 4 });
    expect(pricing.requests).toHaveLength(5);

    // Still failing when the probe goes out: one request, open again.
    await waitFor(() => expect(p.state()).toBe('half-open'));
    await p.lookup(['SHOE-1']);
    expect(pricing.requests).toHaveLength(6);
    expect(p.state()).toBe('open');

    pricing.mode = { kind: 'ok' };
    await waitFor(() => expect(p.state()).toBe('half-open'));
    // Concurrent lookups in half-open: only one probe goes out.
    const [a, b] = await Promise.all([p.lookup(['SHOE-1']), p.lookup(['SHOE-1'])]);
    expect(pricing.requests).toHaveLength(7);
    expect(p.state()).toBe('closed');
    expect([a.get('SHOE-1')?.prices, b.get('SHOE-1')?.prices]).toContainEqual({ USD: 4800, EUR: 4500 });
    expect((await p.lookup(['SHOE-1'])).get('SHOE-1')?.prices).toEqual({ USD: 4800, EUR: 4500 });
    expect(pricing.requests).toHaveLength(8);
  });

  it('4xx answers and malformed bodies are not retried and do not count against the breaker', async () => {
    const pricing = await start(pricingService(remote));
    pricing.mode = { kind: 'status', status: 401 };
    const p = provider({ pricingUrl: pricing.url, retries: 2, failureThreshold: 1 });
    expect((await p.lookup(['SHOE-1'])).get('SHOE-1')?.prices).toBeNull();
    expect(pricing.requests).toHaveLength(1);
    expect(p.state()).toBe('closed');

    const broken = await start(new ServiceServer(() => ({ products: [{ sku: 'SHOE-1', prices: { USD: 1.5 } }] })));
    const q = provider({ pricingUrl: broken.url, retries: 2, failureThreshold: 1 });
    expect((await q.lookup(['SHOE-1'])).get('SHOE-1')).toEqual({ name: 'Local shoe', category: 'shoes', prices: null, stock: 4 });
    expect(broken.requests).toHaveLength(1);
    expect(q.state()).toBe('closed');
  });

  it('inventory down, pricing up: only stock is unverified', async () => {
    const pricing = await start(pricingService(remote));
    const inventory = await start(inventoryService(stock));
    const p = provider({ pricingUrl: pricing.url, inventoryUrl: inventory.url, retries: 1 });
    expect((await p.lookup(['SHOE-1'])).get('SHOE-1')?.stock).toBe(9);
    const seen = inventory.requests.length;
    await inventory.stop();
    const facts = await p.lookup(['SHOE-1', 'REMOTE-ONLY', 'HAT-1']);
    expect(facts.get('SHOE-1')).toEqual({ name: 'Remote shoe', category: 'shoes', prices: { USD: 4800, EUR: 4500 }, stock: null });
    expect(facts.get('REMOTE-ONLY')).toEqual({ name: 'Remote only', category: 'misc', prices: { USD: 100 }, stock: null });
    expect(facts.get('HAT-1')).toBeNull();
    expect(inventory.requests).toHaveLength(seen);
    expect(p.state('inventory')).toBe('closed');
    expect(p.state('pricing')).toBe('closed');
  });

  it('rejects bad options loudly', () => {
    expect(() => new HttpCatalogProvider({ fallback: null, pricingUrl: 'http://127.0.0.1:1/' })).toThrow(/fallback/);
    expect(() => provider({ pricingUrl: 'ftp://127.0.0.1/' })).toThrow(/pricingUrl/);
    expect(() => provider({ timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => provider({ retries: -1 })).toThrow(/retries/);
  });
});
