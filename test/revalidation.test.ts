/**
 * Live revalidation: workers price every change and push the
 * corrections to every connected device, through the cart log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CartHandle, LiveCartConnection } from '../client/index.ts';
import * as Y from 'yjs';
import { type ProductFacts, readCart } from '../protocol/index.ts';
import { applyLog, entriesOf } from '../core/cart/apply-log.ts';
import { loadSeed } from '../core/catalog/catalog-store.ts';
import { BuiltinCatalogProvider } from '../core/providers/builtin.ts';
import type { CatalogProvider } from '../core/providers/types.ts';
import { revalidateCart } from '../workers/revalidate.ts';
import { TEST_ADMIN_TOKEN, type TestNode, startNode } from './helpers/node.ts';
import { type TestWorkers, revalidationDeps, startTestWorkers } from './helpers/workers.ts';
import { waitFor } from './helpers/wait.ts';

let node: TestNode;
let workers: TestWorkers;
const conns: LiveCartConnection[] = [];

beforeAll(async () => {
  node = await startNode({ socketRatePerSecond: 10_000, socketBurst: 10_000 });
  await node.node.catalog.seedIfEmpty(loadSeed());
  workers = startTestWorkers(node);
});
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()));
  await workers.close();
  await node.close();
});

function connect(token: string, device = 'device'): LiveCartConnection {
  const c = new LiveCartConnection({ url: node.url, token, device, retryMinMs: 20, retryMaxMs: 200, socketOptions: { reconnectionDelay: 20, reconnectionDelayMax: 100 } });
  conns.push(c);
  return c;
}

const admin = (method: string, path: string, body?: unknown) => node.request(method, path, { token: TEST_ADMIN_TOKEN, body });
const line = (h: CartHandle, sku: string) => h.view.lines.find((l) => l.sku === sku);

describe('revalidation', () => {
  it('a device adds a line and receives its facts (price, totals) from the worker, as do its other devices', async () => {
    const { cartId, token } = await node.createCart();
    const phone = await connect(token, 'phone').open(cartId);
    const laptop = await connect(token, 'laptop').open(cartId);
    phone.add({ sku: 'SHOE-RUN-01', quantity: 2 });
    for (const h of [phone, laptop]) {
      await waitFor(() => {
        expect(line(h, 'SHOE-RUN-01')?.unitPrice).toEqual({ amount: 8999, currency: 'USD' });
        expect(line(h, 'SHOE-RUN-01')?.lineTotal).toEqual({ amount: 17998, currency: 'USD' });
        expect(h.view.totals?.subtotal).toEqual({ amount: 17998, currency: 'USD' });
      });
    }
    expect(line(phone, 'SHOE-RUN-01')?.warnings).toEqual([]);
  });

  it('re-running a revalidation on an unchanged cart writes nothing', async () => {
    const { cartId, token } = await node.createCart();
    await node.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: 'BELT-LTH-01', quantity: 1 } });
    const deps = revalidationDeps(node, workers.workers.queues);
    await revalidateCart(deps, cartId);
    const before = (await node.node.store.load(cartId, 0)).version;
    const again = await revalidateCart(deps, cartId);
    expect(again).toMatchObject({ status: 'unchanged', version: before });
    expect((await node.node.store.load(cartId, 0)).version).toBe(before);
  });

  it('server writes reuse one Yjs client id per process: the state vector does not grow with every correction', async () => {
    const { cartId, token } = await node.createCart();
    const created = await node.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: 'BELT-LTH-01', quantity: 1 } });
    const lineId = created.body.lineId as string;
    const deps = revalidationDeps(node, workers.workers.queues);
    for (let q = 2; q <= 8; q++) {
      expect((await node.request('PATCH', `/v1/carts/${cartId}/lines/${lineId}`, { token, body: { quantity: q } })).status).toBe(200);
      // Corrected here or by the test's background worker: either way by this process.
      await revalidateCart(deps, cartId);
    }
    const loaded = await node.node.store.load(cartId, 0);
    expect(loaded.version).toBeGreaterThanOrEqual(14);
    const doc = new Y.Doc();
    applyLog(doc, entriesOf(loaded), null, () => undefined);
    // 7 REST writes and 7 corrections: one client id (node and worker share this test process).
    expect(Y.decodeStateVector(Y.encodeStateVector(doc)).size).toBe(1);
    expect(readCart(doc).lines.map((l) => [l.lineId, l.quantity])).toEqual([[lineId, 8]]);
  });

  it('a stock drop clamps quantities with a warning on every device', async () => {
    const { cartId, token } = await node.createCart();
    const phone = await connect(token, 'phone').open(cartId);
    const laptop = await connect(token, 'laptop').open(cartId);
    phone.add({ sku: 'CAP-01', quantity: 5 });
    await waitFor(() => expect(line(laptop, 'CAP-01')?.unitPrice?.amount).toBe(2499));
    expect((await admin('PATCH', '/v1/catalog/products/CAP-01', { stock: 3 })).status).toBe(200);
    for (const h of [phone, laptop]) {
      await waitFor(() => {
        const cap = line(h, 'CAP-01');
        expect(cap?.quantity).toBe(3);
        expect(cap?.warnings.map((w) => w.code)).toEqual(['INSUFFICIENT_STOCK']);
        expect(cap?.warnings[0]?.data).toMatchObject({ requested: 5, available: 3 });
      });
    }
    await admin('PATCH', '/v1/catalog/products/CAP-01', { stock: 0 });
    await waitFor(() => expect(line(laptop, 'CAP-01')?.warnings.map((w) => w.code)).toEqual(['OUT_OF_STOCK']));
    await admin('PATCH', '/v1/catalog/products/CAP-01', { stock: 100 });
    await waitFor(() => expect(line(phone, 'CAP-01')?.warnings).toEqual([]));
  });

  it('a price change through the admin API reaches every connected device of 110 open carts holding that SKU', async () => {
    await admin('PATCH', '/v1/catalog/products/MUG-01', { price: { amount: 1499, currency: 'USD' } });
    const carts = await Promise.all(Array.from({ length: 110 }, () => node.createCart()));
    await Promise.all(carts.map(({ cartId, token }) => node.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: 'MUG-01', quantity: 1 } })));
    const handles = await Promise.all(carts.map(({ cartId, token }) => connect(token).open(cartId)));
    // Every cart was priced once (and so entered the SKU index) before the price moves.
    await waitFor(() => {
      const unpriced = handles.filter((h) => line(h, 'MUG-01')?.unitPrice?.amount !== 1499).map((h) => h.cartId);
      expect(unpriced).toEqual([]);
    }, { timeoutMs: 15_000 });
    expect((await admin('PATCH', '/v1/catalog/products/MUG-01', { price: { amount: 1299, currency: 'USD' } })).status).toBe(200);
    await waitFor(() => {
      for (const h of handles) {
        const mug = line(h, 'MUG-01');
        expect(mug?.unitPrice?.amount).toBe(1299);
        expect(mug?.warnings.map((w) => w.code)).toEqual(['PRICE_CHANGED']);
        expect(mug?.warnings[0]?.data).toMatchObject({ was: 1499, now: 1299, change: -200 });
      }
    }, { timeoutMs: 15_000 });
    await Promise.all(handles.map((h) => h.close()));
  }, 60_000);

  it('a promotion created through the admin API discounts the open carts holding its SKU, and its removal restores them', async () => {
    const { cartId, token } = await node.createCart();
    const h = await connect(token).open(cartId);
    h.add({ sku: 'BAG-DAY-01', quantity: 2 });
    await waitFor(() => expect(line(h, 'BAG-DAY-01')?.lineTotal?.amount).toBe(2 * 6999));
    const promo = { name: 'Daypack week', currency: 'USD', effect: { kind: 'percent_off', percent: 20, target: { sku: 'BAG-DAY-01' } } };
    expect((await admin('PUT', '/v1/pricing/promotions/daypack-week', promo)).status).toBe(201);
    await waitFor(() => {
      expect(line(h, 'BAG-DAY-01')?.discount?.amount).toBe(2800);
      expect(h.view.totals?.discount.amount).toBe(2800);
    });
    expect((await admin('DELETE', '/v1/pricing/promotions/daypack-week')).status).toBe(204);
    await waitFor(() => expect(line(h, 'BAG-DAY-01')?.discount?.amount).toBe(0));
  });

  it('a burst of 50 edits runs few jobs, never two at once for the cart, and the final facts match the final intent', async () => {
    // SUNGL-01 is in this cart only (from its first edit on): lookups with it are this cart's.
    const counting = new ConcurrencyProbe(new BuiltinCatalogProvider(node.node.catalog), 'SUNGL-01');
    // Only the probe's workers take jobs while it runs (two of them, as two worker processes would).
    await workers.close();
    const own = [startTestWorkers(node, { provider: counting }), startTestWorkers(node, { provider: counting })];
    try {
      const { cartId, token } = await node.createCart();
      const h = await connect(token).open(cartId);
      const skus = ['SUNGL-01', 'TEE-BASIC-01', 'BOTTLE-01', 'GLOVE-01', 'CARE-LACE-01'];
      for (let i = 0; i < 50; i++) {
        const sku = skus[i % skus.length]!;
        if (i % 7 === 6 && line(h, sku)) h.setQuantity(sku, 1 + (i % 4));
        else h.add({ sku, quantity: 1 });
      }
      await h.whenSaved();
      await waitFor(() => {
        const priced = h.view.lines.every((l) => l.unitPrice !== null && l.lineTotal?.amount === l.unitPrice.amount * l.quantity);
        expect(priced).toBe(true);
        const subtotal = h.view.lines.reduce((sum, l) => sum + (l.lineTotal?.amount ?? 0), 0);
        expect(h.view.totals?.subtotal.amount).toBe(subtotal);
      }, { timeoutMs: 10_000 });
      expect(counting.maxConcurrent).toBe(1);
      expect(counting.calls).toBeGreaterThan(0);
      expect(counting.calls).toBeLessThanOrEqual(15);
    } finally {
      await Promise.all(own.map((w) => w.close()));
      workers = startTestWorkers(node);
    }
  });

  it('corrected facts are in the document: a device opening the cart later sees them with no worker running', async () => {
    const { cartId, token } = await node.createCart();
    const phone = await connect(token).open(cartId);
    phone.add({ sku: 'HOOD-01', quantity: 1 });
    await waitFor(() => expect(line(phone, 'HOOD-01')?.unitPrice?.amount).toBe(5999));
    await workers.close();
    try {
      const late = await connect(token, 'late').open(cartId);
      await late.whenSynced();
      expect(line(late, 'HOOD-01')?.unitPrice?.amount).toBe(5999);
      expect(late.view.totals?.subtotal.amount).toBe(5999);
    } finally {
      workers = startTestWorkers(node);
    }
  });

  it('/metrics reports revalidation lag, jobs, queue depth, connected devices, hosted carts and their documents\' structs', async () => {
    const text = await (await fetch(`${node.url}/metrics`)).text();
    expect(text).toMatch(/livecart_revalidation_lag_seconds_count [1-9]\d*/);
    expect(text).toMatch(/livecart_jobs_total\{queue="revalidate",outcome="completed"\} [1-9]\d*/);
    expect(text).toMatch(/livecart_revalidation_queue_depth \d+/);
    expect(text).toMatch(/livecart_connected_devices \d+/);
    expect(text).toMatch(/livecart_hosted_carts [1-9]\d*/);
    expect(text).toMatch(/livecart_hosted_doc_structs [1-9]\d*/);
  });
});


/**
 * A provider that records how many lookups of one cart (those asking for `marker`) run at once:
 * one revalidation at a time per cart. Other carts' leftover jobs pass through uncounted.
 */
class ConcurrencyProbe implements CatalogProvider {
  calls = 0;
  maxConcurrent = 0;
  private running = 0;
  constructor(
    private readonly inner: CatalogProvider,
    private readonly marker: string,
  ) {}
  async lookup(skus: readonly string[]): Promise<Map<string, ProductFacts | null>> {
    if (!skus.includes(this.marker)) return this.inner.lookup(skus);
    this.calls += 1;
    this.running += 1;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.running);
    try {
      // Hold the lookup a moment so that overlapping jobs, if the queue allowed them, would show.
      await new Promise((r) => setTimeout(r, 20));
      return await this.inner.lookup(skus);
    } finally {
      this.running -= 1;
    }
  }
}

describe('segment and region', () => {
  it('a token segment prices the cart from that price list, and its region sets the tax (a cart attribute does not)', async () => {
    expect((await admin('PUT', '/v1/pricing/price-lists/vip/USD', { prices: { 'WATCH-GPS-01': 19999 } })).status).toBe(201);
    expect((await admin('PUT', '/v1/pricing/tax/TX', { rateBps: 625, inclusive: false })).status).toBe(201);
    expect((await admin('PUT', '/v1/pricing/tax/NY', { rateBps: 800, inclusive: false })).status).toBe(201);
    const { cartId } = await node.createCart();
    const minted = await node.request('POST', '/v1/auth/tokens', { token: TEST_ADMIN_TOKEN, body: { subject: 'vip-ana', role: 'customer', carts: [cartId], segment: 'vip', region: 'TX' } });
    expect(minted.status).toBe(201);
    const h = await connect(minted.body.token as string).open(cartId);
    h.add({ sku: 'WATCH-GPS-01', quantity: 1 });
    await waitFor(() => {
      const watch = line(h, 'WATCH-GPS-01');
      expect(watch?.listPrice?.amount).toBe(24999);
      expect(watch?.unitPrice?.amount).toBe(19999);
      expect(h.view.totals?.tax.amount).toBe(1250);
    });
    // The customer writes attributes: a `region` one is theirs to keep, but the tax stays the token's.
    h.setAttribute('region', 'NY');
    h.add({ sku: 'WATCH-GPS-01', quantity: 1 });
    await waitFor(() => expect(line(h, 'WATCH-GPS-01')?.lineTotal?.amount).toBe(2 * 19999));
    expect(h.view.totals?.tax.amount).toBe(2500);
    // A customer token without the claim does not change the segment already stamped.
    const plain = await node.token([cartId], { subject: 'vip-ana' });
    const other = await connect(plain).open(cartId);
    other.add({ sku: 'WATCH-GPS-01', quantity: 1 });
    await waitFor(() => expect(line(h, 'WATCH-GPS-01')?.lineTotal?.amount).toBe(3 * 19999));
  });
});
