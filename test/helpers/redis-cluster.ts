/**
 * A real Redis Cluster for a test file (core/embedded-cluster.ts: three primaries and three
 * replicas on free loopback ports by default), with what fault tests need: which primary serves a
 * key, killing a primary and waiting for its replica's promotion, bringing the node back. One per
 * test file (tests isolate themselves with unique key prefixes); `stop()` kills every server and
 * removes their directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onNode, startRedisCluster as startEmbeddedCluster, until } from '../../core/embedded-cluster.ts';
import type { ClusterSeed } from '../../core/redis/connect.ts';

export interface TestRedisCluster {
  /** Every node (primaries and replicas) as seeds for REDIS_CLUSTER_NODES / connectRedis. */
  seeds: ClusterSeed[];
  /** The port of the primary now serving `key`'s slot. */
  primaryOf(key: string): Promise<number>;
  /** The port of a replica of the primary on `port`. */
  replicaOf(port: number): Promise<number>;
  /** SIGKILL the node on `port`, then wait until one of its replicas took over its slots. */
  killPrimary(port: number): Promise<void>;
  /** Start the node on `port` again (same config file): it rejoins, as a replica of its successor. */
  restart(port: number): Promise<void>;
  stop(): Promise<void>;
}

/** A node's slot map: [from, to, primary port, replica ports…]. */
const slotMap = (port: number): Promise<number[][]> => onNode(port, async (r) => (await r.cluster('SLOTS')).map(([from, to, ...nodes]) => [from, to, ...nodes.map((n) => n[1])]));
const clusterInfo = (port: number): Promise<string> => onNode(port, async (r) => String(await r.cluster('INFO')));

export async function startRedisCluster({ primaries = 3, replicas = 1 }: { primaries?: number; replicas?: number } = {}): Promise<TestRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'livecart-test-cluster-'));
  let cluster;
  try {
    cluster = await startEmbeddedCluster(dir, { primaries, replicas });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const { servers } = cluster;
  const live = (): number[] => [...servers].filter(([, s]) => s.process.exitCode === null && s.process.signalCode === null).map(([p]) => p);
  const anyLive = (): number => {
    const port = live()[0];
    if (port === undefined) throw new Error('no node left');
    return port;
  };
  return {
    seeds: cluster.seeds,
    async primaryOf(key) {
      const slot = Number(await onNode(anyLive(), (r) => r.cluster('KEYSLOT', key)));
      const range = (await slotMap(anyLive())).find(([from = 0, to = 0]) => slot >= from && slot <= to);
      if (range?.[2] === undefined) throw new Error(`no node serves slot ${slot}`);
      return range[2];
    },
    async replicaOf(port) {
      const replica = (await slotMap(anyLive())).find((range) => range[2] === port)?.[3];
      if (replica === undefined) throw new Error(`the primary on ${port} has no replica`);
      return replica;
    },
    async killPrimary(port) {
      const server = servers.get(port);
      if (!server) throw new Error(`no node on ${port}`);
      server.process.kill('SIGKILL');
      await server.stop();
      // A replica of the killed primary is promoted once the others mark it failed (node timeout
      // 1 s, then an election): done when every live node is ok and routes no slot to it.
      await until(async () => {
        for (const p of live()) {
          if (!(await clusterInfo(p)).includes('cluster_state:ok')) throw new Error(`node ${p} not ok`);
          if ((await slotMap(p)).some((range) => range[2] === port)) throw new Error(`node ${p} still routes slots to the killed primary`);
        }
      });
    },
    async restart(port) {
      await cluster.restartNode(port);
      await until(async () => {
        const replication = await onNode(port, (r) => r.info('replication'));
        if (!replication.includes('role:slave') || !replication.includes('master_link_status:up')) throw new Error(`node ${port} has not rejoined as a replica`);
      });
    },
    async stop() {
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
