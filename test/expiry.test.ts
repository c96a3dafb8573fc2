/** Carts expire after an idle time, tiered: carts without lines soon, carts with lines much later. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestNode, startNode } from './helpers/node.ts';

let node: TestNode;
beforeAll(async () => {
  node = await startNode({ emptyCartTtlSeconds: 600, cartTtlSeconds: 7200 });
});
afterAll(async () => {
  await node.close();
});

async function ttls(cartId: string): Promise<number[]> {
  const keys = node.node.store.keys(cartId);
  return Promise.all([keys.meta, keys.log].map((k) => node.redis.ttl(k)));
}

describe('cart expiry', () => {
  it('an empty cart gets the short expiry, a cart with lines the long one, on every key', async () => {
    const { cartId, token } = await node.createCart();
    for (const ttl of await ttls(cartId)) {
      expect(ttl).toBeGreaterThan(500);
      expect(ttl).toBeLessThanOrEqual(600);
    }
    await node.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: 'SHOE', quantity: 1 } });
    for (const ttl of await ttls(cartId)) {
      expect(ttl).toBeGreaterThan(7000);
      expect(ttl).toBeLessThanOrEqual(7200);
    }
  });

  it('an expired cart is gone: GET answers E_CART_NOT_FOUND', async () => {
    const { cartId, token } = await node.createCart();
    const keys = node.node.store.keys(cartId);
    // What Redis does when the TTL runs out, without waiting for it.
    await node.redis.del(keys.meta, keys.log, keys.snap);
    node.node.registry.peek(cartId)?.destroy();
    const fresh = await startNode({ keyPrefix: node.config.keyPrefix });
    try {
      const res = await fresh.request('GET', `/v1/carts/${cartId}`, { token });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('E_CART_NOT_FOUND');
    } finally {
      await fresh.close();
    }
  });
});
