/**
 * A token that expires mid-session ends the session at expiry, on both transports, without
 * waiting for the client's next message; a client refreshes its token on the live connection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CLOSE, type CartClosed, readCart, setAttribute } from '../protocol/index.ts';
import { LiveCartConnection } from '../client/index.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { RawDevice } from './helpers/raw-device.ts';
import { once, waitFor } from './helpers/wait.ts';

let node: TestNode;
beforeAll(async () => {
  node = await startNode();
});
afterAll(async () => {
  await node.close();
});

const roomMembers = (cartId: string): Set<string> => node.node.io.of('/').adapter.rooms.get(`cart:${cartId}`) ?? new Set();

describe('token expiry on a live connection', () => {
  it('finding 8: Socket.IO: at expiry the device gets cart-closed (unauthorized, E_AUTH_EXPIRED) and leaves the room, with no message of its own', async () => {
    const { cartId } = await node.createCart();
    const subject = 'expiring-sio';
    // jose's exp has one-second resolution: this expires 1-2 s from now.
    const device = await RawDevice.open(node.url, await node.token([cartId], { subject, ttlSeconds: 2 }), cartId);
    const other = await RawDevice.open(node.url, await node.token([cartId]), cartId);
    const closed = new Promise<CartClosed>((resolve) => device.socket.on('cart-closed', (_id, c) => resolve(c)));
    try {
      expect(roomMembers(cartId).has(device.socket.id!)).toBe(true);
      expect(await closed).toMatchObject({ reason: CLOSE.UNAUTHORIZED.name, error: { code: 'E_AUTH_EXPIRED' } });
      await waitFor(() => expect(roomMembers(cartId).has(device.socket.id!)).toBe(false));
      // The cart's changes no longer reach it: it is out of the room, the other device is in.
      expect(roomMembers(cartId).has(other.socket.id!)).toBe(true);
      expect(await device.syncFromServer()).toMatchObject({ ok: false, error: { code: 'E_AUTH_EXPIRED' } });
      expect(node.node.metrics.value('livecart_sessions_closed_total', { reason: 'unauthorized', transport: 'socketio' })).toBe(1);
    } finally {
      device.close();
      other.close();
    }
  });

  it('finding 8: /yjs: at expiry the connection closes with 4401 E_AUTH_EXPIRED, with no message of its own', async () => {
    const { cartId } = await node.createCart();
    const token = await node.token([cartId], { ttlSeconds: 2 });
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/yjs/${cartId}?token=${token}`);
    const closed = new Promise<[number, string]>((resolve) => ws.on('close', (code, reason) => resolve([code, reason.toString()])));
    await once(ws, 'open');
    expect(await closed).toEqual([CLOSE.UNAUTHORIZED.code, 'E_AUTH_EXPIRED']);
  });

  it('finding 8: Socket.IO: refresh-token on the live connection keeps the session past the old expiry; other subjects and grants are refused', async () => {
    const { cartId } = await node.createCart();
    const subject = 'refreshing-sio';
    const device = await RawDevice.open(node.url, await node.token([cartId], { subject, ttlSeconds: 2 }), cartId);
    const other = await RawDevice.open(node.url, await node.token([cartId]), cartId);
    const closes: CartClosed[] = [];
    device.socket.on('cart-closed', (_id, c) => closes.push(c));
    try {
      const { cartId: otherCart } = await node.createCart();
      expect(await device.socket.emitWithAck('refresh-token', await node.token([cartId], { subject: 'someone-else' }))).toMatchObject({ ok: false, error: { code: 'E_AUTH_FORBIDDEN' } });
      expect(await device.socket.emitWithAck('refresh-token', await node.token([otherCart], { subject }))).toMatchObject({ ok: false, error: { code: 'E_AUTH_FORBIDDEN' } });
      expect(await device.socket.emitWithAck('refresh-token', 'not-a-token')).toMatchObject({ ok: false, error: { code: 'E_AUTH_INVALID' } });
      const refreshed = await device.socket.emitWithAck('refresh-token', await node.token([cartId], { subject, ttlSeconds: 3600 }));
      expect(refreshed).toMatchObject({ ok: true });
      // Past the first token's expiry: still joined, still receiving.
      const firstExpiry = Date.now() + 2500;
      await waitFor(() => expect(Date.now()).toBeGreaterThan(firstExpiry), { timeoutMs: 4000, intervalMs: 100 });
      expect(await other.change((d) => setAttribute(d, 'seen', 'after-refresh'))).toMatchObject({ ok: true });
      await waitFor(() => expect(readCart(device.doc).attributes).toMatchObject({ seen: 'after-refresh' }));
      expect(await device.change((d) => setAttribute(d, 'wrote', 'after-refresh'))).toMatchObject({ ok: true });
      expect(closes).toEqual([]);
    } finally {
      device.close();
      other.close();
    }
  });

  it('finding 8: the client library refreshes its token with getToken before expiry and keeps syncing', async () => {
    const { cartId } = await node.createCart();
    const subject = 'library-refresh';
    let asked = 0;
    const conn = new LiveCartConnection({
      url: node.url,
      token: await node.token([cartId], { subject, ttlSeconds: 2 }),
      getToken: async () => {
        asked += 1;
        return node.token([cartId], { subject, ttlSeconds: 3600 });
      },
      refreshBeforeMs: 1000,
      retryMinMs: 20,
    });
    const other = await RawDevice.open(node.url, await node.token([cartId]), cartId);
    try {
      const handle = await conn.open(cartId);
      await waitFor(() => expect(asked).toBe(1), { timeoutMs: 4000 });
      const firstExpiry = Date.now() + 2500;
      await waitFor(() => expect(Date.now()).toBeGreaterThan(firstExpiry), { timeoutMs: 4000, intervalMs: 100 });
      expect(await other.change((d) => setAttribute(d, 'seen', 'by-library'))).toMatchObject({ ok: true });
      await waitFor(() => expect(handle.view.attributes).toMatchObject({ seen: 'by-library' }));
      expect(handle.online).toBe(true);
    } finally {
      other.close();
      await conn.close();
    }
  });
});
