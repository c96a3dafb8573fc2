/**
 * The admin catalog and pricing-rule API (server/rest/admin-catalog.ts, admin-rules.ts) and the
 * public catalog reads: every route, auth, strict validation, all-or-nothing bulk loads, and the
 * change sink hearing exactly what each change can affect.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ERRORS, type ErrorCode, type WireError } from '../protocol/index.ts';
import type { CatalogChangeSink, RulesChange } from '../core/catalog/change-sink.ts';
import { TEST_ADMIN_TOKEN, type TestNode, startNode } from './helpers/node.ts';

class RecordingSink implements CatalogChangeSink {
  products: string[][] = [];
  rules: RulesChange[] = [];
  productsChanged(skus: string[]): void {
    this.products.push(skus);
  }
  rulesChanged(change: RulesChange): void {
    this.rules.push(change);
  }
  clear(): void {
    this.products = [];
    this.rules = [];
  }
}

const sink = new RecordingSink();
let node: TestNode;
beforeAll(async () => {
  node = await startNode({}, undefined, { catalogSink: sink });
});
afterAll(async () => {
  await node.close();
});
beforeEach(() => sink.clear());

const admin = (method: string, path: string, body?: unknown) => node.request(method, path, { token: TEST_ADMIN_TOKEN, body });

function expectError(res: { status: number; body: unknown }, status: number, code: ErrorCode, detail?: string): void {
  const error = (res.body as { error?: Partial<WireError> } | null)?.error;
  expect({ status: res.status, code: error?.code }).toEqual({ status, code });
  expect(error).toMatchObject({ message: ERRORS[code].message, retryable: ERRORS[code].retryable });
  if (detail !== undefined) expect(error?.detail).toContain(detail);
}

const shoe = { name: 'Test shoe', price: { amount: 5000, currency: 'USD' }, stock: 7, category: 'shoes', imageUrl: 'https://img.example.com/a.jpg' };

describe('admin auth', () => {
  const routes: Array<[string, string, unknown]> = [
    ['PUT', '/v1/catalog/products/AUTH-1', shoe],
    ['PATCH', '/v1/catalog/products/AUTH-1', { stock: 1 }],
    ['DELETE', '/v1/catalog/products/AUTH-1', undefined],
    ['POST', '/v1/catalog/products/bulk', { products: [{ sku: 'AUTH-1', ...shoe }] }],
    ['GET', '/v1/pricing/rules', undefined],
    ['PUT', '/v1/pricing/promotions/p1', {}],
    ['DELETE', '/v1/pricing/coupons/C1', undefined],
    ['PUT', '/v1/pricing/price-lists/vip/USD', {}],
    ['DELETE', '/v1/pricing/volume-tiers/AUTH-1/USD/10', undefined],
    ['PUT', '/v1/pricing/tax/DE', {}],
    ['DELETE', '/v1/pricing/shipping/USD', undefined],
  ];

  it('every admin route needs the admin token (missing 401, wrong 401) and changes nothing without it', async () => {
    for (const [method, path, body] of routes) {
      expectError(await node.request(method, path, { body }), 401, 'E_AUTH_MISSING');
      expectError(await node.request(method, path, { body, token: 'x'.repeat(TEST_ADMIN_TOKEN.length) }), 401, 'E_AUTH_INVALID');
    }
    expect(await node.node.catalog.get('AUTH-1')).toBeNull();
    expect(sink.products).toEqual([]);
    expect(sink.rules).toEqual([]);
  });

  it('answers 403 when the admin API is disabled', async () => {
    const disabled = await startNode({ adminToken: null });
    try {
      for (const [method, path, body] of routes) expectError(await disabled.request(method, path, { body, token: TEST_ADMIN_TOKEN }), 403, 'E_AUTH_FORBIDDEN');
    } finally {
      await disabled.close();
    }
  });
});

describe('products', () => {
  it('PUT creates (201) then replaces (200); price sets one currency and keeps the others', async () => {
    const created = await admin('PUT', '/v1/catalog/products/PUT-1', shoe);
    expect(created.status).toBe(201);
    expect(created.body).toEqual({ sku: 'PUT-1', name: 'Test shoe', prices: { USD: 5000 }, stock: 7, category: 'shoes', imageUrl: 'https://img.example.com/a.jpg' });
    const eur = await admin('PUT', '/v1/catalog/products/PUT-1', { ...shoe, name: 'Renamed', price: { amount: 4600, currency: 'EUR' }, imageUrl: undefined });
    expect(eur.status).toBe(200);
    expect(eur.body).toEqual({ sku: 'PUT-1', name: 'Renamed', prices: { USD: 5000, EUR: 4600 }, stock: 7, category: 'shoes', imageUrl: null });
    const replaced = await admin('PUT', '/v1/catalog/products/PUT-1', { ...shoe, price: undefined, prices: { GBP: 4000 } });
    expect(replaced.body.prices).toEqual({ GBP: 4000 });
    expect(sink.products).toEqual([['PUT-1'], ['PUT-1'], ['PUT-1']]);
  });

  it('GET one product and the list carry price for ?currency= (default USD) and all prices', async () => {
    await admin('PUT', '/v1/catalog/products/GET-1', { ...shoe, price: undefined, prices: { USD: 1000, EUR: 900 } });
    await admin('PUT', '/v1/catalog/products/GET-2', { ...shoe, price: undefined, prices: { USD: 2000 } });
    const one = await node.request('GET', '/v1/catalog/products/GET-1');
    expect(one).toMatchObject({ status: 200, body: { sku: 'GET-1', price: { amount: 1000, currency: 'USD' }, prices: { USD: 1000, EUR: 900 } } });
    const oneEur = await node.request('GET', '/v1/catalog/products/GET-1?currency=EUR');
    expect(oneEur.body.price).toEqual({ amount: 900, currency: 'EUR' });

    const list = await node.request('GET', '/v1/catalog/products?currency=EUR');
    expect(list.status).toBe(200);
    const bySku = new Map<string, any>(list.body.products.map((p: any) => [p.sku, p]));
    expect(bySku.get('GET-1').price).toEqual({ amount: 900, currency: 'EUR' });
    expect(bySku.get('GET-2')).not.toHaveProperty('price');
    expect(bySku.get('GET-2').prices).toEqual({ USD: 2000 });
    const skus = list.body.products.map((p: { sku: string }) => p.sku);
    expect(skus).toEqual([...skus].sort());

    expectError(await node.request('GET', '/v1/catalog/products?currency=eur'), 400, 'E_VALIDATION', 'currency');
    expectError(await node.request('GET', '/v1/catalog/products/NOPE-1'), 404, 'E_PRODUCT_NOT_FOUND');
  });

  it('PATCH changes the given fields; prices merge and null removes a currency', async () => {
    await admin('PUT', '/v1/catalog/products/PATCH-1', { ...shoe, price: undefined, prices: { USD: 1000, EUR: 900 } });
    sink.clear();
    const stock = await admin('PATCH', '/v1/catalog/products/PATCH-1', { stock: 0 });
    expect(stock).toMatchObject({ status: 200, body: { stock: 0, prices: { USD: 1000, EUR: 900 }, name: 'Test shoe' } });
    const price = await admin('PATCH', '/v1/catalog/products/PATCH-1', { price: { amount: 1200, currency: 'USD' }, name: 'New name', category: 'boots', imageUrl: null });
    expect(price.body).toEqual({ sku: 'PATCH-1', name: 'New name', prices: { USD: 1200, EUR: 900 }, stock: 0, category: 'boots', imageUrl: null });
    const prices = await admin('PATCH', '/v1/catalog/products/PATCH-1', { prices: { EUR: null, GBP: 800 } });
    expect(prices.body.prices).toEqual({ USD: 1200, GBP: 800 });
    expect(await node.node.catalog.get('PATCH-1')).toEqual(prices.body);
    expect(sink.products).toEqual([['PATCH-1'], ['PATCH-1'], ['PATCH-1']]);

    expectError(await admin('PATCH', '/v1/catalog/products/MISSING-1', { stock: 1 }), 404, 'E_PRODUCT_NOT_FOUND');
    expect(await node.node.catalog.get('MISSING-1')).toBeNull();
    expect(sink.products).toHaveLength(3);
  });

  it('DELETE removes a product (204), then 404', async () => {
    await admin('PUT', '/v1/catalog/products/DEL-1', shoe);
    sink.clear();
    const del = await admin('DELETE', '/v1/catalog/products/DEL-1');
    expect(del.status).toBe(204);
    expect(await node.node.catalog.get('DEL-1')).toBeNull();
    expectError(await node.request('GET', '/v1/catalog/products/DEL-1'), 404, 'E_PRODUCT_NOT_FOUND');
    expectError(await admin('DELETE', '/v1/catalog/products/DEL-1'), 404, 'E_PRODUCT_NOT_FOUND');
    expect(sink.products).toEqual([['DEL-1']]);
  });

  it('rejects invalid bodies with E_VALIDATION naming the field, and stores nothing', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['PUT', 'BAD-1', { ...shoe, stock: -1 }, 'stock'],
      ['PUT', 'BAD-1', { ...shoe, stock: 1.5 }, 'stock'],
      ['PUT', 'BAD-1', { ...shoe, price: { amount: 10.5, currency: 'USD' } }, 'price.amount'],
      ['PUT', 'BAD-1', { ...shoe, price: { amount: 10, currency: 'usd' } }, 'price.currency'],
      ['PUT', 'BAD-1', { ...shoe, price: { amount: 10, currency: 'USD', extra: 1 } }, 'extra'],
      ['PUT', 'BAD-1', { ...shoe, price: undefined, prices: { US: 1 } }, 'prices'],
      ['PUT', 'BAD-1', { ...shoe, price: undefined, prices: { USD: null } }, 'prices.USD'],
      ['PUT', 'BAD-1', { ...shoe, price: undefined }, 'price'],
      ['PUT', 'BAD-1', { ...shoe, prices: { USD: 1 } }, 'not both'],
      ['PUT', 'BAD-1', { ...shoe, name: '' }, 'name'],
      ['PUT', 'BAD-1', { ...shoe, category: 'a b' }, 'category'],
      ['PUT', 'BAD-1', { ...shoe, imageUrl: 'ftp://x/y' }, 'imageUrl'],
      ['PUT', 'BAD-1', { ...shoe, color: 'red' }, 'color'],
      ['PUT', 'BAD-1', { ...shoe, sku: 'OTHER-1' }, 'sku'],
      ['PUT', 'BAD-1', [shoe], 'body'],
      ['PUT', '-bad', shoe, 'sku (in the path)'],
      ['PATCH', 'BAD-1', {}, 'at least one'],
      ['PATCH', 'BAD-1', { stock: '3' }, 'stock'],
      ['PATCH', 'BAD-1', { sku: 'BAD-1' }, 'sku'],
    ];
    for (const [method, sku, body, detail] of cases) {
      expectError(await admin(method, `/v1/catalog/products/${sku}`, body), 400, 'E_VALIDATION', detail);
    }
    expect(await node.node.catalog.get('BAD-1')).toBeNull();
    expect(sink.products).toEqual([]);
  });

  it('bulk upserts all products, or none when one entry is invalid', async () => {
    const products = ['BULK-1', 'BULK-2', 'BULK-3'].map((sku, i) => ({ sku, ...shoe, stock: i }));
    const ok = await admin('POST', '/v1/catalog/products/bulk', { products });
    expect(ok).toMatchObject({ status: 200, body: { upserted: 3, created: 3 } });
    expect(sink.products).toEqual([['BULK-1', 'BULK-2', 'BULK-3']]);
    expect((await node.node.catalog.get('BULK-3'))?.stock).toBe(2);

    sink.clear();
    const bad = [{ sku: 'BULK-1', ...shoe, stock: 50 }, { sku: 'BULK-4', ...shoe }, { sku: 'BULK-5', ...shoe, stock: -3 }];
    expectError(await admin('POST', '/v1/catalog/products/bulk', { products: bad }), 400, 'E_VALIDATION', 'products[2].stock');
    expect((await node.node.catalog.get('BULK-1'))?.stock).toBe(0);
    expect(await node.node.catalog.get('BULK-4')).toBeNull();

    expectError(await admin('POST', '/v1/catalog/products/bulk', { products: [products[0], products[0]] }), 400, 'E_VALIDATION', 'products[1].sku');
    expectError(await admin('POST', '/v1/catalog/products/bulk', { products: [] }), 400, 'E_VALIDATION', 'products');
    expectError(await admin('POST', '/v1/catalog/products/bulk', { products: [{ ...shoe }] }), 400, 'E_VALIDATION', 'products[0].sku');
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ sku: `M${i}`, name: 'm', prices: {}, stock: 1, category: 'c' }));
    expect(JSON.stringify({ products: tooMany }).length).toBeLessThan(node.config.maxJsonBytes);
    expectError(await admin('POST', '/v1/catalog/products/bulk', { products: tooMany }), 400, 'E_VALIDATION', 'products must be an array of 1-1000');
    expect((await admin('POST', '/v1/catalog/products/bulk', { products: tooMany.slice(0, 1000) })).body).toEqual({ upserted: 1000, created: 1000 });
    expect(sink.products.map((skus) => skus.length)).toEqual([1000]);
    sink.clear();
    expect(sink.products).toEqual([]);

    const updated = await admin('POST', '/v1/catalog/products/bulk', { products: [{ sku: 'BULK-1', ...shoe, price: { amount: 1, currency: 'EUR' } }, { sku: 'BULK-9', ...shoe }] });
    expect(updated.body).toEqual({ upserted: 2, created: 1 });
    expect((await node.node.catalog.get('BULK-1'))?.prices).toEqual({ USD: 5000, EUR: 1 });
  });
});

describe('pricing rules', () => {
  const promo = { name: 'Shoes 10 %', currency: 'USD', effect: { kind: 'percent_off', percent: 10, target: { category: 'shoes' } } };

  it('PUT, GET and DELETE every rule kind, with the version moving on each change', async () => {
    const v0 = (await admin('GET', '/v1/pricing/rules')).body.version as number;
    const puts: Array<[string, unknown, unknown]> = [
      ['/v1/pricing/promotions/shoes-10', promo, { id: 'shoes-10', ...promo, startsAt: null, endsAt: null }],
      [
        '/v1/pricing/coupons/welcome5',
        { name: 'Welcome', currency: 'USD', effect: { kind: 'amount_off', amount: 500, target: { cartOver: 2500 } }, usageLimit: 100 },
        { code: 'WELCOME5', name: 'Welcome', currency: 'USD', effect: { kind: 'amount_off', amount: 500, target: { cartOver: 2500 } }, startsAt: null, endsAt: null, usageLimit: 100, used: 0 },
      ],
      ['/v1/pricing/price-lists/vip/USD', { prices: { 'SHOE-1': 4000 } }, { segment: 'vip', currency: 'USD', prices: { 'SHOE-1': 4000 } }],
      ['/v1/pricing/volume-tiers/SOCK-1/USD/10', { unitPrice: 900 }, { sku: 'SOCK-1', currency: 'USD', minQuantity: 10, unitPrice: 900 }],
      ['/v1/pricing/tax/US-CA', { rateBps: 725, inclusive: false }, { region: 'US-CA', rateBps: 725, inclusive: false }],
      ['/v1/pricing/shipping/USD', { flat: 599, freeOver: 7500 }, { currency: 'USD', flat: 599, freeOver: 7500 }],
    ];
    for (const [path, body, stored] of puts) {
      const res = await admin('PUT', path, body);
      expect({ path, status: res.status, body: res.body }).toEqual({ path, status: 201, body: stored });
      expect((await admin('PUT', path, body)).status).toBe(200);
    }
    const read = await admin('GET', '/v1/pricing/rules');
    expect(read.status).toBe(200);
    expect(read.body.version).toBe(v0 + puts.length * 2);
    expect(read.body.rules).toEqual({
      promotions: [puts[0]![2]],
      coupons: [puts[1]![2]],
      priceLists: [puts[2]![2]],
      volumeTiers: [puts[3]![2]],
      taxRules: [puts[4]![2]],
      shipping: [puts[5]![2]],
    });
    for (const [path] of puts) {
      expect((await admin('DELETE', path)).status).toBe(204);
      expectError(await admin('DELETE', path), 404, 'E_RULE_NOT_FOUND');
    }
    expect((await admin('GET', '/v1/pricing/rules')).body.rules).toEqual({ promotions: [], coupons: [], priceLists: [], volumeTiers: [], taxRules: [], shipping: [] });
  });

  it('tells the sink what each rule change can affect (old and new targets)', async () => {
    await admin('PUT', '/v1/pricing/promotions/cat', promo);
    await admin('PUT', '/v1/pricing/promotions/cat', { ...promo, effect: { kind: 'percent_off', percent: 5, target: { sku: 'HAT-1' } } });
    await admin('PUT', '/v1/pricing/promotions/b2g1', { ...promo, effect: { kind: 'buy_x_get_y', buySku: 'A-1', buyQuantity: 2, getSku: 'B-1', getQuantity: 1, percentOff: 100 } });
    await admin('PUT', '/v1/pricing/coupons/CART5', { ...promo, effect: { kind: 'percent_off', percent: 5, target: { cartOver: 0 } } });
    await admin('PUT', '/v1/pricing/price-lists/staff/EUR', { prices: { 'X-1': 1, 'X-2': 2 } });
    await admin('PUT', '/v1/pricing/price-lists/staff/EUR', { prices: { 'X-2': 3, 'X-3': 4 } });
    await admin('PUT', '/v1/pricing/volume-tiers/V-1/EUR/5', { unitPrice: 10 });
    await admin('PUT', '/v1/pricing/tax/DE', { rateBps: 1900, inclusive: true });
    await admin('PUT', '/v1/pricing/shipping/EUR', { flat: 499, freeOver: null });
    await admin('DELETE', '/v1/pricing/promotions/cat');
    await admin('DELETE', '/v1/pricing/volume-tiers/V-1/EUR/5');
    expect(sink.rules).toEqual([
      { categories: ['shoes'] },
      { skus: ['HAT-1'], categories: ['shoes'] },
      { skus: ['A-1', 'B-1'] },
      { all: true },
      { skus: ['X-1', 'X-2'] },
      { skus: ['X-2', 'X-3', 'X-1'] },
      { skus: ['V-1'] },
      { all: true },
      { all: true },
      { skus: ['HAT-1'] },
      { skus: ['V-1'] },
    ]);
    // Nothing stored, nothing announced.
    await admin('DELETE', '/v1/pricing/tax/FR');
    expect(sink.rules).toHaveLength(11);
  });

  it('coupon codes are case-insensitive in the path and an edit keeps the used count', async () => {
    const body = { name: 'Ten', currency: 'USD', effect: { kind: 'percent_off', percent: 10, target: { cartOver: 0 } } };
    await admin('PUT', '/v1/pricing/coupons/Ten', { ...body, used: 3 });
    const edited = await admin('PUT', '/v1/pricing/coupons/TEN', { ...body, name: 'Ten again', code: 'ten' });
    expect(edited).toMatchObject({ status: 200, body: { code: 'TEN', name: 'Ten again', used: 3 } });
    expect((await admin('DELETE', '/v1/pricing/coupons/ten')).status).toBe(204);
  });

  it('rejects invalid rules with E_VALIDATION naming the field, and stores nothing', async () => {
    const eff = promo.effect;
    const cases: Array<[string, unknown, string]> = [
      ['/v1/pricing/promotions/p1', { ...promo, effect: { ...eff, percent: 101 } }, 'effect.percent'],
      ['/v1/pricing/promotions/p1', { ...promo, effect: { ...eff, kind: 'free_lunch' } }, 'effect.kind'],
      ['/v1/pricing/promotions/p1', { ...promo, effect: { ...eff, target: { sku: 'A', category: 'b' } } }, 'effect.target'],
      ['/v1/pricing/promotions/p1', { ...promo, effect: { ...eff, target: { cartOver: -1 } } }, 'effect.target.cartOver'],
      ['/v1/pricing/promotions/p1', { ...promo, effect: { kind: 'amount_off', amount: 1.5, target: { sku: 'A' } } }, 'effect.amount'],
      ['/v1/pricing/promotions/p1', { ...promo, currency: 'US' }, 'currency'],
      ['/v1/pricing/promotions/p1', { ...promo, id: 'p2' }, 'id'],
      ['/v1/pricing/promotions/p1', { ...promo, startsAt: 100, endsAt: 50 }, 'endsAt'],
      ['/v1/pricing/promotions/p1', { ...promo, priority: 1 }, 'priority'],
      ['/v1/pricing/promotions/p%201', promo, 'id (in the path)'],
      ['/v1/pricing/coupons/C1', { ...promo, usageLimit: -1 }, 'usageLimit'],
      ['/v1/pricing/coupons/C%201', promo, 'code (in the path)'],
      ['/v1/pricing/price-lists/vip/USD', { prices: { 'A-1': -5 } }, 'prices.A-1'],
      ['/v1/pricing/price-lists/vip/USD', { prices: { '-x': 5 } }, 'prices key'],
      ['/v1/pricing/price-lists/vip/usd', { prices: {} }, 'currency (in the path)'],
      ['/v1/pricing/volume-tiers/A-1/USD/0', { unitPrice: 1 }, 'minQuantity'],
      ['/v1/pricing/volume-tiers/A-1/USD/10', { unitPrice: 1, minQuantity: 5 }, 'minQuantity'],
      ['/v1/pricing/tax/DE', { rateBps: 10001, inclusive: true }, 'rateBps'],
      ['/v1/pricing/tax/DE', { rateBps: 100, inclusive: 'yes' }, 'inclusive'],
      ['/v1/pricing/tax/germany', { rateBps: 100, inclusive: true }, 'region'],
      ['/v1/pricing/shipping/USD', { flat: 100, freeOver: -1 }, 'freeOver'],
      ['/v1/pricing/shipping/USD', { flat: '100' }, 'flat'],
    ];
    const before = (await admin('GET', '/v1/pricing/rules')).body;
    for (const [path, body, detail] of cases) expectError(await admin('PUT', path, body), 400, 'E_VALIDATION', detail);
    expect((await admin('GET', '/v1/pricing/rules')).body).toEqual(before);
    expect(sink.rules).toEqual([]);
  });
});
