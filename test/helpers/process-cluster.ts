/**
 * A cluster of real node processes on a private redis-server (AOF on) for fault tests: nodes can be
 * SIGKILLed, SIGTERMed and restarted on their port, Redis stopped, restarted and wiped.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { type CartHandle, LiveCartConnection, type LiveCartConnectionOptions } from '../../client/index.ts';
import { type EmbeddedRedis, startRedisServer } from '../../core/embedded-redis.ts';
import { uniquePrefix } from './node.ts';
import { type ProcessNode, startProcessNode } from './process-node.ts';

export interface ProcessCluster {
  redis: EmbeddedRedis;
  nodes: ProcessNode[];
  /** A plain client of the private Redis (for FLUSHALL and CLIENT KILL). */
  admin(): Redis;
  /** Start node `i` again on its port (after a kill). */
  restartNode(i: number): Promise<ProcessNode>;
  /** Stop Redis (SIGTERM: the AOF is written) and start it again on the same port and directory. */
  restartRedis(downMs: number): Promise<void>;
  createCart(): Promise<{ cartId: string; token: string }>;
  /** A device: a client connection to `urls` (retrying fast), tracked for close(). */
  connect(urls: string | string[], token: string, extra?: Partial<LiveCartConnectionOptions>): LiveCartConnection;
  close(): Promise<void>;
}

export async function startProcessCluster(nodeCount: number, env: Record<string, string> = {}): Promise<ProcessCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'lc-pcluster-'));
  let redis = await startRedisServer(dir, { appendonly: true });
  const keyPrefix = uniquePrefix();
  const fullEnv = (): Record<string, string> => ({ REDIS_URL: redis.url, LIVECART_KEY_PREFIX: keyPrefix, ...env });
  const nodes = await Promise.all(Array.from({ length: nodeCount }, () => startProcessNode(fullEnv())));
  const conns: LiveCartConnection[] = [];
  let admin: Redis | null = null;
  const cluster: ProcessCluster = {
    get redis() {
      return redis;
    },
    nodes,
    admin() {
      admin ??= new Redis(redis.url, { maxRetriesPerRequest: null });
      return admin;
    },
    async restartNode(i) {
      const old = nodes[i];
      if (!old) throw new Error(`no node ${i}`);
      await old.kill('SIGKILL');
      const fresh = await startProcessNode(fullEnv(), 'server', old.port);
      nodes[i] = fresh;
      return fresh;
    },
    async restartRedis(downMs) {
      const port = redis.port;
      await redis.stop();
      await new Promise((r) => setTimeout(r, downMs));
      redis = await startRedisServer(dir, { appendonly: true, port });
    },
    async createCart() {
      const node = nodes.find((n) => n.child.exitCode === null && n.child.signalCode === null);
      if (!node) throw new Error('no live node');
      const res = await fetch(`${node.url}/v1/carts`, { method: 'POST' });
      return (await res.json()) as { cartId: string; token: string };
    },
    connect(urls, token, extra = {}) {
      const conn = new LiveCartConnection({ url: urls, token, retryMinMs: 50, retryMaxMs: 300, ackTimeoutMs: 2000, syncCheckMs: 1000, ...extra });
      conns.push(conn);
      return conn;
    },
    async close() {
      await Promise.all(conns.map((c) => c.close()));
      await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
      admin?.disconnect();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}

/** Sorted skus of a cart's live lines. */
export const skusOf = (h: CartHandle): string[] => h.view.lines.map((l) => l.sku).sort();

/**
 * A paced stream of `count` edits, each adding a distinct line (E-0, E-1, …) on the next device in
 * turn; `during(i)` runs after edit i (faults are injected there). Returns the skus added.
 */
export async function editStream(devices: CartHandle[], count: number, during: (i: number) => Promise<void> | void = () => undefined): Promise<string[]> {
  const skus: string[] = [];
  for (let i = 0; i < count; i++) {
    const sku = `E-${String(i).padStart(3, '0')}`;
    devices[i % devices.length]?.add({ sku, quantity: 1 });
    skus.push(sku);
    await during(i);
    // Pacing: a stream over time, not one burst.
    await new Promise((r) => setTimeout(r, 8));
  }
  return skus.sort();
}

/** The cart as a node serves it over REST: sorted skus of its lines. */
export async function restSkus(url: string, cartId: string, token: string): Promise<string[]> {
  const res = await fetch(`${url}/v1/carts/${cartId}`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`GET cart: ${res.status}`);
  return ((await res.json()) as { lines: Array<{ sku: string }> }).lines.map((l) => l.sku).sort();
}
