/**
 * A /yjs client may send before its cart is loaded; what waits for the load is bounded (count and
 * bytes) and admitted on receipt, like any other message. The load is held back by pausing a
 * private redis-server (CLIENT PAUSE), so no other test's Redis is touched.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import * as Y from 'yjs';
import { CLOSE, encodeWsSync, writeSyncStep1 } from '../protocol/index.ts';
import { type EmbeddedRedis, startRedisServer } from '../core/embedded-redis.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { once } from './helpers/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'lc-yws-loading-'));
let redisServer: EmbeddedRedis;
let admin: Redis;
let node: TestNode;
beforeAll(async () => {
  redisServer = await startRedisServer(dir, { appendonly: false });
  admin = new Redis(redisServer.url);
  node = await startNode({ sessionQueueMax: 16 }, redisServer.url);
});
afterAll(async () => {
  await node.close();
  admin.disconnect();
  await redisServer.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('/yjs while its cart loads', () => {
  it('one session: /yjs frames sent before the cart loaded are bounded; past the session queue the connection closes with 4429 while the cart still loads', async () => {
    const cartId = 'loading-cart-0001';
    const token = await node.token([cartId]);
    // Redis runs no script for 3 s: the node's load of the cart (a script) waits that long, while
    // reads go on (the upgrade reads the token's revocation: SPEC §2 "Sign-out everywhere").
    await admin.call('CLIENT', 'PAUSE', '3000', 'WRITE');
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/yjs/${cartId}?token=${token}`);
    const closed = new Promise<[number, string]>((resolve) => ws.on('close', (code, reason) => resolve([code, reason.toString()])));
    await once(ws, 'open');
    const frame = encodeWsSync(writeSyncStep1(Y.encodeStateVector(new Y.Doc())));
    for (let i = 0; i < 100; i++) ws.send(frame);
    expect(await closed).toEqual([CLOSE.RATE_LIMITED.code, 'E_RATE_LIMITED']);
    // Closed on receipt, while the cart was still loading (not once it had loaded).
    expect(node.node.registry.peek(cartId)).toBeUndefined();
    expect(node.node.metrics.value('livecart_session_work_total', { outcome: 'refused', transport: 'yws' })).toBeGreaterThan(0);
  });
});
