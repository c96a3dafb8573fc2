/**
 * A private Redis Cluster on loopback, for `npm run cluster -- --redis-cluster N` and the tests:
 * N primaries with `replicas` replicas each (redis-server --cluster-enabled yes, free ports, one
 * directory per node), joined by `redis-cli --cluster create`. Ready once every node reports
 * cluster_state:ok, knows every other node and every primary's replicas, and every replica's link
 * to its primary is up.
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { type EmbeddedRedis, EmbeddedRedisError, freePort, startRedisServer } from './embedded-redis.ts';
import type { ClusterSeed } from './redis/connect.ts';

const run = promisify(execFile);
const READY_MS = 20_000;

export interface EmbeddedCluster {
  /** Every node (primaries and replicas): seeds for REDIS_CLUSTER_NODES. */
  seeds: ClusterSeed[];
  /** The running redis-server of each node, by port. */
  servers: Map<number, EmbeddedRedis>;
  /** Start the node on `port` again with its cluster config file (after a kill): it rejoins. */
  restartNode(port: number): Promise<void>;
  stop(): Promise<void>;
}

/** One command to the node on `port`, on a connection of its own (the node may be about to die). */
export async function onNode<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

/** Re-run `check` until it stops throwing, or rethrow its last error after `ms`. */
export async function until(check: () => Promise<void>, ms = READY_MS): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startRedisCluster(dir: string, { primaries = 3, replicas = 1 }: { primaries?: number; replicas?: number } = {}): Promise<EmbeddedCluster> {
  const root = resolve(dir);
  mkdirSync(root, { recursive: true });
  const taken = new Set<number>();
  const port = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  const servers = new Map<number, EmbeddedRedis>();
  // The cluster bus port is chosen too (cluster-port), not left at port + 10000, which may be taken.
  const buses = new Map<number, number>();
  const startNode = (p: number): Promise<EmbeddedRedis> => {
    const nodeDir = join(root, String(p));
    const args = ['--cluster-enabled', 'yes', '--cluster-config-file', join(nodeDir, 'nodes.conf'), '--cluster-node-timeout', '1000', '--cluster-port', String(buses.get(p))];
    return startRedisServer(nodeDir, { port: p, appendonly: false, args });
  };
  const stop = async (): Promise<void> => {
    await Promise.all([...servers.values()].map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < primaries * (1 + replicas); i++) {
      const p = await port();
      buses.set(p, await port());
      servers.set(p, await startNode(p));
    }
    const ports = [...servers.keys()];
    try {
      await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: READY_MS });
    } catch (err) {
      throw new EmbeddedRedisError(`redis-cli --cluster create failed (is redis-cli installed? Debian/Ubuntu: apt-get install redis-tools): ${err instanceof Error ? err.message : String(err)}`);
    }
    await until(async () => {
      for (const p of ports) {
        const info = await onNode(p, async (r) => `${String(await r.cluster('INFO'))}\n${await r.info('replication')}`);
        if (!info.includes('cluster_state:ok') || !info.includes(`cluster_known_nodes:${ports.length}`)) throw new Error(`node ${p} is not part of a healthy cluster yet`);
        if (info.includes('role:slave') && !info.includes('master_link_status:up')) throw new Error(`replica ${p} is not in sync yet`);
        // Every node's slot map names each primary's replicas (gossip may still be spreading them).
        const slots = await onNode(p, (r) => r.cluster('SLOTS'));
        if (slots.some((range) => range.length - 3 < replicas)) throw new Error(`node ${p} does not know every replica yet`);
      }
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    seeds: [...servers.keys()].map((p) => ({ host: '127.0.0.1', port: p })),
    servers,
    async restartNode(p) {
      servers.set(p, await startNode(p));
    },
    stop,
  };
}
