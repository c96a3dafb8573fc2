/**
 * Hole 3: a node judges the log by the identity of the entry at its version, not by counting. After
 * a loss of the log's tail (an append-only file cut short) another writer can bring the log back to
 * the node's version with other entries; the node must notice and write back what it holds, and no
 * server writer may reuse a Yjs client id and clocks for other content.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { applyCoupon, readCart } from '../protocol/index.ts';
import { applyLog, entriesOf } from '../core/cart/apply-log.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { waitFor } from './helpers/wait.ts';

let node: TestNode;
beforeAll(async () => {
  node = await startNode({ idleUnloadMs: 100 });
});
afterAll(async () => {
  await node.close();
});

/** Cut the last entry off the cart's log, as an append-only file that lost its tail would. */
async function loseLastEntry(cartId: string): Promise<Uint8Array> {
  const keys = node.node.store.keys(cartId);
  const version = Number(await node.redis.hget(keys.meta, 'version'));
  const entries = (await node.redis.xrangeBuffer(keys.log, '-', '+')) as unknown as Array<[Buffer, Buffer[]]>;
  const last = entries.pop()!;
  // Rebuilt without its last entry (XDEL would keep the stream's last id, which an AOF cut does not).
  const ttl = await node.redis.pttl(keys.log);
  await node.redis.del(keys.log);
  for (const [id, fields] of entries) await node.redis.xadd(keys.log, id, ...fields);
  await node.redis.pexpire(keys.log, ttl);
  await node.redis.hset(keys.meta, 'version', version - 1);
  return new Uint8Array(last[1][1]!);
}

/** Another writer (its own Yjs client id) appends a coupon on top of what the log holds. */
async function otherWriterAppends(cartId: string, code: string): Promise<void> {
  const loaded = await node.node.store.load(cartId, 0);
  const doc = new Y.Doc();
  applyLog(doc, entriesOf(loaded), null, () => undefined);
  const before = Y.encodeStateVector(doc);
  applyCoupon(doc, code);
  const res = await node.node.store.append(cartId, loaded.version, Y.encodeStateAsUpdate(doc, before), 'worker', 60_000);
  expect(res.appended).toBe(true);
}

async function logDoc(cartId: string): Promise<Y.Doc> {
  const doc = new Y.Doc();
  applyLog(doc, entriesOf(await node.node.store.load(cartId, 0)), null, () => undefined);
  return doc;
}

const add = (cartId: string, token: string, sku: string, quantity: number) => node.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku, quantity } });

describe('log identity', () => {
  it('hole 3: a log that lost its tail and was written back to the same version by another writer is re-seeded with the acknowledged change', async () => {
    const { cartId, token } = await node.createCart();
    // Keep the cart hosted on the node for the whole test.
    const hosted = await node.node.registry.acquire(cartId);
    try {
      const acked = await add(cartId, token, 'SHOE-RUN-01', 2);
      expect(acked.status).toBe(201);
      await loseLastEntry(cartId);
      await otherWriterAppends(cartId, 'SPRING10');
      expect(hosted.version).toBe(acked.body.version);
      expect((await node.node.store.load(cartId, 0)).version).toBe(acked.body.version);

      // The node's next write catches up first: it must see that entry 2 is not the one it wrote.
      expect((await add(cartId, token, 'BELT-LTH-01', 1)).status).toBe(201);
      const view = readCart(await logDoc(cartId));
      expect(Object.fromEntries(view.lines.map((l) => [l.sku, l.quantity]))).toEqual({ 'SHOE-RUN-01': 2, 'BELT-LTH-01': 1 });
      expect(view.coupons).toEqual(['SPRING10']);
      expect(readCart(hosted.doc).coupons).toEqual(['SPRING10']);
    } finally {
      node.node.registry.release(hosted);
    }
  });

  it('hole 3: after a log loss, a server writer never writes other content under a client id and clocks it already used', async () => {
    const { cartId, token } = await node.createCart();
    expect((await add(cartId, token, 'SHOE-RUN-01', 2)).status).toBe(201);
    // The node forgets the cart, then the log loses the acknowledged add.
    await waitFor(() => expect(node.node.registry.peek(cartId)).toBeUndefined());
    const lost = Y.decodeUpdate(await loseLastEntry(cartId));
    expect((await add(cartId, token, 'BELT-LTH-01', 1)).status).toBe(201);

    const used = new Map<string, unknown>();
    for (const s of lost.structs) if (s instanceof Y.Item) for (let i = 0; i < s.length; i++) used.set(`${s.id.client}:${s.id.clock + i}`, s.content.getContent());
    const loaded = await node.node.store.load(cartId, 0);
    for (const update of loaded.updates) {
      for (const s of Y.decodeUpdate(update).structs) {
        if (!(s instanceof Y.Item)) continue;
        const before = used.get(`${s.id.client}:${s.id.clock}`);
        if (before !== undefined) expect(s.content.getContent(), `client ${s.id.client} clock ${s.id.clock} reused`).toEqual(before);
      }
    }
  });
});
