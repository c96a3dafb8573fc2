/**
 * A real Redis Cluster for a test file: `primaries` redis-servers with `--cluster-enabled yes` on
 * free loopback ports (each with `replicas` replicas), joined by `redis-cli --cluster create`,
 * ready once every node reports cluster_state:ok and every replica's link is up. One per test file
 * (tests isolate themselves with unique key prefixes); `stop()` kills every server and removes
 * their directory.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { type EmbeddedRedis, freePort, startRedisServer } from '../../core/embedded-redis.ts';
import type { ClusterSeed } from '../../core/redis/connect.ts';
import { waitFor } from './wait.ts';

const run = promisify(execFile);

export interface TestRedisCluster {
  /** Every node (primaries and replicas) as seeds for REDIS_CLUSTER_NODES / connectRedis. */
  seeds: ClusterSeed[];
  /** The port of the primary now serving `key`'s slot. */
  primaryOf(key: string): Promise<number>;
  /** The port of a replica of the primary on `port`. */
  replicaOf(port: number): Promise<number>;
  /** SIGKILL the node on `port`, then wait until one of its replicas took over its slots. */
  killPrimary(port: number): Promise<void>;
  /** Start the node on `port` again (same config file: it rejoins, as a replica of its successor). */
  restart(port: number): Promise<void>;
  /** Ports of the running nodes that are primaries. */
  primaries(): Promise<number[]>;
  stop(): Promise<void>;
}

/** Two free ports that are not each other (the node's and its cluster bus port). */
async function portPair(taken: Set<number>): Promise<[number, number]> {
  const pick = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  return [await pick(), await pick()];
}


/** One command to the node on `port` (a fresh connection: the node may be about to die). */
async function onNode<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

const info = (port: number, section: string): Promise<string> => onNode(port, async (r) => (section === 'cluster' ? String(await r.cluster('INFO')) : r.info(section)));
/** The node's slot map: [from, to, primary port]. */
const slotMap = (port: number): Promise<Array<[number, number, number]>> => onNode(port, async (r) => (await r.cluster('SLOTS')).map(([from, to, primary]) => [from, to, primary?.[1] ?? 0]));

export async function startRedisCluster({ primaries = 3, replicas = 1 }: { primaries?: number; replicas?: number } = {}): Promise<TestRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'livecart-test-cluster-'));
  const taken = new Set<number>();
  const servers = new Map<number, EmbeddedRedis>();
  const buses = new Map<number, number>();
  const startNode = (port: number): Promise<EmbeddedRedis> => {
    const nodeDir = join(dir, String(port));
    const args = ['--cluster-enabled', 'yes', '--cluster-config-file', join(nodeDir, 'nodes.conf'), '--cluster-node-timeout', '1000', '--cluster-port', String(buses.get(port))];
    return startRedisServer(nodeDir, { port, appendonly: false, args });
  };
  const stop = async (): Promise<void> => {
    await Promise.all([...servers.values()].map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < primaries * (1 + replicas); i++) {
      const [port, bus] = await portPair(taken);
      buses.set(port, bus);
      servers.set(port, await startNode(port));
    }
    const ports = [...servers.keys()];
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { timeout: 20_000 });
    await waitFor(
      async () => {
        for (const port of ports) {
          const cluster = await info(port, 'cluster');
          if (!cluster.includes('cluster_state:ok') || !cluster.includes(`cluster_known_nodes:${ports.length}`)) throw new Error(`node ${port} not ready`);
          const replication = await info(port, 'replication');
          if (replication.includes('role:slave') && !replication.includes('master_link_status:up')) throw new Error(`replica ${port} not in sync`);
        }
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  } catch (err) {
    await stop();
    throw err;
  }

  const live = (): number[] => [...servers].filter(([, s]) => s.process.exitCode === null && s.process.signalCode === null).map(([p]) => p);
  const anyLive = (): number => {
    const port = live()[0];
    if (port === undefined) throw new Error('no node left');
    return port;
  };
  const primaryPorts = async (): Promise<number[]> => [...new Set((await slotMap(anyLive())).map((range) => range[2]))];

  return {
    seeds: [...servers.keys()].map((port) => ({ host: '127.0.0.1', port })),
    async primaryOf(key) {
      const slot = Number(await onNode(anyLive(), (r) => r.cluster('KEYSLOT', key)));
      const range = (await slotMap(anyLive())).find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no node serves slot ${slot}`);
      return range[2];
    },
    async replicaOf(port) {
      const range = (await onNode(anyLive(), (r) => r.cluster('SLOTS'))).find(([, , primary]) => primary?.[1] === port);
      const replica = range?.[3]?.[1];
      if (replica === undefined) throw new Error(`the primary on ${port} has no replica`);
      return replica;
    },
    async killPrimary(port) {
      const server = servers.get(port);
      if (!server) throw new Error(`no node on ${port}`);
      server.process.kill('SIGKILL');
      await server.stop();
      // A replica of the killed primary is promoted once the others mark it failed (node timeout
      // 1 s, then an election): the cluster is whole again when every live node says ok.
      await waitFor(
        async () => {
          for (const p of live()) {
            if (!(await info(p, 'cluster')).includes('cluster_state:ok')) throw new Error(`node ${p} not ok`);
            if ((await slotMap(p)).some((range) => range[2] === port)) throw new Error(`node ${p} still routes slots to the killed primary`);
          }
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
    },
    async restart(port) {
      servers.set(port, await startNode(port));
      await waitFor(
        async () => {
          const replication = await info(port, 'replication');
          if (!replication.includes('role:slave') || !replication.includes('master_link_status:up')) throw new Error(`node ${port} has not rejoined as a replica`);
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
    },
    primaries: primaryPorts,
    stop,
  };
}
