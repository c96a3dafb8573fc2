/**
 * Several nodes on one Redis: a cart's devices may sit on different nodes and still sync live both
 * ways (relays through @socket.io/redis-adapter); a device joining on a third node gets the full
 * cart from the log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CartHandle, LiveCartConnection } from '../client/index.ts';
import { type TestNode, startNode, uniquePrefix } from './helpers/node.ts';
import * as Y from 'yjs';
import { readCart, setQuantity } from '../protocol/index.ts';
import { startLoadBalancer } from '../scripts/lb.ts';
import { waitFor } from './helpers/wait.ts';
import { stockYjsClient } from './helpers/yws-client.ts';

const nodes: TestNode[] = [];
const conns: LiveCartConnection[] = [];

beforeAll(async () => {
  const keyPrefix = uniquePrefix();
  for (let i = 0; i < 3; i++) nodes.push(await startNode({ keyPrefix, socketAdapter: 'redis' }));
});
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()));
  for (const n of nodes) await n.close();
});

function open(node: TestNode, token: string, cartId: string, device: string): Promise<CartHandle> {
  const c = new LiveCartConnection({ url: node.url, token, device, retryMinMs: 20, retryMaxMs: 200 });
  conns.push(c);
  return c.open(cartId);
}

/** A phone on `n1` viewing SHOE, then a laptop on `n2`: each sees the other at once. */
async function phoneAndLaptop(n1: TestNode, n2: TestNode, token: string, cartId: string): Promise<[CartHandle, CartHandle]> {
  const phone = await open(n1, token, cartId, 'phone');
  phone.setViewing('SHOE');
  const laptop = await open(n2, token, cartId, 'laptop');
  await waitFor(() => expect(laptop.presence.map((p) => [p.device, p.viewing])).toEqual([['phone', 'SHOE']]));
  await waitFor(() => expect(phone.presence.map((p) => p.device)).toEqual(['laptop']));
  return [phone, laptop];
}

const lines = (h: CartHandle): Array<[string, number]> => h.view.lines.map((l): [string, number] => [l.lineId, l.quantity]).sort();

describe('devices of one cart on different nodes', () => {
  it('sync both ways, and a third device on a third node gets the full cart', async () => {
    const [n1, n2, n3] = nodes as [TestNode, TestNode, TestNode];
    const { cartId, token } = await n1.createCart();
    const phone = await open(n1, token, cartId, 'phone');
    const laptop = await open(n2, token, cartId, 'laptop');

    phone.add({ sku: 'SHOE', quantity: 2 });
    await waitFor(() => expect(lines(laptop)).toEqual([['SHOE', 2]]));
    laptop.add({ sku: 'BELT', quantity: 1 });
    laptop.setQuantity('SHOE', 3);
    await waitFor(() => expect(lines(phone)).toEqual([['BELT', 1], ['SHOE', 3]]));
    // Both sides edit at once: they converge.
    phone.add({ sku: 'SOCK', quantity: 2 });
    laptop.add({ sku: 'SOCK', quantity: 1 });
    await Promise.all([phone.whenSaved(), laptop.whenSaved()]);
    const expected: Array<[string, number]> = [['BELT', 1], ['SHOE', 3], ['SOCK', 3]];
    await waitFor(() => {
      expect(lines(phone)).toEqual(expected);
      expect(lines(laptop)).toEqual(expected);
    });

    const tablet = await open(n3, token, cartId, 'tablet');
    expect(lines(tablet)).toEqual(expected);
    tablet.remove('BELT');
    await waitFor(() => {
      for (const h of [phone, laptop]) expect(lines(h)).toEqual([['SHOE', 3], ['SOCK', 3]]);
    });
    // Every node serves the same cart over REST.
    for (const n of nodes) {
      const res = await n.request('GET', `/v1/carts/${cartId}`, { token });
      expect(res.body.lines.map((l: { lineId: string; quantity: number }) => [l.lineId, l.quantity]).sort()).toEqual([['SHOE', 3], ['SOCK', 3]]);
    }
  });

  it('presence crosses nodes: a device joining on another node sees who is there at once, and sees them leave', async () => {
    const [n1, n2] = nodes as [TestNode, TestNode];
    const { cartId, token } = await n1.createCart();
    const [phone, laptop] = await phoneAndLaptop(n1, n2, token, cartId);
    await phone.close();
    await waitFor(() => expect(laptop.presence).toEqual([]));
  });

  it('a REST change on one node reaches devices on the others', async () => {
    const [n1, n2, n3] = nodes as [TestNode, TestNode, TestNode];
    const { cartId, token } = await n1.createCart();
    const phone = await open(n2, token, cartId, 'phone');
    const laptop = await open(n3, token, cartId, 'laptop');
    expect((await n1.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: 'MUG', quantity: 4 } })).status).toBe(201);
    await waitFor(() => {
      expect(lines(phone)).toEqual([['MUG', 4]]);
      expect(lines(laptop)).toEqual([['MUG', 4]]);
    });
  });
});

describe('stock Yjs clients in a cluster', () => {
  it('a /yjs client on one node receives changes appended on another, and its changes reach devices there', async () => {
    const [n1, n2] = nodes as [TestNode, TestNode];
    const { cartId, token } = await n1.createCart();
    const phone = await open(n1, token, cartId, 'phone');
    const doc = new Y.Doc();
    const provider = stockYjsClient(n2.port, cartId, token, doc);
    try {
      await waitFor(() => expect(provider.synced).toBe(true));
      phone.add({ sku: 'SHOE', quantity: 2 });
      await waitFor(() => expect(readCart(doc).lines.map((l) => [l.lineId, l.quantity])).toEqual([['SHOE', 2]]));
      setQuantity(doc, 'SHOE', 5);
      await waitFor(() => expect(lines(phone)).toEqual([['SHOE', 5]]));
    } finally {
      provider.destroy();
    }
  });
});

describe('cart affinity through the load balancer', () => {
  it('connections that name the same cart land on the same node', async () => {
    const lb = await startLoadBalancer({ backends: nodes.map((n, i) => ({ name: `node-${i + 1}`, host: '127.0.0.1', port: n.port })), port: 0, host: '127.0.0.1', healthIntervalMs: 200 });
    try {
      await waitFor(() => expect(lb.healthy()).toHaveLength(3));
      const { cartId, token } = await nodes[0]!.createCart();
      const before = nodes.map((n) => n.node.io.engine.clientsCount);
      const devices = Array.from({ length: 4 }, () => {
        const c = new LiveCartConnection({ url: lb.url, token, affinity: cartId });
        conns.push(c);
        return c;
      });
      const handles = await Promise.all(devices.map((c) => c.open(cartId)));
      expect(handles.every((h) => h.online)).toBe(true);
      const added = nodes.map((n, i) => n.node.io.engine.clientsCount - before[i]!);
      expect([...added].sort()).toEqual([0, 0, 4]);
      expect(nodes[added.indexOf(4)]?.port).toBe(lb.pick(cartId)?.port);
      await Promise.all(devices.map((c) => c.close()));
    } finally {
      await lb.close();
    }
  });
});

describe('with the sharded adapter (a pub/sub channel per cart)', () => {
  const sharded: TestNode[] = [];
  beforeAll(async () => {
    const keyPrefix = uniquePrefix();
    for (let i = 0; i < 2; i++) sharded.push(await startNode({ keyPrefix, socketAdapter: 'sharded' }));
  });
  afterAll(async () => {
    for (const n of sharded) await n.close();
  });

  it('devices on two nodes sync both ways and see each other, and a REST change reaches both', async () => {
    const [n1, n2] = sharded as [TestNode, TestNode];
    const { cartId, token } = await n1.createCart();
    const [phone, laptop] = await phoneAndLaptop(n1, n2, token, cartId);
    phone.add({ sku: 'SHOE', quantity: 2 });
    await waitFor(() => expect(lines(laptop)).toEqual([['SHOE', 2]]));
    laptop.setQuantity('SHOE', 4);
    await waitFor(() => expect(lines(phone)).toEqual([['SHOE', 4]]));
    expect((await n2.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: 'MUG', quantity: 1 } })).status).toBe(201);
    await waitFor(() => {
      for (const h of [phone, laptop]) expect(lines(h)).toEqual([['MUG', 1], ['SHOE', 4]]);
    });
  });
});
