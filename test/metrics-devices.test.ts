/**
 * `livecart_connected_devices` counts devices: authenticated connections of both transports, not
 * transport-level connections that never presented a valid token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Manager } from 'socket.io-client';
import { WebSocket } from 'ws';
import { type TestNode, startNode } from './helpers/node.ts';
import { connectSocket } from './helpers/raw-device.ts';
import { once, waitFor } from './helpers/wait.ts';

let node: TestNode;
beforeAll(async () => {
  node = await startNode();
});
afterAll(async () => {
  await node.close();
});

const scraped = async (): Promise<number> => {
  const res = await fetch(`${node.url}/metrics`);
  const match = /^livecart_connected_devices (\d+)$/m.exec(await res.text());
  return match ? Number(match[1]) : Number.NaN;
};

describe('connected devices metric', () => {
  it('finding 10: livecart_connected_devices counts authenticated Socket.IO devices and /yjs connections, not bare or refused handshakes', async () => {
    const { cartId, token } = await node.createCart();
    expect(await scraped()).toBe(0);
    // An engine.io connection that never authenticates (no namespace handshake): not a device.
    const bare = new Manager(node.url, { transports: ['websocket'], reconnection: false, autoConnect: false });
    await new Promise<void>((resolve, reject) => bare.open((err) => (err ? reject(err) : resolve())));
    await expect(connectSocket(node.url, 'not-a-token')).rejects.toThrow();
    expect(await scraped()).toBe(0);

    const device = await connectSocket(node.url, token);
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/yjs/${cartId}?token=${token}`);
    await once(ws, 'open');
    await waitFor(async () => expect(await scraped()).toBe(2));

    device.close();
    ws.close();
    await waitFor(async () => expect(await scraped()).toBe(0));
    bare.engine?.close();
  });
});
