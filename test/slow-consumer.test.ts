/**
 * A connection that stops reading cannot make the node hold a copy of every change relayed to it:
 * past LIVECART_MAX_BUFFERED_BYTES unread, it is closed as a slow consumer (4008) and forgotten.
 */
import { randomBytes } from 'node:crypto';
import type { Socket as NetSocket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { DEFAULT_CONFIG } from '../core/config.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { connectSocket } from './helpers/raw-device.ts';
import { once, waitFor } from './helpers/wait.ts';

let node: TestNode;
beforeAll(async () => {
  // The relayed changes are large on purpose: the cart's write budget is lifted out of their way.
  node = await startNode({ maxBufferedBytes: 256 * 1024, abuse: { ...DEFAULT_CONFIG.abuse, writeBudgetCartBytes: 1024 * 1024 * 1024 } });
});
afterAll(async () => {
  await node.close();
});

const closedAs = (reason: string, transport: string): number => node.node.metrics.value('livecart_sessions_closed_total', { reason, transport });
const devices = async (): Promise<number> => Number(/^livecart_connected_devices (\d+)$/m.exec(await node.node.metrics.render())?.[1]);

/** Relay ~480 KB changes of `cartId` (server-side writes) until `done()`, at most `max` of them. */
async function relayLargeChanges(cartId: string, done: () => boolean, max = 80): Promise<number> {
  const cart = await node.node.registry.acquire(cartId);
  let sent = 0;
  try {
    while (!done() && sent < max) {
      const padding = randomBytes(240 * 1024).toString('hex');
      await cart.applyServerChange((doc) => doc.getMap('cart').set('padding', padding), { kind: 'rest', requestId: `pad-${sent}` });
      sent += 1;
    }
  } finally {
    node.node.registry.release(cart);
  }
  return sent;
}

describe('slow consumers', () => {
  it('finding 5: a /yjs client that stops reading while large changes are relayed is closed as a slow consumer and its session freed', async () => {
    const { cartId, token } = await node.createCart();
    const baseline = await devices();
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/yjs/${cartId}?token=${token}`);
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    await once(ws, 'open');
    await waitFor(async () => expect(await devices()).toBe(baseline + 1));
    // The client stops reading: what the node sends piles up in its buffers.
    (ws as unknown as { _socket: NetSocket })._socket.pause();
    const sent = await relayLargeChanges(cartId, () => closedAs('slow-consumer', 'yws') > 0);
    expect(closedAs('slow-consumer', 'yws')).toBe(1);
    expect(sent).toBeLessThan(80);
    // Forgotten by the node: no device counted, no follower of the cart left.
    await waitFor(async () => expect(await devices()).toBe(baseline));
    expect(node.node.registry.peek(cartId)?.followers ?? 0).toBe(0);
    (ws as unknown as { _socket: NetSocket })._socket.resume();
    expect([4008, 1006]).toContain(await closed);
  });

  it('finding 5: a Socket.IO device that stops reading is sent away the same way (cart-closed slow-consumer, disconnected)', async () => {
    const { cartId, token } = await node.createCart();
    const baseline = await devices();
    const socket = await connectSocket(node.url, token);
    expect(await socket.emitWithAck('join', cartId, { device: 'slow' })).toMatchObject({ ok: true });
    const raw = (socket.io.engine.transport as unknown as { ws: { _socket: NetSocket } }).ws._socket;
    raw.pause();
    const sent = await relayLargeChanges(cartId, () => closedAs('slow-consumer', 'socketio') > 0);
    expect(closedAs('slow-consumer', 'socketio')).toBe(1);
    expect(sent).toBeLessThan(80);
    await waitFor(async () => expect(await devices()).toBe(baseline));
    raw.resume();
    socket.close();
  });
});
