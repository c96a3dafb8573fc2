/**
 * Node faults with real processes on a private Redis: a node SIGKILLed in the middle of a stream of
 * edits, and a node SIGTERMed under load. Devices list several node URLs and fail over by
 * themselves; every edit (acknowledged or still local) ends up on every device and in the log.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type ProcessCluster, editStream, restSkus, skusOf, startProcessCluster } from './helpers/process-cluster.ts';
import { waitFor } from './helpers/wait.ts';

/** Heartbeat of the test nodes: a killed node's presence must go within a few beats. */
const HEARTBEAT_MS = 300;
/** The stated bound for a killed node's presence to disappear (the awareness timeout is 30 s). */
const PRESENCE_GONE_MS = 5000;
const ENV = { LIVECART_NODE_HEARTBEAT_MS: String(HEARTBEAT_MS), LIVECART_MAX_LINES: '500', LIVECART_SHUTDOWN_GRACE_MS: '3000' };

let cluster: ProcessCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

describe('node processes', () => {
  it('devices on two node processes sync both ways, and a device joining on a third gets the full cart', async () => {
    cluster = await startProcessCluster(3, ENV);
    const [n1, n2, n3] = cluster.nodes.map((n) => n.url) as [string, string, string];
    const { cartId, token } = await cluster.createCart();
    const phone = await cluster.connect(n1, token).open(cartId);
    const laptop = await cluster.connect(n2, token).open(cartId);
    phone.add({ sku: 'SHOE', quantity: 2 });
    await waitFor(() => expect(skusOf(laptop)).toEqual(['SHOE']));
    laptop.add({ sku: 'BELT', quantity: 1 });
    laptop.setQuantity('SHOE', 3);
    await waitFor(() => expect(phone.view.lines.map((l) => [l.sku, l.quantity]).sort()).toEqual([['BELT', 1], ['SHOE', 3]]));
    const tablet = await cluster.connect(n3, token).open(cartId);
    expect(tablet.view.lines.map((l) => [l.sku, l.quantity]).sort()).toEqual([['BELT', 1], ['SHOE', 3]]);
  }, 60_000);
});

describe('node faults', () => {
  it('a node SIGKILLed during edits: its devices move to other nodes, nothing is lost, its presence goes within seconds', async () => {
    cluster = await startProcessCluster(3, ENV);
    const [n1, n2, n3] = cluster.nodes.map((n) => n.url) as [string, string, string];
    const { cartId, token } = await cluster.createCart();
    const c1 = cluster.connect([n1, n2], token, { device: 'phone' });
    const c2 = cluster.connect([n1, n3], token, { device: 'laptop' });
    const c3 = cluster.connect([n2], token, { device: 'tablet' });
    const c4 = cluster.connect([n3], token, { device: 'kiosk' });
    // Only on the node that dies: its presence must disappear from the others.
    const cw = cluster.connect([n1], token, { device: 'watcher' });
    const devices = await Promise.all([c1, c2, c3, c4].map((c) => c.open(cartId)));
    const watcher = await cw.open(cartId);
    watcher.setViewing('SHOE');
    const tablet = devices[2]!;
    await waitFor(() => expect(tablet.presence.map((p) => p.device)).toContain('watcher'));

    let killedAt = 0;
    const skus = await editStream(devices, 120, async (i) => {
      if (i === 50) {
        await cluster!.nodes[0]!.kill('SIGKILL');
        killedAt = Date.now();
      }
    });
    await waitFor(() => expect(tablet.presence.map((p) => p.device)).not.toContain('watcher'), { timeoutMs: PRESENCE_GONE_MS });
    const presenceGoneMs = Date.now() - killedAt;
    expect(presenceGoneMs).toBeLessThan(PRESENCE_GONE_MS);

    await Promise.all(devices.map((d) => d.whenSaved()));
    expect(c1.url).toBe(n2);
    expect(c2.url).toBe(n3);
    for (const url of [n2, n3]) expect(await restSkus(url, cartId, token)).toEqual(skus);
    await waitFor(() => {
      for (const d of devices) expect(skusOf(d)).toEqual(skus);
    }, { timeoutMs: 10_000 });
    // The moved devices are present again, on their new nodes.
    await waitFor(() => expect(tablet.presence.map((p) => p.device).sort()).toEqual(['kiosk', 'laptop', 'phone']));
  }, 90_000);

  it('a node SIGTERMed under load drains, exits cleanly, and its devices carry on elsewhere with nothing lost', async () => {
    cluster = await startProcessCluster(2, ENV);
    const [n1, n2] = cluster.nodes.map((n) => n.url) as [string, string];
    const { cartId, token } = await cluster.createCart();
    const conns = [cluster.connect([n1, n2], token), cluster.connect([n1, n2], token), cluster.connect([n2], token)];
    const devices = await Promise.all(conns.map((c) => c.open(cartId)));
    const saved: string[][] = [];
    let exitCode: Promise<number | null> | null = null;
    const skus = await editStream(devices, 120, (i) => {
      if (i === 40) {
        // What the devices know is acknowledged right now must survive.
        saved.push(...devices.filter((d) => d.saveState === 'saved').map((d) => skusOf(d)));
        exitCode = cluster!.nodes[0]!.kill('SIGTERM');
      }
    });
    // A clean exit, within the grace period (the process' own deadline is grace + 5 s).
    expect(await exitCode).toBe(0);
    expect(cluster.nodes[0]!.output()).not.toContain('unhandled rejection');
    await Promise.all(devices.map((d) => d.whenSaved()));
    for (const c of conns) expect(c.url).toBe(n2);
    const server = await restSkus(n2, cartId, token);
    expect(server).toEqual(skus);
    for (const known of saved) for (const sku of known) expect(server).toContain(sku);
    await waitFor(() => {
      for (const d of devices) expect(skusOf(d)).toEqual(skus);
    }, { timeoutMs: 10_000 });
  }, 90_000);
});
