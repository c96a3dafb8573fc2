/**
 * Interop with a stock Yjs client: y-websocket's WebsocketProvider on `/yjs/:cartId` shares carts
 * with Socket.IO devices and REST, under the same validation, presence stamping and close codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import * as Y from 'yjs';
import type { WebsocketProvider } from 'y-websocket';
import {
  type Actor,
  type AwarenessEntry,
  CLOSE,
  DEFAULT_LIMITS,
  addLine,
  decodeAwarenessEntries,
  quantityOf,
  readCart,
  setQuantity,
} from '../protocol/index.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { RawDevice } from './helpers/raw-device.ts';
import { waitFor } from './helpers/wait.ts';
import { stockYjsClient } from './helpers/yws-client.ts';

let node: TestNode;
const providers: WebsocketProvider[] = [];
const devices: RawDevice[] = [];

beforeAll(async () => {
  node = await startNode();
});
afterAll(async () => {
  for (const p of providers) p.destroy();
  for (const d of devices) d.close();
  await node.close();
});

/** A cart with a token for a known subject, so tests can stamp `addedBy` with it. */
async function newCart(subject = 'alice'): Promise<{ cartId: string; token: string; actor: Actor }> {
  const { cartId } = await node.createCart();
  const token = await node.token([cartId], { subject });
  return { cartId, token, actor: { id: subject, role: 'customer' } };
}

function connectProvider(cartId: string, token: string, doc = new Y.Doc()): WebsocketProvider {
  const provider = stockYjsClient(node.port, cartId, token, doc);
  providers.push(provider);
  return provider;
}

async function openDevice(cartId: string, token: string): Promise<RawDevice> {
  const device = await RawDevice.open(node.url, token, cartId);
  devices.push(device);
  return device;
}

async function loadFromRedis(cartId: string): Promise<{ version: number; doc: Y.Doc }> {
  const loaded = await node.node.store.load(cartId, 0);
  const doc = new Y.Doc();
  if (loaded.snapshot) Y.applyUpdate(doc, loaded.snapshot);
  for (const u of loaded.updates) Y.applyUpdate(doc, u);
  return { version: loaded.version, doc };
}

describe('y-websocket WebsocketProvider interop', () => {
  it('connects to /yjs/<cartId> and receives a Socket.IO device change live', async () => {
    const { cartId, token, actor } = await newCart();
    const device = await openDevice(cartId, token);
    const provider = connectProvider(cartId, token);
    expect(provider.url).toBe(`ws://127.0.0.1:${node.port}/yjs/${cartId}?token=${token}`);
    await waitFor(() => expect(provider.synced).toBe(true));
    expect(readCart(provider.doc).status).toBe('open');

    const ack = await device.change((doc) => addLine(doc, { sku: 'SHOE-RUN-01', quantity: 2 }, actor));
    expect(ack.ok).toBe(true);
    await waitFor(() => expect(quantityOf(provider.doc, 'SHOE-RUN-01')).toBe(2));
    expect((await device.change((doc) => setQuantity(doc, 'SHOE-RUN-01', 7))).ok).toBe(true);
    await waitFor(() => expect(quantityOf(provider.doc, 'SHOE-RUN-01')).toBe(7));
    expect(readCart(provider.doc).lines[0]?.addedBy).toEqual(actor);
    provider.destroy();
  });

  it('relays a change made in the provider doc to Socket.IO devices and stores it in Redis', async () => {
    const { cartId, token, actor } = await newCart();
    const device = await openDevice(cartId, token);
    const provider = connectProvider(cartId, token);
    await waitFor(() => expect(provider.synced).toBe(true));
    const before = (await node.node.store.load(cartId, 0)).version;

    addLine(provider.doc, { sku: 'HAT-01', quantity: 3, options: { size: 'M' } }, actor);
    const lineId = 'HAT-01?size=M';
    await waitFor(() => expect(quantityOf(device.doc, lineId)).toBe(3));
    const stored = await loadFromRedis(cartId);
    expect(stored.version).toBe(before + 1);
    expect(quantityOf(stored.doc, lineId)).toBe(3);
    expect(readCart(stored.doc).lines.map((l) => [l.lineId, l.quantity, l.addedBy])).toEqual([[lineId, 3, actor]]);

    setQuantity(provider.doc, lineId, 5);
    await waitFor(() => expect(quantityOf(device.doc, lineId)).toBe(5));
    await waitFor(async () => expect(quantityOf((await loadFromRedis(cartId)).doc, lineId)).toBe(5));
    provider.destroy();
  });

  it('syncs offline edits a provider doc made before connecting', async () => {
    const { cartId, token, actor } = await newCart('bob');
    const device = await openDevice(cartId, token);
    const offline = new Y.Doc();
    addLine(offline, { sku: 'SOCK-07', quantity: 4 }, actor);
    addLine(offline, { sku: 'CAP-02', quantity: 1, note: 'gift' }, actor);
    setQuantity(offline, 'CAP-02', 2);
    expect(readCart(device.doc).lines).toEqual([]);

    const provider = connectProvider(cartId, token, offline);
    // Both lines were added in the same millisecond or so: compare in lineId order.
    const byId = (doc: Y.Doc): Array<[string, number, string]> =>
      readCart(doc)
        .lines.map((l): [string, number, string] => [l.lineId, l.quantity, l.note])
        .sort((a, b) => a[0].localeCompare(b[0]));
    await waitFor(() => expect(byId(device.doc)).toEqual([
      ['CAP-02', 2, 'gift'],
      ['SOCK-07', 4, ''],
    ]));
    const stored = await loadFromRedis(cartId);
    expect(byId(stored.doc)).toEqual(byId(offline));
    // The provider also received the server's state (the cart facts written at creation).
    await waitFor(() => expect(readCart(provider.doc).currency).toBe('USD'));
    provider.destroy();
  });

  it('relays provider presence to Socket.IO devices with subject and role stamped by the server', async () => {
    const { cartId, token } = await newCart('carol');
    const device = await openDevice(cartId, token);
    const seen: AwarenessEntry[] = [];
    device.socket.on('awareness', (id, frame) => {
      if (id === cartId) seen.push(...decodeAwarenessEntries(new Uint8Array(frame)));
    });
    const provider = connectProvider(cartId, token);
    await waitFor(() => expect(provider.synced).toBe(true));
    // A device cannot pose as someone else: the claimed subject and role are overwritten.
    provider.awareness.setLocalStateField('subject', 'mallory');
    provider.awareness.setLocalStateField('role', 'service');
    provider.awareness.setLocalStateField('device', 'x');

    const entry = await waitFor(() => {
      const found = [...seen].reverse().find((e) => e.clientId === provider.doc.clientID && e.state?.device === 'x');
      expect(found).toBeDefined();
      return found!;
    });
    expect(entry.state).toMatchObject({ device: 'x', subject: 'carol', role: 'customer' });

    provider.destroy();
    await waitFor(() => expect([...seen].reverse().find((e) => e.clientId === provider.doc.clientID)?.state).toBeNull());
  });

  it('closes the socket with 4422 on an invalid update and stores nothing', async () => {
    const { cartId, token, actor } = await newCart();
    const device = await openDevice(cartId, token);
    const provider = connectProvider(cartId, token);
    const closes: Array<{ code: number; reason: string }> = [];
    provider.on('connection-close', (event) => {
      if (event) closes.push({ code: event.code, reason: event.reason });
    });
    await waitFor(() => expect(provider.synced).toBe(true));
    addLine(provider.doc, { sku: 'OK-1', quantity: 1 }, actor);
    await waitFor(() => expect(quantityOf(device.doc, 'OK-1')).toBe(1));
    const before = await loadFromRedis(cartId);

    provider.doc.getMap('cart').set('status', 'ordered');
    await waitFor(() => expect(closes).toEqual([{ code: CLOSE.REJECTED.code, reason: 'E_UPDATE_FORBIDDEN_FIELD' }]));
    // 44xx is terminal for the stock provider: it does not reconnect and replay the bad update.
    expect(provider.shouldConnect).toBe(false);
    expect(provider.wsconnected).toBe(false);

    const after = await loadFromRedis(cartId);
    expect(after.version).toBe(before.version);
    expect(readCart(after.doc).status).toBe('open');
    expect(readCart(device.doc).status).toBe('open');
    expect(node.node.metrics.value('livecart_rejected_total', { code: 'E_UPDATE_FORBIDDEN_FIELD', transport: 'yws' })).toBeGreaterThanOrEqual(1);

    // A value out of range is rejected the same way (4422), and nothing is stored either.
    const second = connectProvider(cartId, token);
    const secondCloses: number[] = [];
    second.on('connection-close', (event) => {
      if (event) secondCloses.push(event.code);
    });
    await waitFor(() => expect(second.synced).toBe(true));
    second.doc.getMap('qset').set('OK-1', { q: 1000, id: 'x1' });
    await waitFor(() => expect(secondCloses).toEqual([CLOSE.REJECTED.code]));
    expect((await loadFromRedis(cartId)).version).toBe(before.version);
    expect(quantityOf(device.doc, 'OK-1')).toBe(1);
    provider.destroy();
    second.destroy();
  });

  it('closes with 4413 (not 1009) when a sync is above the size limit, so the provider stops', async () => {
    const small = await startNode({ limits: { ...DEFAULT_LIMITS, maxUpdateBytes: 2048, maxSyncBytes: 4096 } });
    try {
      const { cartId } = await small.createCart();
      const token = await small.token([cartId], { subject: 'erin' });
      const actor: Actor = { id: 'erin', role: 'customer' };
      const before = (await small.node.store.load(cartId, 0)).version;
      // Offline edits well above maxSyncBytes + 1 KiB (the old frame cap, where ws closed with 1009).
      const offline = new Y.Doc();
      for (let i = 0; i < 10; i++) addLine(offline, { sku: `BIG-${i}`, quantity: 1, note: 'x'.repeat(700) }, actor);
      expect(Y.encodeStateAsUpdate(offline).byteLength).toBeGreaterThan(4096 + 1024);
      const provider = stockYjsClient(small.port, cartId, token, offline);
      providers.push(provider);
      const closes: number[] = [];
      provider.on('connection-close', (event) => {
        if (event) closes.push(event.code);
      });
      await waitFor(() => expect(closes).toEqual([CLOSE.TOO_LARGE.code]));
      expect(provider.shouldConnect).toBe(false);
      expect((await small.node.store.load(cartId, 0)).version).toBe(before);
      provider.destroy();
    } finally {
      await small.close();
    }
  });

  it('shows REST mutations live in the provider doc', async () => {
    const { cartId, token } = await newCart('dave');
    const provider = connectProvider(cartId, token);
    await waitFor(() => expect(provider.synced).toBe(true));

    const added = await node.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: 'MUG-3', quantity: 2 } });
    expect(added.status).toBe(201);
    await waitFor(() => expect(quantityOf(provider.doc, 'MUG-3')).toBe(2));
    expect(readCart(provider.doc).lines[0]?.addedBy).toEqual({ id: 'dave', role: 'customer' });

    const coupons = await node.request('PUT', `/v1/carts/${cartId}/coupons`, { token, body: { codes: ['save10'] } });
    expect(coupons.status).toBe(200);
    await waitFor(() => expect(readCart(provider.doc).coupons).toEqual(['SAVE10']));

    const removed = await node.request('DELETE', `/v1/carts/${cartId}/lines/MUG-3`, { token });
    expect(removed.status).toBe(204);
    await waitFor(() => expect(readCart(provider.doc).lines).toEqual([]));
    provider.destroy();
  });
});

describe('/yjs upgrade requests', () => {
  it('a path with broken percent-encoding is refused with 400 and the node keeps serving', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${node.port}/yjs/%E0%A4%A?token=x`);
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on('open', () => reject(new Error('upgraded')));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(400);
    expect((await node.request('GET', '/healthz')).status).toBe(200);
  });
});
