/**
 * Shutdown and background timers: a node's close waits for the revalidations it asked for, and
 * the heartbeat's periodic checks never leave a rejection unhandled while Redis is down.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startRedisServer, type EmbeddedRedis } from '../core/embedded-redis.ts';
import { createLogger } from '../core/log.ts';
import { REVALIDATE_QUEUE, bullPrefix } from '../core/queues.ts';
import { NodeHeartbeat } from '../server/cluster/heartbeat.ts';
import { startNode } from './helpers/node.ts';
import { waitFor } from './helpers/wait.ts';

const dirs: string[] = [];
const servers: EmbeddedRedis[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('shutdown', () => {
  it('hole 7: close() waits for a revalidation request still on its way to the queue', async () => {
    // A Redis of its own: the test pauses its writes, which would slow every other test's Redis.
    const dir = mkdtempSync(join(tmpdir(), 'livecart-shutdown-'));
    dirs.push(dir);
    const server = await startRedisServer(dir);
    servers.push(server);
    const node = await startNode({ socketAdapter: 'local', shutdownGraceMs: 10_000 }, server.url);
    const admin = new Redis(server.url);
    try {
      // Writes wait ~1 s: the enqueue below is still in flight when close() starts.
      await admin.call('CLIENT', 'PAUSE', '1000', 'WRITE');
      node.node.revalidation.request('cart-being-revalidated');
      expect(node.node.revalidation.pending).toBe(1);
      await node.close();
      expect(node.node.revalidation.pending).toBe(0);
      const queue = new Queue(REVALIDATE_QUEUE, { connection: admin, prefix: bullPrefix(node.config.keyPrefix, REVALIDATE_QUEUE) });
      const counts = await queue.getJobCounts('delayed', 'waiting', 'prioritized');
      expect((counts.delayed ?? 0) + (counts.waiting ?? 0) + (counts.prioritized ?? 0)).toBe(1);
    } finally {
      admin.disconnect();
    }
  }, 30_000);
});

describe('heartbeat', () => {
  it('hole 7: its liveness checks failing during a Redis outage leave no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    // A Redis that is down: every command fails at once.
    const dead = new Redis(`redis://127.0.0.1:${await freePort()}`, { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, lazyConnect: true });
    dead.on('error', () => undefined);
    const heartbeat = new NodeHeartbeat(dead, 'hb', 'n1', 20, createLogger('silent'));
    let ticks = 0;
    try {
      await heartbeat.start(async () => {
        ticks += 1;
        await dead.exists('hb:node:n2');
      });
      await waitFor(() => expect(ticks).toBeGreaterThanOrEqual(3));
      // Rejections are reported to the process on the next turn: give the last one time to show.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      await heartbeat.stop();
      process.off('unhandledRejection', onUnhandled);
      dead.disconnect();
    }
  });
});
