/**
 * Guarantee 3: even if Redis lost everything, devices that reconnect restore the cart from their
 * local state. A restore brings back intent only: the server deletes every fact the copy carried
 * and re-derives them (hole 1).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { LiveCartConnection, MemoryStorage } from '../client/index.ts';
import { addLine, readCart, writeCartFacts, writeSyncStep2 } from '../protocol/index.ts';
import { applyLog, entriesOf } from '../core/cart/apply-log.ts';
import { loadSeed } from '../core/catalog/catalog-store.ts';
import { TEST_ADMIN_TOKEN, type TestNode, startNode } from './helpers/node.ts';
import { RawDevice } from './helpers/raw-device.ts';
import { type TestWorkers, startTestWorkers } from './helpers/workers.ts';
import { waitFor } from './helpers/wait.ts';

let node: TestNode;
let workers: TestWorkers;
beforeAll(async () => {
  node = await startNode({ idleUnloadMs: 100 });
  await node.node.catalog.seedIfEmpty(loadSeed());
  workers = startTestWorkers(node);
});
afterAll(async () => {
  await workers.close();
  await node.close();
});

/** Wait until no node hosts the cart, then delete it from Redis (an expiry, a flush). */
async function loseCart(cartId: string): Promise<void> {
  await waitFor(() => expect(node.node.registry.peek(cartId)).toBeUndefined());
  const keys = node.node.store.keys(cartId);
  await node.redis.del(keys.meta, keys.log, keys.snap);
}

describe('restore from devices', () => {
  it('a cart wiped from Redis comes back from the local state of a device that reconnects', async () => {
    const { cartId, token } = await node.createCart();
    const storage = new MemoryStorage();
    const first = new LiveCartConnection({ url: node.url, token, storage });
    const cart = await first.open(cartId);
    cart.add({ sku: 'SHOE-RUN-01', quantity: 2 });
    cart.applyCoupon('SPRING10');
    await cart.whenSaved();
    await first.close();

    // Redis loses the cart while no node hosts it.
    await loseCart(cartId);
    expect((await node.request('GET', `/v1/carts/${cartId}`, { token })).status).toBe(404);

    const again = new LiveCartConnection({ url: node.url, token, storage });
    const restored = await again.open(cartId);
    await restored.whenSaved();
    const res = await node.request('GET', `/v1/carts/${cartId}`, { token });
    expect(res.status).toBe(200);
    expect(res.body.lines.map((l: { sku: string; quantity: number }) => [l.sku, l.quantity])).toEqual([['SHOE-RUN-01', 2]]);
    expect(res.body.coupons).toEqual(['SPRING10']);
    expect(res.body.status).toBe('open');
    await again.close();
  });

  it('hole 1: a customer restoring a cart cannot bring back facts: segment staff and a fake unit price are dropped, prices are the customer\'s', async () => {
    expect((await node.request('PUT', '/v1/pricing/price-lists/staff/USD', { token: TEST_ADMIN_TOKEN, body: { prices: { 'SHOE-RUN-01': 100 } } })).status).toBe(201);
    const { cartId, token } = await node.createCart();
    const subject = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub as string;
    await loseCart(cartId);

    // A forged local copy: the customer's own line, plus facts only the server may write.
    const forged = new Y.Doc();
    writeCartFacts(forged, { schema: 1, status: 'open', currency: 'USD', totals: null, warnings: [], segment: 'staff' });
    addLine(forged, { sku: 'SHOE-RUN-01', quantity: 2 }, { id: subject, role: 'customer' });
    const fake = { amount: 1, currency: 'USD' };
    forged.getMap('facts').set('SHOE-RUN-01', { unitPrice: fake, listPrice: fake, discount: null, lineTotal: fake, available: 99, addedPrice: fake, warnings: [] });
    const device = await RawDevice.open(node.url, token, cartId);
    const ack = await device.sendFrame(writeSyncStep2(Y.encodeStateAsUpdate(forged)));
    expect(ack.ok).toBe(true);

    // The stored restore holds the line and none of the client's facts.
    const loaded = await node.node.store.load(cartId, 0);
    const restored = new Y.Doc();
    applyLog(restored, entriesOf(loaded).slice(0, 1), null, () => undefined);
    expect(readCart(restored).lines.map((l) => [l.sku, l.quantity])).toEqual([['SHOE-RUN-01', 2]]);
    expect(restored.getMap('facts').size).toBe(0);
    expect(restored.getMap('cart').get('segment')).toBeUndefined();
    expect(restored.getMap('cart').get('status')).toBe('open');
    for (const update of loaded.updates) expect(Buffer.from(update).includes('staff')).toBe(false);

    // Revalidation prices it for a customer (list price 89.99, not the staff 1.00 or the fake 0.01).
    await waitFor(async () => {
      const res = await node.request('GET', `/v1/carts/${cartId}`, { token });
      expect(res.body.lines[0].unitPrice).toEqual({ amount: 8999, currency: 'USD' });
      expect(res.body.totals.subtotal).toEqual({ amount: 17998, currency: 'USD' });
    });
    // The restoring device is sent the deletions too: its copy no longer says staff.
    await waitFor(() => expect(device.doc.getMap('cart').get('segment')).toBeUndefined());
    device.close();
  });

  it('hole 1: the claims of a token that joined the empty cart are the facts the restore writes', async () => {
    const { cartId, token } = await node.createCart();
    const subject = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub as string;
    await loseCart(cartId);
    const minted = await node.request('POST', '/v1/auth/tokens', { token: TEST_ADMIN_TOKEN, body: { subject, role: 'customer', carts: [cartId], segment: 'vip' } });
    const copy = new Y.Doc();
    addLine(copy, { sku: 'SHOE-RUN-01', quantity: 1 }, { id: subject, role: 'customer' });
    const device = await RawDevice.open(node.url, minted.body.token as string, cartId);
    expect((await device.sendFrame(writeSyncStep2(Y.encodeStateAsUpdate(copy)))).ok).toBe(true);
    const restored = new Y.Doc();
    applyLog(restored, entriesOf(await node.node.store.load(cartId, 0)).slice(0, 1), null, () => undefined);
    expect(restored.getMap('cart').get('segment')).toBe('vip');
    expect(readCart(restored).lines.map((l) => l.sku)).toEqual(['SHOE-RUN-01']);
    device.close();
  });
});
