/**
 * The SKU index never keeps junk: every index key has a bounded life (refreshed on write, at least
 * the cart TTL), and fan-outs read it a page at a time, dropping the expired carts they meet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queues } from '../core/queues.ts';
import { SCAN_PAGE, SkuIndex } from '../core/revalidation/sku-index.ts';
import { fanOut } from '../workers/fanout.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { type TestWorkers, startTestWorkers } from './helpers/workers.ts';
import { waitFor } from './helpers/wait.ts';

let node: TestNode;
let workers: TestWorkers;
beforeAll(async () => {
  node = await startNode({ cartTtlSeconds: 2, emptyCartTtlSeconds: 1 });
  workers = startTestWorkers(node);
});
afterAll(async () => {
  await workers?.close();
  await node?.close();
});

async function keysMatching(pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await node.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

describe('SKU index lifetime', () => {
  it('finding 7: after carts with unknown SKUs expire, no index key without a TTL remains', async () => {
    const carts: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { cartId, token } = await node.createCart();
      const res = await node.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: `JUNK-${i}`, quantity: 1 } });
      expect(res.status).toBe(201);
      carts.push(cartId);
    }
    const index = `${node.config.keyPrefix}:idx:*`;
    await waitFor(async () => expect((await keysMatching(`${node.config.keyPrefix}:idx:sku:*`)).length).toBe(5), { timeoutMs: 10_000 });
    await waitFor(async () => expect(await Promise.all(carts.map((c) => node.node.store.exists(c)))).toEqual(carts.map(() => false)), { timeoutMs: 15_000, intervalMs: 100 });
    const keys = await keysMatching(index);
    expect(keys.length).toBeGreaterThan(0);
    const ttls = await Promise.all(keys.map(async (k) => [k, await node.redis.pttl(k)] as const));
    // -1: no expiry (lives forever); -2: gone meanwhile (fine).
    expect(ttls.filter(([, ttl]) => ttl === -1)).toEqual([]);
  }, 40_000);

  it('finding 7: a fan-out over every open cart reads the index in pages and drops the expired carts it meets', async () => {
    const prefix = `${node.config.keyPrefix}x`;
    const index = new SkuIndex(node.redis, prefix, 60_000);
    const queues = new Queues(node.redis, prefix, () => undefined);
    try {
      const gone = Array.from({ length: SCAN_PAGE * 3 }, (_, i) => `expired-cart-${i}`);
      for (const cartId of gone) await index.update(cartId, ['SKU-A'], []);
      const live = await node.createCart();
      await index.update(live.cartId, ['SKU-A'], []);
      const pagesSeen: number[] = [];
      for await (const ids of index.openCarts()) pagesSeen.push(ids.length);
      expect(pagesSeen.length).toBeGreaterThan(1);
      expect(pagesSeen.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(gone.length + 1);
      const deps = { index, store: node.node.store, queues, skusInCategory: async () => [] };
      expect(await fanOut(deps, { all: true, skus: [], categories: [] })).toBe(1);
      expect(await node.redis.zcard(`${prefix}:idx:open`)).toBe(1);
      expect(await fanOut(deps, { all: false, skus: ['SKU-A'], categories: [] })).toBe(1);
      expect(await node.redis.scard(`${prefix}:idx:sku:{SKU-A}`)).toBe(1);
    } finally {
      await queues.close();
    }
  });
});
