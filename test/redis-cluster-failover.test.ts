/**
 * A Redis Cluster primary dies during edits (SIGKILL on the primary holding the cart's slot) and
 * its replica is promoted: every change acknowledged before, during and after the failover is in
 * the log and on every device. While the promoted primary has no replica, changes to its slots
 * are refused as retryable (the replica wait cannot be met); once the killed node is back (as a
 * replica of its successor) they are acknowledged again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { type CartHandle, LiveCartConnection } from '../client/index.ts';
import { addLine, readCart } from '../protocol/index.ts';
import { applyLog, entriesOf } from '../core/cart/apply-log.ts';
import { DEFAULT_CONFIG } from '../core/config.ts';
import { CartStore } from '../core/redis/cart-store.ts';
import { connectRedis } from '../core/redis/connect.ts';
import { type TestNode, startNode, uniquePrefix } from './helpers/node.ts';
import { REMOTE, RawDevice } from './helpers/raw-device.ts';
import { type TestRedisCluster, startRedisCluster } from './helpers/redis-cluster.ts';
import { waitFor } from './helpers/wait.ts';

let cluster: TestRedisCluster;
const nodes: TestNode[] = [];
const conns: LiveCartConnection[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ primaries: 3, replicas: 1 });
  const keyPrefix = uniquePrefix();
  for (let i = 0; i < 2; i++) {
    const redis = { ...DEFAULT_CONFIG.redis, clusterNodes: cluster.seeds, waitReplicas: 1, waitTimeoutMs: 300 };
    nodes.push(await startNode({ keyPrefix, socketAdapter: 'sharded', redis, socketRatePerSecond: 10_000, socketBurst: 10_000 }, { cluster: cluster.seeds }));
  }
}, 60_000);
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()));
  for (const n of nodes) await n.close();
  await cluster?.stop();
});

function open(node: TestNode, token: string, cartId: string, device: string): Promise<CartHandle> {
  const c = new LiveCartConnection({ url: node.url, token, device, retryMinMs: 20, retryMaxMs: 200 });
  conns.push(c);
  return c.open(cartId);
}

const skus = (h: CartHandle): string[] => h.view.lines.map((l) => l.sku).sort();

describe('a Redis Cluster primary killed during edits', () => {
  it('loses no acknowledged change: all are in the log and on every device', async () => {
    const [n1, n2] = nodes as [TestNode, TestNode];
    const { cartId, token } = await n1.createCart();
    const subject = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub as string;
    const writer = await RawDevice.open(n1.url, token, cartId);
    const laptop = await open(n2, token, cartId, 'laptop');
    const primary = await cluster.primaryOf(n1.node.store.keys(cartId).meta);

    const acked: string[] = [];
    const refused: string[] = [];
    let sent = 0;
    /**
     * Send a burst of `size` changes at once (several in flight when the primary dies). Each is made
     * by a Yjs client of its own on top of what was acknowledged, so a refused change is simply not
     * there (no later change depends on it) and the writer's doc holds the acknowledged state.
     */
    const burst = async (size: number): Promise<void> => {
      await Promise.all(
        Array.from({ length: size }, async () => {
          const sku = `SKU-${sent++}`;
          const scratch = new Y.Doc();
          Y.applyUpdate(scratch, Y.encodeStateAsUpdate(writer.doc));
          const base = Y.encodeStateVector(scratch);
          addLine(scratch, { sku, quantity: 1 }, { id: subject, role: 'customer' });
          const update = Y.encodeStateAsUpdate(scratch, base);
          scratch.destroy();
          const ack = await writer.sendUpdate(update);
          if (ack.ok) {
            Y.applyUpdate(writer.doc, update, REMOTE);
            acked.push(sku);
          }
          else {
            // Refused changes are refused as retryable: the device keeps them and re-sends.
            expect(ack.error).toMatchObject({ code: 'E_STORAGE_UNAVAILABLE', retryable: true });
            refused.push(sku);
          }
        }),
      );
    };

    while (acked.length < 10) await burst(5);
    const before = acked.length;
    // Kill the cart's primary while bursts are in flight, and keep editing through the failover.
    let failedOver = false;
    const failover = cluster.killPrimary(primary).then(() => (failedOver = true));
    while (!failedOver) await burst(5);
    await failover;
    expect(await cluster.primaryOf(n1.node.store.keys(cartId).meta)).not.toBe(primary);
    // The promoted primary has no replica yet: a change cannot be confirmed, so none is acknowledged.
    const refusedBefore = refused.length;
    await burst(3);
    expect(refused.length).toBe(refusedBefore + 3);

    // The killed node comes back as the new primary's replica: changes are acknowledged again.
    await cluster.restart(primary);
    await waitFor(
      async () => {
        const count = acked.length;
        await burst(2);
        expect(acked.length).toBeGreaterThan(count);
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(acked.length).toBeGreaterThan(before);

    // Every acknowledged change is in the log, read with a fresh connection to the cluster.
    const admin = connectRedis({ cluster: cluster.seeds }, 'commands');
    try {
      const loaded = await new CartStore(admin, n1.config.keyPrefix).load(cartId, 0);
      const doc = new Y.Doc();
      applyLog(doc, entriesOf(loaded), null, () => undefined);
      const logged = new Set(readCart(doc).lines.map((l) => l.sku));
      expect(acked.filter((sku) => !logged.has(sku))).toEqual([]);
      doc.destroy();
    } finally {
      admin.disconnect();
    }
    // …and on every device: the one that was open throughout, and new ones on either node.
    const late = await Promise.all([open(n1, token, cartId, 'tablet'), open(n2, token, cartId, 'phone')]);
    for (const device of [laptop, ...late]) {
      await waitFor(() => expect(acked.filter((sku) => !skus(device).includes(sku))).toEqual([]), { timeoutMs: 15_000 });
    }
    writer.close();
  }, 120_000);
});
