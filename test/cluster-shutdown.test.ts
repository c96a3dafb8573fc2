/**
 * A node's shutdown concerns its own devices only: devices of the same carts on other nodes keep
 * their sessions (a rolling deploy must not make every shared cart resync everywhere).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type TestNode, startNode, uniquePrefix } from './helpers/node.ts';
import { RawDevice } from './helpers/raw-device.ts';
import { waitFor } from './helpers/wait.ts';
import { readCart, setAttribute } from '../protocol/index.ts';
import type { CartClosed } from '../protocol/index.ts';

const nodes: TestNode[] = [];
afterAll(async () => {
  for (const n of nodes) await n.close();
});

describe('node shutdown', () => {
  it('hole 2: stopping node A sends cart-closed to its own devices only, not to a device of the cart on node B', async () => {
    const keyPrefix = uniquePrefix();
    for (let i = 0; i < 3; i++) nodes.push(await startNode({ keyPrefix, socketAdapter: 'redis' }));
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    const { cartId, token } = await a.createCart();
    const onA = await RawDevice.open(a.url, token, cartId);
    const onB = await RawDevice.open(b.url, token, cartId);
    const onC = await RawDevice.open(c.url, token, cartId);
    const closedOn = (device: RawDevice): CartClosed[] => {
      const seen: CartClosed[] = [];
      device.socket.on('cart-closed', (_id, closed) => seen.push(closed));
      return seen;
    };
    const [seenA, seenB] = [closedOn(onA), closedOn(onB)];
    try {
      await a.close();
      await waitFor(() => expect(seenA).toEqual([{ reason: 'shutting-down' }]));
      // A change from node C reaches B through the same pub/sub after A's shutdown: had A's
      // cart-closed gone through the adapter, B would have it by now.
      expect(await onC.change((d) => setAttribute(d, 'after', 'shutdown'))).toMatchObject({ ok: true });
      await waitFor(() => expect(readCart(onB.doc).attributes).toMatchObject({ after: 'shutdown' }));
      expect(seenB).toEqual([]);
      expect(await onB.change((d) => setAttribute(d, 'still', 'joined'))).toMatchObject({ ok: true });
    } finally {
      for (const d of [onA, onB, onC]) d.close();
    }
  });
});
