import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addLine, quantityOf, readCart, setQuantity } from '../protocol/index.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { RawDevice } from './helpers/raw-device.ts';
import { waitFor } from './helpers/wait.ts';

let node: TestNode;
beforeAll(async () => {
  node = await startNode();
});
afterAll(async () => {
  await node.close();
});

describe('wire protocol (raw devices)', () => {
  it('acks a change only once it is in the log, and syncs both ways between two devices', async () => {
    const { cartId, token } = await node.createCart();
    const a = await RawDevice.open(node.url, token, cartId);
    const b = await RawDevice.open(node.url, token, cartId);
    const subject = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub as string;
    const actor = { id: subject, role: 'customer' as const };
    const ack = await a.change((doc) => addLine(doc, { sku: 'SHOE-RUN-01', quantity: 2 }, actor));
    expect(ack.ok).toBe(true);
    const version = ack.ok ? ack.version : -1;
    expect((await node.node.store.load(cartId, 0)).version).toBe(version);
    await waitFor(() => expect(quantityOf(b.doc, 'SHOE-RUN-01')).toBe(2));
    expect((await b.change((doc) => setQuantity(doc, 'SHOE-RUN-01', 5))).ok).toBe(true);
    await waitFor(() => expect(readCart(a.doc).lines.map((l) => [l.lineId, l.quantity])).toEqual([['SHOE-RUN-01', 5]]));
    a.close();
    b.close();
  });
});

describe('shutdown', () => {
  it('tells joined devices their carts close because the node shuts down', async () => {
    const own = await startNode();
    const { cartId, token } = await own.createCart();
    const device = await RawDevice.open(own.url, token, cartId);
    const closed = new Promise((resolve) => device.socket.once('cart-closed', (id, info) => resolve([id, info])));
    await own.close();
    expect(await closed).toEqual([cartId, { reason: 'shutting-down' }]);
    device.close();
  });
});
