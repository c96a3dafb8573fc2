/**
 * Lost fan-out: Redis pub/sub drops relays when its connections are killed (`CLIENT KILL TYPE
 * pubsub`), yet every device of a cart spread over two nodes converges, by gap detection and the
 * periodic state check (bound: the devices' syncCheckMs of 1 s plus a pull). Runs on a private
 * redis-server, since killing pub/sub connections would disturb the other test files.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CartHandle, LiveCartConnection } from '../client/index.ts';
import * as Y from 'yjs';
import { readCart } from '../protocol/index.ts';
import { type EmbeddedRedis, startRedisServer } from '../core/embedded-redis.ts';
import { type TestNode, startNode, uniquePrefix } from './helpers/node.ts';
import { int, pick, prng } from './helpers/prng.ts';
import { waitFor } from './helpers/wait.ts';
import { stockYjsClient } from './helpers/yws-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'lc-fanout-'));
let redis: EmbeddedRedis;
let admin: Redis;
const nodes: TestNode[] = [];
const conns: LiveCartConnection[] = [];

beforeAll(async () => {
  redis = await startRedisServer(dir, { appendonly: false });
  admin = new Redis(redis.url);
  const keyPrefix = uniquePrefix();
  for (let i = 0; i < 2; i++) nodes.push(await startNode({ keyPrefix, socketAdapter: 'redis', socketRatePerSecond: 10_000, socketBurst: 10_000 }, redis.url));
});
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()));
  for (const n of nodes) await n.close();
  admin.disconnect();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

function open(node: TestNode, token: string, cartId: string): Promise<CartHandle> {
  const c = new LiveCartConnection({ url: node.url, token, retryMinMs: 20, retryMaxMs: 200, syncCheckMs: 1000 });
  conns.push(c);
  return c.open(cartId);
}

/** Connections in pub/sub mode (the nodes' subscribers and adapters). */
async function pubsubClients(): Promise<number> {
  return String(await admin.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).split('\n').filter((l) => l.trim() !== '').length;
}

/**
 * Kill every pub/sub connection; returns a wait for all of them to be back and subscribed (each
 * node has two: its cart-changed subscriber and the adapter's). Closing a node while they still
 * resubscribe would leave ioredis's own SUBSCRIBE rejected and unhandled.
 */
async function killPubsub(): Promise<{ killed: number; restored: () => Promise<void> }> {
  const killed = Number(await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub'));
  return { killed, restored: () => waitFor(async () => expect(await pubsubClients()).toBe(nodes.length * 2), { timeoutMs: 10_000 }) };
}

const lines = (h: CartHandle): Array<[string, number]> => h.view.lines.map((l): [string, number] => [l.lineId, l.quantity]).sort();

describe('lost fan-out', () => {
  it('devices on two nodes converge although the pub/sub connections are killed during their edits', async () => {
    const [n1, n2] = nodes as [TestNode, TestNode];
    const { cartId, token } = await n1.createCart();
    const devices = await Promise.all([open(n1, token, cartId), open(n1, token, cartId), open(n2, token, cartId), open(n2, token, cartId)]);
    const rand = prng(7);
    let killed = 0;
    let restored = async (): Promise<void> => undefined;
    for (let step = 0; step < 120; step++) {
      const device = pick(rand, devices);
      device.add({ sku: pick(rand, ['SHOE', 'BELT', 'SOCK', 'CAP']), quantity: int(rand, 1, 3) });
      if (step % 40 === 20) {
        const kill = await killPubsub();
        killed += kill.killed;
        restored = kill.restored;
      }
      if (step % 10 === 9) await new Promise((r) => setTimeout(r, 5));
    }
    expect(killed).toBeGreaterThan(0);
    await restored();
    await Promise.all(devices.map((d) => d.whenSaved()));
    const res = await n1.request('GET', `/v1/carts/${cartId}`, { token });
    const server = res.body.lines.map((l: { lineId: string; quantity: number }) => [l.lineId, l.quantity]).sort();
    await waitFor(() => {
      for (const d of devices) expect(lines(d)).toEqual(server);
    }, { timeoutMs: 8000 });
  }, 30_000);

  it('a /yjs client (no gap detection of its own) gets a change whose notice was lost while its node resubscribed', async () => {
    const [n1, n2] = nodes as [TestNode, TestNode];
    const { cartId, token } = await n1.createCart();
    const phone = await open(n1, token, cartId);
    const doc = new Y.Doc();
    const provider = stockYjsClient(n2.port, cartId, token, doc);
    try {
      await waitFor(() => expect(provider.synced).toBe(true));
      const kill = await killPubsub();
      expect(kill.killed).toBeGreaterThan(0);
      // Appended while node 2's subscription is down: its notice is lost, and no later change follows.
      phone.add({ sku: 'SHOE', quantity: 2 });
      await phone.whenSaved();
      await waitFor(() => expect(readCart(doc).lines.map((l) => [l.lineId, l.quantity])).toEqual([['SHOE', 2]]), { timeoutMs: 5000 });
      await kill.restored();
    } finally {
      provider.destroy();
    }
  });
});
