/**
 * Every Redis connection livecart opens is made here, for one Redis (REDIS_URL) or a Redis Cluster
 * (REDIS_CLUSTER_NODES), so the rest of the code holds a `RedisClient` and never asks which.
 * Connections are made by bin/livecart.ts (and tests) and injected; nothing below core/ connects.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

/** A connection to one Redis or to a Redis Cluster; both speak the same commands. */
export type RedisClient = Redis | Cluster;

/** One node of a Redis Cluster, as REDIS_CLUSTER_NODES names it. */
export interface ClusterSeed {
  host: string;
  port: number;
}

/** Where Redis is: one server by URL, or a cluster found from seed nodes. */
export type RedisTarget = { url: string } | { cluster: ClusterSeed[] };

/**
 * What a connection is for:
 * - `commands`: request paths; a command fails after 2 reconnect attempts rather than hang a request.
 * - `blocking`: BullMQ workers and the Socket.IO adapter; commands wait for Redis to come back
 *   (BullMQ requires maxRetriesPerRequest: null, and the adapter publishes without handling failures).
 * - `subscriber`: classic pub/sub only (SUBSCRIBE: on a cluster, one connection to any node).
 * - `sharded-subscriber`: sharded pub/sub (SSUBSCRIBE: on a cluster, one connection per primary,
 *   subscribed again after a failover moves a slot).
 */
export type RedisUse = 'commands' | 'blocking' | 'subscriber' | 'sharded-subscriber';

const PER_USE: Record<RedisUse, RedisOptions> = {
  commands: { maxRetriesPerRequest: 2 },
  blocking: { maxRetriesPerRequest: null },
  subscriber: { maxRetriesPerRequest: null },
  'sharded-subscriber': { maxRetriesPerRequest: null },
};

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/** Options of a Cluster client for `use`. */
function clusterOptions(use: RedisUse, extra: RedisOptions): ClusterOptions {
  return {
    redisOptions: { ...PER_USE[use], ...extra },
    // Reads go to primaries: a replica may not have an append yet, and a node reads its own writes.
    scaleReads: 'master',
    // Commands issued while the slot map is loading (start, failover) wait instead of failing.
    enableOfflineQueue: true,
    // During a failover (cluster-node-timeout plus the election) a command to the dead primary is
    // retried on the refreshed map: 16 redirections × 250 ms covers a few seconds of failover.
    retryDelayOnFailover: 250,
    retryDelayOnClusterDown: 250,
    retryDelayOnTryAgain: 250,
    // Topology changes (a promoted replica) are noticed from MOVED replies and this periodic refresh.
    slotsRefreshInterval: 2000,
    // The sharded Socket.IO adapter subscribes per cart room with SSUBSCRIBE: one subscriber per primary.
    shardedSubscribers: use === 'sharded-subscriber',
  };
}

/** A new connection to `target` for `use` (`extra`: per-connection options, e.g. lazyConnect). */
export function connectRedis(target: RedisTarget, use: RedisUse, extra: RedisOptions = {}): RedisClient {
  if ('url' in target) return new Redis(target.url, { ...PER_USE[use], ...extra });
  return new Cluster(target.cluster, clusterOptions(use, extra));
}

/** Another connection to what `client` connects to, for `use` (subscribers need their own). */
export function duplicateRedis(client: RedisClient, use: RedisUse): RedisClient {
  if (isCluster(client)) return client.duplicate([], clusterOptions(use, {}));
  return client.duplicate(PER_USE[use]);
}

/** "host:port,host:port" (REDIS_CLUSTER_NODES) as seeds; null when a part is not host:port. */
export function parseClusterSeeds(raw: string): ClusterSeed[] | null {
  const seeds: ClusterSeed[] = [];
  for (const part of raw.split(',').map((p) => p.trim())) {
    const m = /^([A-Za-z0-9._-]+):(\d{1,5})$/.exec(part);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) return null;
    seeds.push({ host: m[1] as string, port });
  }
  return seeds.length > 0 ? seeds : null;
}

export function describeTarget(target: RedisTarget, mask: (url: string) => string): string {
  return 'url' in target ? mask(target.url) : `cluster ${target.cluster.map((s) => `${s.host}:${s.port}`).join(',')}`;
}
