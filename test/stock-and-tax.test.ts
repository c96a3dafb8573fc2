/**
 * Stock shared by a SKU's lines and the tax region, end to end: a real node, real workers, the
 * client library. What the worker writes is what every device sees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveCartConnection } from '../client/index.ts';
import { loadSeed } from '../core/catalog/catalog-store.ts';
import { TEST_ADMIN_TOKEN, type TestNode, startNode } from './helpers/node.ts';
import { type TestWorkers, startTestWorkers } from './helpers/workers.ts';

let node: TestNode;
let workers: TestWorkers;
const conns: LiveCartConnection[] = [];

beforeAll(async () => {
  node = await startNode({ socketRatePerSecond: 10_000, socketBurst: 10_000 });
  await node.node.catalog.seedIfEmpty(loadSeed());
  workers = startTestWorkers(node);
});
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()));
  await workers.close();
  await node.close();
});

const admin = (method: string, path: string, body?: unknown) => node.request(method, path, { token: TEST_ADMIN_TOKEN, body });

function connect(token: string): LiveCartConnection {
  const c = new LiveCartConnection({ url: node.url, token, device: 'phone', retryMinMs: 20, retryMaxMs: 200 });
  conns.push(c);
  return c;
}

describe('stock across lines', () => {
  it('hole 5: two lines of one SKU (2 + 2, stock 3) are clamped against the SKU total, the later line warned', async () => {
    expect((await admin('PUT', '/v1/catalog/products/TEE-SIZES-01', { name: 'Tee', price: { amount: 1500, currency: 'USD' }, stock: 3, category: 'tees' })).status).toBe(201);
    const { cartId, token } = await node.createCart();
    const h = await connect(token).open(cartId);
    const first = h.add({ sku: 'TEE-SIZES-01', quantity: 2, options: { size: 'M' } });
    await h.whenPriced();
    const second = h.add({ sku: 'TEE-SIZES-01', quantity: 2, options: { size: 'L' } });
    const view = await h.whenPriced();
    const byId = (id: string) => view.lines.find((l) => l.lineId === id);
    expect(byId(first)).toMatchObject({ quantity: 2, available: 3, warnings: [], lineTotal: { amount: 3000 } });
    expect(byId(second)).toMatchObject({ quantity: 1, available: 1, lineTotal: { amount: 1500 } });
    expect(byId(second)?.warnings).toEqual([
      {
        code: 'INSUFFICIENT_STOCK',
        message: 'Only 3 left and 2 are in another line of your cart; we changed the quantity from 2 to 1.',
        data: { requested: 2, available: 1, inOtherLines: 2 },
      },
    ]);
    expect(view.totals?.subtotal.amount).toBe(4500);
    // The clamp is in the document: the REST view (another reader) agrees.
    const rest = await node.request('GET', `/v1/carts/${cartId}`, { token });
    expect(rest.body.lines.map((l: { quantity: number }) => l.quantity)).toEqual([2, 1]);
  });
});

describe('tax region', () => {
  it('hole 9: a customer setting the cart attribute `region` does not change the tax of a US-CA token (stays 1305)', async () => {
    expect((await admin('PUT', '/v1/pricing/tax/US-CA', { rateBps: 725, inclusive: false })).status).toBeLessThan(300);
    expect((await admin('PUT', '/v1/catalog/products/LAMP-TAX-01', { name: 'Lamp', price: { amount: 18000, currency: 'USD' }, stock: 50, category: 'home' })).status).toBe(201);
    const { cartId } = await node.createCart();
    const minted = await admin('POST', '/v1/auth/tokens', { subject: 'cal-1', role: 'customer', carts: [cartId], region: 'US-CA' });
    const h = await connect(minted.body.token as string).open(cartId);
    h.add({ sku: 'LAMP-TAX-01', quantity: 1 });
    expect((await h.whenPriced()).totals?.tax.amount).toBe(1305);

    // A region with no tax rule, written by the customer, and a change that makes the worker price again.
    h.setAttribute('region', 'ZZ');
    h.setNote('LAMP-TAX-01', 'for the hall');
    h.applyCoupon('NOPE10');
    const view = await h.whenPriced();
    expect(view.coupons).toEqual(['NOPE10']);
    expect(view.warnings.map((w) => w.code)).toEqual(['COUPON_NOT_APPLICABLE']);
    expect(view.attributes).toEqual({ region: 'ZZ' });
    expect(view.totals?.tax.amount).toBe(1305);
    expect(view.totals?.total.amount).toBe(18000 + 1305);
  });
});
