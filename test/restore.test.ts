/**
 * Guarantee 3: even if Redis lost everything, devices that reconnect restore the cart from their
 * local state — including the server-written facts their copy holds, which revalidation re-derives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveCartConnection, MemoryStorage } from '../client/index.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { waitFor } from './helpers/wait.ts';

let node: TestNode;
beforeAll(async () => {
  node = await startNode({ idleUnloadMs: 100 });
});
afterAll(async () => {
  await node.close();
});

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
    await waitFor(() => expect(node.node.registry.peek(cartId)).toBeUndefined());
    const keys = node.node.store.keys(cartId);
    await node.redis.del(keys.meta, keys.log, keys.snap);
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
});
