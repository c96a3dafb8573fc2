/**
 * Every line record counts against the line limits, live or not (SPEC §5), and removed lines are
 * collected by the workers once their grace is over (SPEC §4 "Collection"). A real node, a hostile
 * device speaking the wire protocol, REST.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { DEFAULT_LIMITS, lineRecordIds, readCart } from '../protocol/index.ts';
import { applyLog, entriesOf } from '../core/cart/apply-log.ts';
import { Queues } from '../core/queues.ts';
import { revalidateCart } from '../workers/revalidate.ts';
import { DEFAULT_CONFIG } from '../core/config.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { RawDevice } from './helpers/raw-device.ts';
import { revalidationDeps } from './helpers/workers.ts';

/** The cart as a joining device downloads it: the whole document state. */
async function storedDoc(node: TestNode, cartId: string): Promise<Y.Doc> {
  const doc = new Y.Doc();
  applyLog(doc, entriesOf(await node.node.store.load(cartId, 0)), null, () => undefined);
  return doc;
}

describe('line records', () => {
  let node: TestNode;
  beforeAll(async () => {
    // The attack's 5.7 MB would also spend the cart's write budget: lifted, so this measures the line limit alone.
    node = await startNode({ socketRatePerSecond: 10_000, socketBurst: 10_000, abuse: { ...DEFAULT_CONFIG.abuse, writeBudgetCartBytes: 1024 * 1024 * 1024, writeBudgetSubjectBytes: 1024 * 1024 * 1024 } });
  });
  afterAll(async () => {
    await node.close();
  });

  it('finding 3: 100 updates of 90 zero-quantity lines each are refused once the cart holds 2 × maxLines line ids', async () => {
    const { cartId, token } = await node.createCart();
    const device = await RawDevice.open(node.url, token, cartId);
    const refused: string[] = [];
    let accepted = 0;
    try {
      for (let u = 0; u < 100; u++) {
        // A fresh writer per update, so each stands on its own whatever happened to the one before.
        const attacker = new Y.Doc();
        attacker.transact(() => {
          for (let i = 0; i < 90; i++) attacker.getMap('qset').set(`JUNK-${u}-${i}?pad=${'x'.repeat(580)}`, { q: 0, id: `z${u}-${i}` });
        });
        const ack = await device.sendUpdate(Y.encodeStateAsUpdate(attacker));
        attacker.destroy();
        if (ack.ok) accepted += 1;
        else refused.push(ack.error.code);
      }
    } finally {
      device.close();
    }
    const doc = await storedDoc(node, cartId);
    const bytes = Y.encodeStateAsUpdate(doc).byteLength;
    const records = lineRecordIds(doc).size;
    console.info(`finding 3: ${accepted} of 100 updates stored, ${records} line ids, document ${bytes} bytes`);
    expect(accepted).toBe(2);
    expect(new Set(refused)).toEqual(new Set(['E_UPDATE_TOO_MANY_LINES']));
    expect(records).toBe(2 * DEFAULT_LIMITS.maxLines - 20);
    expect(bytes).toBeLessThan(150_000);
    expect(readCart(doc).lines).toEqual([]);
    doc.destroy();
  });
});

describe('collecting removed lines', () => {
  let node: TestNode;
  let queues: Queues;
  beforeAll(async () => {
    node = await startNode({ limits: { ...DEFAULT_LIMITS, maxLines: 2 } });
    queues = new Queues(node.redis, node.config.keyPrefix, () => undefined);
  });
  afterAll(async () => {
    await queues.close();
    await node.close();
  });

  it('finding 3: removed lines count until a worker collects them after the grace; then the cart takes new lines again', async () => {
    const { cartId, token } = await node.createCart();
    const lines = `/v1/carts/${cartId}/lines`;
    // maxLines 2: at most 4 line ids with records, live or removed.
    for (const sku of ['A', 'B', 'C', 'D']) {
      expect((await node.request('POST', lines, { token, body: { sku, quantity: 1 } })).status).toBe(201);
      expect((await node.request('DELETE', `${lines}/${sku}`, { token })).status).toBe(204);
    }
    const refused = await node.request('POST', lines, { token, body: { sku: 'E', quantity: 1 } });
    expect({ status: refused.status, code: refused.body?.error?.code }).toEqual({ status: 422, code: 'E_UPDATE_TOO_MANY_LINES' });

    const deps = revalidationDeps(node, queues);
    const now = Date.now();
    // Within the grace the records stay (a removal must still win over adds made offline before it).
    await revalidateCart(deps, cartId, now);
    let doc = await storedDoc(node, cartId);
    expect([...lineRecordIds(doc)].sort()).toEqual(['A', 'B', 'C', 'D']);
    expect(Object.keys(doc.getMap('cart').get('removedLines') as object).sort()).toEqual(['A', 'B', 'C', 'D']);
    doc.destroy();

    await revalidateCart(deps, cartId, now + deps.removedLineGraceMs);
    doc = await storedDoc(node, cartId);
    expect([...lineRecordIds(doc)]).toEqual([]);
    expect(doc.getMap('cart').get('removedLines')).toEqual({});
    doc.destroy();

    expect((await node.request('POST', lines, { token, body: { sku: 'E', quantity: 1 } })).status).toBe(201);
    expect((await node.request('GET', `/v1/carts/${cartId}`, { token })).body.lines.map((l: { lineId: string }) => l.lineId)).toEqual(['E']);
  });
});
