/**
 * Views never pass off facts priced for another state (SPEC §3 "Reading a cart"): a line shows
 * its prices only when they were priced for its current quantity, a cart its totals only when they
 * were priced for its current lines; until then null with `priced: false`. A real node, real
 * workers (stopped where a test needs the moment before pricing), REST and the client library.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveCartConnection } from '../client/index.ts';
import { loadSeed } from '../core/catalog/catalog-store.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { type TestWorkers, startTestWorkers } from './helpers/workers.ts';
import { waitFor } from './helpers/wait.ts';

let node: TestNode;
let workers: TestWorkers | null = null;
const conns: LiveCartConnection[] = [];

beforeAll(async () => {
  node = await startNode({ socketRatePerSecond: 10_000, socketBurst: 10_000 });
  await node.node.catalog.seedIfEmpty(loadSeed());
  workers = startTestWorkers(node);
});
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()));
  await workers?.close();
  await node.close();
});

/** Run `during` with no worker pricing anything; the jobs it asks for wait in the queue. */
async function withoutWorkers(during: () => Promise<void>): Promise<void> {
  await workers?.close();
  workers = null;
  try {
    await during();
  } finally {
    workers = startTestWorkers(node);
  }
}

const getCart = async (cartId: string, token: string) => {
  const res = await node.request('GET', `/v1/carts/${cartId}`, { token });
  expect(res.status).toBe(200);
  return res.body;
};
const linePath = (cartId: string, lineId: string) => `/v1/carts/${cartId}/lines/${encodeURIComponent(lineId)}`;

describe('REST views', () => {
  it('hole 6: PATCH quantity 5 never answers the line total priced for quantity 1; GET shows it once priced for 5', async () => {
    const { cartId, token } = await node.createCart();
    expect((await node.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: 'SHOE-RUN-01', quantity: 1 } })).status).toBe(201);
    await waitFor(async () => expect((await getCart(cartId, token)).lines[0]).toMatchObject({ lineTotal: { amount: 8999 } }));

    await withoutWorkers(async () => {
      const patched = await node.request('PATCH', linePath(cartId, 'SHOE-RUN-01'), { token, body: { quantity: 5 } });
      expect(patched.status).toBe(200);
      expect(patched.body.lineTotal).toBeNull();
      expect(patched.body).toMatchObject({ lineId: 'SHOE-RUN-01', quantity: 5, priced: false, unitPrice: null, lineTotal: null, discount: null, warnings: [] });
      const cart = await getCart(cartId, token);
      expect(cart).toMatchObject({ priced: false, totals: null, warnings: [] });
      expect(cart.lines[0]).toMatchObject({ quantity: 5, priced: false, lineTotal: null });
    });

    await waitFor(async () => {
      const cart = await getCart(cartId, token);
      expect(cart.priced).toBe(true);
      expect(cart.lines[0]).toMatchObject({ quantity: 5, priced: true, lineTotal: { amount: 5 * 8999 } });
      expect(cart.totals.subtotal.amount).toBe(5 * 8999);
    });
  });

  it('hole 6: before a cart is priced its totals are null ("not priced yet"), not zeros', async () => {
    const { cartId, token } = await node.createCart();
    // The empty cart is priced: zero totals are then the truth.
    await waitFor(async () => expect(await getCart(cartId, token)).toMatchObject({ totals: { total: { amount: 0 } } }));
    await withoutWorkers(async () => {
      const added = await node.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: 'BELT-LTH-01', quantity: 2 } });
      expect((await getCart(cartId, token)).totals).toBeNull();
      expect(added.body).toMatchObject({ priced: false, unitPrice: null, lineTotal: null });
      expect(await getCart(cartId, token)).toMatchObject({ priced: false, totals: null });
    });
    await waitFor(async () => {
      const cart = await getCart(cartId, token);
      expect(cart.priced).toBe(true);
      expect(cart.totals.subtotal.amount).toBe(cart.lines[0].lineTotal.amount);
      expect(cart.totals.subtotal.amount).toBeGreaterThan(0);
    });
  });
});

describe('client library', () => {
  it('hole 6: a local quantity change hides the old price at once, and whenPriced() resolves with the price for the new quantity', async () => {
    const { cartId, token } = await node.createCart();
    const conn = new LiveCartConnection({ url: node.url, token, device: 'phone', retryMinMs: 20, retryMaxMs: 200 });
    conns.push(conn);
    const h = await conn.open(cartId);
    const lineId = h.add({ sku: 'CAP-01', quantity: 1 });
    await waitFor(() => expect(h.view.lines[0]?.lineTotal?.amount).toBe(2499));
    h.setQuantity(lineId, 2);
    expect(h.view.lines[0]?.lineTotal).toBeNull();
    const first = await h.whenPriced();
    expect(first.lines[0]).toMatchObject({ quantity: 2, priced: true, lineTotal: { amount: 2 * 2499 } });
    expect(first.totals?.subtotal.amount).toBe(2 * 2499);
    // Already priced: resolves now with the current view.
    expect(await h.whenPriced()).toBe(h.view);

    h.setQuantity(lineId, 3);
    expect(h.view.priced).toBe(false);
    expect(h.view.totals).toBeNull();
    expect(h.view.lines[0]).toMatchObject({ quantity: 3, priced: false, lineTotal: null });
    const priced = await h.whenPriced();
    expect(priced.lines[0]).toMatchObject({ quantity: 3, priced: true, lineTotal: { amount: 3 * 2499 } });
    expect(priced.totals?.subtotal.amount).toBe(3 * 2499);

    // A note does not change the price: the view stays priced.
    h.setNote(lineId, 'blue');
    expect(h.view.priced).toBe(true);

    await h.close();
    await expect(h.whenPriced()).rejects.toMatchObject({ code: 'E_CART_CLOSED' });
  });
});
