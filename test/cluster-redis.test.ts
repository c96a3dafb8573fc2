/**
 * Redis faults under a cluster of real node processes: Redis restarted (AOF on) in the middle of a
 * stream of edits from devices on two nodes, and Redis wiped while the nodes are down: devices that
 * reconnect restore the cart from their local state.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type ProcessCluster, editStream, restSkus, skusOf, startProcessCluster } from './helpers/process-cluster.ts';
import { waitFor } from './helpers/wait.ts';

const ENV = { LIVECART_MAX_LINES: '500' };

let cluster: ProcessCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

describe('Redis faults with several nodes', () => {
  it('Redis restarted (AOF) during edits: no acknowledged change is lost and every device converges', async () => {
    cluster = await startProcessCluster(2, ENV);
    const [n1, n2] = cluster.nodes.map((n) => n.url) as [string, string];
    const { cartId, token } = await cluster.createCart();
    const devices = await Promise.all([n1, n1, n2, n2].map((url) => cluster!.connect(url, token).open(cartId)));
    let acknowledged: string[] = [];
    let restarted: Promise<void> = Promise.resolve();
    const skus = await editStream(devices, 100, async (i) => {
      if (i === 40) {
        await Promise.all(devices.map((d) => d.whenSaved()));
        acknowledged = skusOf(devices[0]!);
        // Edits go on while Redis is down; the devices keep them until it is back.
        restarted = cluster!.restartRedis(400);
      }
    });
    await restarted;
    expect(acknowledged.length).toBeGreaterThanOrEqual(41);
    await waitFor(async () => expect((await fetch(`${n1}/readyz`)).status).toBe(200), { timeoutMs: 20_000 });
    await Promise.all(devices.map((d) => d.whenSaved()));
    for (const url of [n1, n2]) {
      const server = await restSkus(url, cartId, token);
      expect(server).toEqual(skus);
      for (const sku of acknowledged) expect(server).toContain(sku);
    }
    await waitFor(() => {
      for (const d of devices) expect(skusOf(d)).toEqual(skus);
    }, { timeoutMs: 10_000 });
    for (const n of cluster.nodes) expect(n.output()).not.toContain('unhandled rejection');
  }, 90_000);

  it('Redis wiped while the nodes are down: devices on both nodes restore the cart from their local state', async () => {
    cluster = await startProcessCluster(2, ENV);
    const [n1, n2] = cluster.nodes.map((n) => n.url) as [string, string];
    const { cartId, token } = await cluster.createCart();
    const devices = await Promise.all([n1, n2].map((url) => cluster!.connect(url, token).open(cartId)));
    const before = await editStream(devices, 20);
    await Promise.all(devices.map((d) => d.whenSaved()));
    await Promise.all(cluster.nodes.map((n) => n.kill('SIGKILL')));
    expect(await cluster.admin().flushall()).toBe('OK');
    // Offline edits while the nodes are down join the restored cart too.
    devices[0]!.add({ sku: 'OFFLINE-A', quantity: 2 });
    devices[1]!.add({ sku: 'OFFLINE-B', quantity: 1 });
    await cluster.restartNode(0);
    await cluster.restartNode(1);
    await Promise.all(devices.map((d) => d.whenSaved()));
    const expected = [...before, 'OFFLINE-A', 'OFFLINE-B'].sort();
    for (const url of [n1, n2]) expect(await restSkus(url, cartId, token)).toEqual(expected);
    await waitFor(() => {
      for (const d of devices) expect(skusOf(d)).toEqual(expected);
    }, { timeoutMs: 10_000 });
  }, 90_000);
});
