/**
 * A revocation whose notice a node missed (its subscription dropped: pub/sub drops messages across
 * a reconnect) still cuts that node's sessions: once subscribed again, the node re-checks its open
 * sessions against Redis. A private redis-server, so killing its pub/sub clients touches no other test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CartClosed, JoinResult } from '../protocol/index.ts';
import { type EmbeddedRedis, startRedisServer } from '../core/embedded-redis.ts';
import { Keys } from '../core/keys.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { waitFor } from './helpers/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'lc-revoke-'));
let redisServer: EmbeddedRedis;
let admin: Redis;
let node: TestNode;
beforeAll(async () => {
  redisServer = await startRedisServer(dir, { appendonly: false });
  admin = new Redis(redisServer.url);
  node = await startNode({}, redisServer.url);
});
afterAll(async () => {
  await node.close();
  admin.disconnect();
  await redisServer.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a revocation notice lost on the way', () => {
  it('is caught up when the node subscribes again: the session is cut', async () => {
    const { cartId } = await node.createCart();
    const subject = 'cust-missed';
    const token = await node.token([cartId], { subject });
    const socket = io(node.url, { transports: ['websocket'], auth: { token }, forceNew: true, reconnection: false });
    const joined = await new Promise<JoinResult>((resolve) => socket.emit('join', cartId, {}, resolve));
    expect(joined.ok).toBe(true);
    const closed = new Promise<CartClosed>((resolve) => socket.on('cart-closed', (_id: string, c: CartClosed) => resolve(c)));
    // The revocation is stored, but its notice is never published (as if lost), and the node's
    // subscriptions drop.
    await admin.set(new Keys(node.config.keyPrefix).revoked(subject), String(Date.now()), 'PX', 60_000);
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    expect(await closed).toMatchObject({ reason: 'revoked', error: { code: 'E_AUTH_REVOKED' } });
    await waitFor(() => expect(socket.connected).toBe(false));
    socket.close();
  });
});
