/**
 * Hole 8: a line's description (`lines[lineId]`: who added it, when) is removed only with the line
 * (a quantity of 0, protocol/SPEC.md §4). A device that deletes the record alone is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import type { CartError} from '../protocol/index.ts';
import { DEFAULT_LIMITS, addLine, setQuantity, validateUpdate, writeCartFacts } from '../protocol/index.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { RawDevice } from './helpers/raw-device.ts';

let node: TestNode;
beforeAll(async () => {
  node = await startNode();
});
afterAll(async () => {
  await node.close();
});

const ALICE = { id: 'alice', role: 'customer' as const };
const BOB = { id: 'bob', role: 'associate' as const };

function deviceUpdate(server: Y.Doc, change: (doc: Y.Doc) => void): Uint8Array {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(server));
  const before = Y.encodeStateVector(doc);
  change(doc);
  return Y.encodeStateAsUpdate(doc, before);
}

describe('line records', () => {
  it('hole 8: deleting the line record another device added is refused; removing the line (quantity 0) is not', () => {
    const server = new Y.Doc();
    writeCartFacts(server, { schema: 1, status: 'open', currency: 'USD', totals: null, warnings: [] });
    const alice = new Y.Doc();
    Y.applyUpdate(alice, Y.encodeStateAsUpdate(server));
    addLine(alice, { sku: 'SHOE-RUN-01', quantity: 2 }, ALICE);
    Y.applyUpdate(server, Y.encodeStateAsUpdate(alice));
    const ctx = { limits: DEFAULT_LIMITS, actor: BOB, maxBytes: DEFAULT_LIMITS.maxUpdateBytes };

    const bare = deviceUpdate(server, (doc) => doc.getMap('lines').delete('SHOE-RUN-01'));
    expect(() => validateUpdate(server, bare, ctx)).toThrow(expect.objectContaining({ code: 'E_UPDATE_FORBIDDEN_FIELD' }) as CartError);
    const removal = deviceUpdate(server, (doc) => setQuantity(doc, 'SHOE-RUN-01', 0));
    expect(validateUpdate(server, removal, ctx).newDeletes).toBeGreaterThan(0);
  });

  it('hole 8: end to end, the bare deletion is answered E_UPDATE_FORBIDDEN_FIELD and the line keeps who added it', async () => {
    const { cartId, token } = await node.createCart();
    const subject = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub as string;
    const phone = await RawDevice.open(node.url, token, cartId);
    expect((await phone.change((doc) => addLine(doc, { sku: 'SHOE-RUN-01', quantity: 2 }, { id: subject, role: 'customer' }))).ok).toBe(true);
    const other = await RawDevice.open(node.url, await node.token([cartId], { subject: 'laptop-user' }), cartId);
    const before = (await node.request('GET', `/v1/carts/${cartId}`, { token })).body.version as number;

    const ack = await other.change((doc) => doc.getMap('lines').delete('SHOE-RUN-01'));
    expect(ack.ok).toBe(false);
    if (!ack.ok) expect(ack.error.code).toBe('E_UPDATE_FORBIDDEN_FIELD');
    const res = await node.request('GET', `/v1/carts/${cartId}`, { token });
    expect(res.body.version).toBe(before);
    expect(res.body.lines).toEqual([expect.objectContaining({ sku: 'SHOE-RUN-01', quantity: 2, addedBy: { id: subject, role: 'customer' } })]);
    phone.close();
    other.close();
  });
});
