/**
 * livecart on a real Redis Cluster (three primaries, three replicas, started by the test):
 * devices on two nodes sync through the sharded adapter, REST works on every node, workers
 * revalidate and fan catalog changes out, compaction folds the log, and every operation that
 * touches several keys keeps them in one slot while carts and queues spread over the shards.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CartHandle, LiveCartConnection } from '../client/index.ts';
import { type Actor, addLine, readCart, setQuantity } from '../protocol/index.ts';
import { loadSeed } from '../core/catalog/catalog-store.ts';
import { type Config, DEFAULT_CONFIG } from '../core/config.ts';
import { Keys } from '../core/keys.ts';
import { COMPACT_QUEUE, FANOUT_QUEUE, REVALIDATE_QUEUE, bullPrefix } from '../core/queues.ts';
import { type RedisClient, connectRedis } from '../core/redis/connect.ts';
import { TEST_ADMIN_TOKEN, type TestNode, startNode, uniquePrefix } from './helpers/node.ts';
import { RawDevice } from './helpers/raw-device.ts';
import { type TestRedisCluster, startRedisCluster } from './helpers/redis-cluster.ts';
import { type TestWorkers, startTestWorkers } from './helpers/workers.ts';
import { waitFor } from './helpers/wait.ts';

let cluster: TestRedisCluster;
let admin: RedisClient;
let keyslot: RedisClient;
const nodes: TestNode[] = [];
const workers: TestWorkers[] = [];
const conns: LiveCartConnection[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ primaries: 3, replicas: 1 });
  admin = connectRedis({ cluster: cluster.seeds }, 'commands');
  keyslot = connectRedis({ url: `redis://127.0.0.1:${cluster.seeds[0]!.port}` }, 'commands');
}, 60_000);
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()));
  for (const w of workers) await w.close();
  for (const n of nodes) await n.close();
  admin?.disconnect();
  keyslot?.disconnect();
  await cluster?.stop();
});

/** The configuration REDIS_CLUSTER_NODES gives (sharded adapter, one replica wait), plus `overrides`. */
function clusterConfig(overrides: Partial<Config>): Partial<Config> {
  return { socketAdapter: 'sharded', redis: { ...DEFAULT_CONFIG.redis, clusterNodes: cluster.seeds, waitReplicas: 1 }, socketRatePerSecond: 10_000, socketBurst: 10_000, ...overrides };
}

async function clusterNode(overrides: Partial<Config> = {}): Promise<TestNode> {
  const node = await startNode(clusterConfig(overrides), { cluster: cluster.seeds });
  nodes.push(node);
  return node;
}

function open(node: TestNode, token: string, cartId: string, device: string): Promise<CartHandle> {
  const c = new LiveCartConnection({ url: node.url, token, device, retryMinMs: 20, retryMaxMs: 200 });
  conns.push(c);
  return c.open(cartId);
}

const lines = (h: CartHandle): Array<[string, number]> => h.view.lines.map((l): [string, number] => [l.lineId, l.quantity]).sort();
/** The slot of `key`, as the cluster computes it (CLUSTER KEYSLOT on one of its nodes). */
const slot = async (key: string): Promise<number> => Number(await keyslot.cluster('KEYSLOT', key));

describe('key layout on Redis Cluster', () => {
  it('keeps the keys of every multi-key operation in one slot, and spreads carts and queues over slots', async () => {
    const keys = new Keys('lc');
    // One cart's keys and its Idempotency-Key records: the append and claim scripts take them together.
    for (const cartId of ['cart-a', 'cart-b']) {
      const c = keys.cart(cartId);
      const slots = new Set(await Promise.all([c.meta, c.log, c.snap, keys.idempotency(cartId, 'digest'), keys.idempotencyIndex(cartId)].map(slot)));
      expect(slots.size).toBe(1);
    }
    // A caller's cart creations: record and index together.
    expect(new Set(await Promise.all([keys.idempotency('new-abc', 'd'), keys.idempotencyIndex('new-abc')].map(slot))).size).toBe(1);
    // Pricing rules are read and written in one MULTI.
    expect(new Set(await Promise.all([keys.rules('promotions'), keys.rules('priceLists'), keys.rulesVersion].map(slot))).size).toBe(1);
    // Each BullMQ queue's keys share a slot; the three queues use three slots.
    const queueSlots = await Promise.all(
      [COMPACT_QUEUE, REVALIDATE_QUEUE, FANOUT_QUEUE].map(async (q) => {
        const prefix = bullPrefix('lc', q);
        const slots = new Set(await Promise.all(['wait', 'active', 'delayed', 'meta', 'events', 'id', 'de:cart-a'].map((k) => slot(`${prefix}:${q}:${k}`))));
        expect(slots.size).toBe(1);
        return [...slots][0];
      }),
    );
    expect(new Set(queueSlots).size).toBe(3);
    // Carts spread: 300 cart ids land on every primary.
    const primaries = new Set(await Promise.all(Array.from({ length: 300 }, (_, i) => cluster.primaryOf(keys.cart(`cart-${i}`).meta))));
    expect(primaries.size).toBe(3);
  });
});

describe('start-up on Redis Cluster', () => {
  it('refuses to start when a primary has fewer replicas than appends wait for, naming the setting', () => {
    const seeds = cluster.seeds.map((s) => `${s.host}:${s.port}`).join(',');
    const res = spawnSync(process.execPath, ['--import', 'tsx', 'bin/livecart.ts', '--role', 'server'], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', REDIS_CLUSTER_NODES: seeds, LIVECART_REDIS_WAIT_REPLICAS: '2', LIVECART_DATA_DIR: mkdtempSync(join(tmpdir(), 'lc-wait-')), PORT: '0' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('fewer than 2 connected replicas (LIVECART_REDIS_WAIT_REPLICAS)');
  });
});

describe('devices and REST on two nodes over Redis Cluster', () => {
  let n1: TestNode;
  let n2: TestNode;
  beforeAll(async () => {
    const keyPrefix = uniquePrefix();
    n1 = await clusterNode({ keyPrefix });
    n2 = await clusterNode({ keyPrefix });
  });

  it('devices on different nodes sync both ways and see each other\'s presence', async () => {
    const { cartId, token } = await n1.createCart();
    const phone = await open(n1, token, cartId, 'phone');
    const laptop = await open(n2, token, cartId, 'laptop');
    phone.setViewing('SHOE');
    await waitFor(() => expect(laptop.presence.map((p) => [p.device, p.viewing])).toEqual([['phone', 'SHOE']]));
    phone.add({ sku: 'SHOE', quantity: 2 });
    await waitFor(() => expect(lines(laptop)).toEqual([['SHOE', 2]]));
    laptop.add({ sku: 'BELT', quantity: 1 });
    laptop.setQuantity('SHOE', 3);
    await waitFor(() => expect(lines(phone)).toEqual([['BELT', 1], ['SHOE', 3]]));
    phone.add({ sku: 'SOCK', quantity: 2 });
    laptop.add({ sku: 'SOCK', quantity: 1 });
    await Promise.all([phone.whenSaved(), laptop.whenSaved()]);
    const expected: Array<[string, number]> = [['BELT', 1], ['SHOE', 3], ['SOCK', 3]];
    await waitFor(() => {
      expect(lines(phone)).toEqual(expected);
      expect(lines(laptop)).toEqual(expected);
    });
  });

  it('REST changes on one node reach devices on the other, and Idempotency-Key replays hold', async () => {
    const { cartId, token } = await n1.createCart();
    const laptop = await open(n2, token, cartId, 'laptop');
    const add = () => n1.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: 'MUG', quantity: 2 }, headers: { 'idempotency-key': 'add-mug-1' } });
    const first = await add();
    expect(first.status).toBe(201);
    await waitFor(() => expect(lines(laptop)).toEqual([['MUG', 2]]));
    const replay = await add();
    expect(replay.status).toBe(first.status);
    expect(replay.body).toEqual(first.body);
    const patched = await n2.request('PATCH', `/v1/carts/${cartId}/lines/MUG`, { token, body: { quantity: 5 } });
    expect(patched.status).toBe(200);
    for (const n of [n1, n2]) {
      await waitFor(async () => {
        const res = await n.request('GET', `/v1/carts/${cartId}`, { token });
        expect(res.body.lines.map((l: { lineId: string; quantity: number }) => [l.lineId, l.quantity])).toEqual([['MUG', 5]]);
      });
    }
    await waitFor(() => expect(lines(laptop)).toEqual([['MUG', 5]]));
  });

  it('an acknowledged change is already on the replica of the cart\'s primary', async () => {
    const { cartId, token } = await n1.createCart();
    const meta = n1.node.store.keys(cartId).meta;
    const primary = await cluster.primaryOf(meta);
    const replicaPort = await cluster.replicaOf(primary);
    const replica = connectRedis({ url: `redis://127.0.0.1:${replicaPort}` }, 'commands');
    try {
      await replica.call('READONLY');
      for (let q = 1; q <= 20; q++) {
        const res = await n1.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: `SKU-${q}`, quantity: 1 } });
        expect(res.status).toBe(201);
        // No waiting: the node answered after WAIT counted the replica.
        expect(Number(await replica.hget(meta, 'version'))).toBeGreaterThanOrEqual(res.body.version);
      }
    } finally {
      replica.disconnect();
    }
  });

  it('a change no replica confirmed in time is not acknowledged (retryable), and is in the log', async () => {
    const { cartId, token } = await n1.createCart();
    // Two replicas asked for, one per primary exists: every wait falls short.
    const strict = await clusterNode({ keyPrefix: n1.config.keyPrefix, redis: { clusterNodes: cluster.seeds, waitReplicas: 2, waitTimeoutMs: 50 } });
    const before = (await n1.node.store.load(cartId, 0)).version;
    const res = await strict.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: 'CAP', quantity: 1 } });
    expect(res.status).toBe(503);
    expect(res.body.error).toMatchObject({ code: 'E_STORAGE_UNAVAILABLE', retryable: true });
    // The primary has it (a retry is a no-op); it was only not promised.
    expect((await n1.node.store.load(cartId, 0)).version).toBe(before + 1);
  });
});

describe('workers over Redis Cluster', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await clusterNode({ keyPrefix: uniquePrefix(), compactAfterChanges: 20 });
    await node.node.catalog.seedIfEmpty(loadSeed());
    workers.push(startTestWorkers(node));
  });

  it('revalidation prices a device\'s line, and a price change fans out to every open cart holding the SKU', async () => {
    const carts = await Promise.all(Array.from({ length: 24 }, () => node.createCart()));
    const handles = await Promise.all(carts.map(({ cartId, token }) => open(node, token, cartId, 'phone')));
    for (const h of handles) h.add({ sku: 'MUG-01', quantity: 1 });
    const price = (h: CartHandle) => h.view.lines.find((l) => l.sku === 'MUG-01')?.unitPrice?.amount;
    await waitFor(() => expect(handles.filter((h) => price(h) !== 1499).map((h) => h.cartId)).toEqual([]), { timeoutMs: 15_000 });
    const res = await node.request('PATCH', '/v1/catalog/products/MUG-01', { token: TEST_ADMIN_TOKEN, body: { price: { amount: 1299, currency: 'USD' } } });
    expect(res.status).toBe(200);
    await waitFor(() => expect(handles.filter((h) => price(h) !== 1299).map((h) => h.cartId)).toEqual([]), { timeoutMs: 15_000 });
    // The carts sit on every shard: the fan-out reached carts of all three primaries.
    const primaries = new Set(await Promise.all(carts.map(({ cartId }) => cluster.primaryOf(node.node.store.keys(cartId).meta))));
    expect(primaries.size).toBe(3);
  }, 60_000);

  it('compaction folds a long log into a snapshot that loads the same cart', async () => {
    const { cartId } = await node.createCart();
    const token = await node.token([cartId], { subject: 'shopper' });
    const actor: Actor = { id: 'shopper', role: 'customer' };
    const device = await RawDevice.open(node.url, token, cartId);
    try {
      for (let i = 0; i < 50; i++) {
        const sku = `SKU-${i % 10}`;
        const ack = await device.change((doc) => (i % 3 === 2 ? setQuantity(doc, sku, 1 + (i % 5)) : addLine(doc, { sku, quantity: 1 }, actor)));
        expect(ack.ok).toBe(true);
      }
      const meta = node.node.store.keys(cartId).meta;
      await waitFor(async () => expect(Number(await admin.hget(meta, 'snapVersion'))).toBeGreaterThanOrEqual(20), { timeoutMs: 10_000 });
      // The log holds only what came after the snapshot (the worker's corrections and compactions
      // may still be landing: wait for a quiet moment).
      const loaded = await waitFor(async () => {
        const at = await node.node.store.load(cartId, 0);
        expect(await node.node.store.logLength(cartId)).toBe(at.version - at.snapVersion);
        return at;
      });
      expect(loaded.snapshot).not.toBeNull();
      expect(loaded.version).toBeGreaterThanOrEqual(51);
      const res = await node.request('GET', `/v1/carts/${cartId}`, { token });
      const fromDevice = readCart(device.doc).lines.map((l) => [l.lineId, l.quantity]).sort();
      expect(res.body.lines.map((l: { lineId: string; quantity: number }) => [l.lineId, l.quantity]).sort()).toEqual(fromDevice);
    } finally {
      device.close();
    }
  }, 60_000);
});
