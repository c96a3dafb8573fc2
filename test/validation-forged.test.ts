/**
 * Forged updates (hand-encoded, not producible through the Yjs API) that once passed validation:
 * each would have stored and acknowledged a change that breaks the cart. Found in review.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { type CartError, DEFAULT_LIMITS, addLine, applyCoupon, setAttribute, validateUpdate, writeCartFacts } from '../protocol/index.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { RawDevice } from './helpers/raw-device.ts';
import { encodeUpdateV1 } from './helpers/update-encoder.ts';

const actor = { id: 'u1', role: 'customer' as const };
const ctx = { limits: DEFAULT_LIMITS, actor, maxBytes: DEFAULT_LIMITS.maxSyncBytes };

/** A server-side cart doc with facts written by a server client and one line added by a device. */
function cartDoc() {
  const server = new Y.Doc();
  writeCartFacts(server, { schema: 1, status: 'open', currency: 'USD', totals: null, warnings: [] });
  const doc = new Y.Doc();
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(server));
  const device = new Y.Doc();
  Y.applyUpdate(device, Y.encodeStateAsUpdate(doc));
  addLine(device, { sku: 'MUG-01', quantity: 1 }, actor);
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(device, Y.encodeStateVector(doc)));
  return { doc, serverClient: server.clientID, device };
}

function rejection(doc: Y.Doc, update: Uint8Array): string {
  try {
    validateUpdate(doc, update, ctx);
  } catch (err) {
    return (err as CartError).code;
  }
  return 'accepted';
}

describe('forged updates', () => {
  it('an item whose origin points forward to its own writer is rejected (Yjs would throw on apply)', () => {
    const { doc } = cartDoc();
    const X = 888888;
    const update = encodeUpdateV1([
      { kind: 'item', client: X, clock: 0, origin: { client: X, clock: 1 }, any: ['v1'] },
      { kind: 'item', client: X, clock: 1, parent: 'attrs', parentSub: 'k', any: ['v2'] },
    ]);
    expect(rejection(doc, update)).toBe('E_UPDATE_MALFORMED');
  });

  it('an item with an unknown right origin is rejected (it would be held pending after its ack)', () => {
    const { doc } = cartDoc();
    const line = [...doc.getMap('lines')._map.values()][0]!;
    const update = encodeUpdateV1([
      { kind: 'item', client: 999999, clock: 0, origin: line.id, right: { client: 424242, clock: 5 }, any: [{ sku: 'MUG-01', options: {}, note: 'x', addedBy: actor, addedAt: 1 }] },
    ]);
    expect(rejection(doc, update)).toBe('E_UPDATE_MISSING_DEPENDENCY');
  });

  it('references that form a cycle across writers are rejected', () => {
    const { doc } = cartDoc();
    const update = encodeUpdateV1([
      { kind: 'item', client: 111, clock: 0, origin: { client: 222, clock: 0 }, any: ['a'] },
      { kind: 'item', client: 222, clock: 0, origin: { client: 111, clock: 0 }, any: ['b'] },
    ]);
    expect(rejection(doc, update)).toBe('E_UPDATE_MALFORMED');
  });

  it('a struct overlapping the last fact of the server writer is judged by that fact, not by its forged origin', () => {
    const { doc, serverClient } = cartDoc();
    const state = Y.getState(doc.store, serverClient);
    const line = [...doc.getMap('lines')._map.values()][0]!;
    const update = encodeUpdateV1([
      { kind: 'item', client: serverClient, clock: state - 1, origin: line.id, deleted: 2 },
      { kind: 'item', client: 777777, clock: 0, parent: 'attrs', parentSub: 'x', any: ['y'] },
    ]);
    expect(rejection(doc, update)).toBe('E_UPDATE_FORBIDDEN_FIELD');
  });

  it('coupon and attribute limits count every new key of one update', () => {
    const { doc, device } = cartDoc();
    const sv = Y.encodeStateVector(device);
    device.transact(() => {
      for (let i = 0; i < 11; i++) applyCoupon(device, `C${i}`);
    });
    expect(rejection(doc, Y.encodeStateAsUpdate(device, sv))).toBe('E_UPDATE_INVALID_VALUE');
    const { doc: doc2, device: device2 } = cartDoc();
    const sv2 = Y.encodeStateVector(device2);
    device2.transact(() => {
      for (let i = 0; i < 21; i++) setAttribute(device2, `a${i}`, 'x');
    });
    expect(rejection(doc2, Y.encodeStateAsUpdate(device2, sv2))).toBe('E_UPDATE_INVALID_VALUE');
  });

  it('end to end: the forward-origin update is refused, nothing is stored, and the cart keeps working', async () => {
    const node: TestNode = await startNode();
    try {
      const { cartId, token } = await node.createCart();
      const device = await RawDevice.open(node.url, token, cartId);
      const before = await node.node.store.logLength(cartId);
      const X = 888888;
      const ack = await device.sendUpdate(
        encodeUpdateV1([
          { kind: 'item', client: X, clock: 0, origin: { client: X, clock: 1 }, any: ['v1'] },
          { kind: 'item', client: X, clock: 1, parent: 'attrs', parentSub: 'k', any: ['v2'] },
        ]),
      );
      expect(ack).toMatchObject({ ok: false, error: { code: 'E_UPDATE_MALFORMED' } });
      expect(await node.node.store.logLength(cartId)).toBe(before);
      const res = await node.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: 'MUG-01', quantity: 1 } });
      expect(res.status).toBe(201);
      device.close();
    } finally {
      await node.close();
    }
  });
});
