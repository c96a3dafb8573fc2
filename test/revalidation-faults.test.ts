/**
 * Revalidation under faults: a shop's pricing service down (the cart stays usable, facts are
 * marked unverified, then recover) and a worker process killed in the middle of a job (the job is
 * taken over and the cart ends correct).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { type CartHandle, LiveCartConnection } from '../client/index.ts';
import { loadSeed } from '../core/catalog/catalog-store.ts';
import { BuiltinCatalogProvider } from '../core/providers/builtin.ts';
import { HttpCatalogProvider } from '../core/providers/http.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { type ProcessNode, startProcessNode } from './helpers/process-node.ts';
import { type ServiceServer, pricingService } from './helpers/shop-services.ts';
import { type TestWorkers, startTestWorkers } from './helpers/workers.ts';
import { waitFor } from './helpers/wait.ts';

/** The shop's own prices differ from the built-in catalog's, so the tests can tell who priced. */
const SHOP_PRICES = new Map([
  ['SHOE-RUN-01', { name: 'Trail running shoe', category: 'shoes', prices: { USD: 7777 } }],
  ['BELT-LTH-01', { name: 'Leather belt', category: 'accessories', prices: { USD: 3333 } }],
]);

let node: TestNode;
let pricing: ServiceServer;
const conns: LiveCartConnection[] = [];
const processes: ProcessNode[] = [];

beforeAll(async () => {
  node = await startNode();
  await node.node.catalog.seedIfEmpty(loadSeed());
  pricing = await pricingService(SHOP_PRICES).start();
});
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()));
  for (const p of processes) await p.kill('SIGKILL');
  await pricing.stop();
  await node.close();
});

function open(token: string, cartId: string): Promise<CartHandle> {
  const c = new LiveCartConnection({ url: node.url, token, retryMinMs: 20, retryMaxMs: 200 });
  conns.push(c);
  return c.open(cartId);
}

const line = (h: CartHandle, sku: string) => h.view.lines.find((l) => l.sku === sku);
const codes = (warnings: Array<{ code: string }> | undefined) => (warnings ?? []).map((w) => w.code);

describe('revalidation under faults', () => {
  it('pricing service down: the cart stays editable, its facts are marked unverified, then recover', async () => {
    pricing.mode = { kind: 'status', status: 503 };
    const provider = new HttpCatalogProvider({
      pricingUrl: pricing.url,
      fallback: new BuiltinCatalogProvider(node.node.catalog),
      timeoutMs: 300,
      retries: 1,
      backoffMs: 10,
      cooldownMs: 300,
    });
    // The same job lock as the worker processes of the next test: BullMQ's stalled-job check runs at
    // most once per stalledInterval per queue, whichever worker sets it.
    const workers: TestWorkers = startTestWorkers(node, { provider, config: { jobLockMs: 1000 } });
    try {
      const { cartId, token } = await node.createCart();
      const h = await open(token, cartId);
      h.add({ sku: 'SHOE-RUN-01', quantity: 1 });
      await waitFor(() => {
        expect(codes(line(h, 'SHOE-RUN-01')?.warnings)).toContain('PRICE_UNVERIFIED');
        expect(codes(h.view.warnings)).toContain('FACTS_UNVERIFIED');
      });
      // Still editable, and every edit is saved.
      h.add({ sku: 'BELT-LTH-01', quantity: 2 });
      await h.whenSaved();
      expect(line(h, 'BELT-LTH-01')?.quantity).toBe(2);
      // Stock still comes from the built-in catalog while pricing is down.
      expect(line(h, 'SHOE-RUN-01')?.available).toBeGreaterThan(0);

      pricing.mode = { kind: 'ok' };
      await waitFor(
        () => {
          expect(line(h, 'SHOE-RUN-01')?.unitPrice?.amount).toBe(7777);
          expect(line(h, 'BELT-LTH-01')?.lineTotal?.amount).toBe(6666);
          expect(codes(line(h, 'SHOE-RUN-01')?.warnings)).toEqual([]);
          expect(h.view.warnings).toEqual([]);
          expect(h.view.totals?.subtotal.amount).toBe(7777 + 6666);
        },
        { timeoutMs: 15_000 },
      );
    } finally {
      await workers.close();
    }
  }, 30_000);

  it('a worker SIGKILLed mid-job: the job is taken over by another worker and the cart ends correct', async () => {
    pricing.mode = { kind: 'slow', delayMs: 60_000 };
    const env = {
      REDIS_URL: inject('redisUrl'),
      LIVECART_KEY_PREFIX: node.config.keyPrefix,
      LIVECART_PRICING_URL: pricing.url,
      LIVECART_PROVIDER_TIMEOUT_MS: '30000',
      LIVECART_JOB_LOCK_MS: '1000',
    };
    const first = await startProcessNode(env, 'worker');
    processes.push(first);
    const { cartId, token } = await node.createCart();
    const h = await open(token, cartId);
    const before = pricing.requests.length;
    h.add({ sku: 'BELT-LTH-01', quantity: 1 });
    await h.whenSaved();
    // The worker is inside the job, waiting on the pricing service.
    await waitFor(() => expect(pricing.requests.length).toBeGreaterThan(before), { timeoutMs: 10_000 });
    expect(await first.kill('SIGKILL')).toBeNull();

    pricing.mode = { kind: 'ok' };
    const second = await startProcessNode(env, 'worker');
    processes.push(second);
    await waitFor(
      () => {
        expect(line(h, 'BELT-LTH-01')?.unitPrice?.amount).toBe(3333);
        expect(h.view.totals?.subtotal.amount).toBe(3333);
      },
      { timeoutMs: 20_000 },
    );
    await second.kill('SIGTERM');
  }, 45_000);
});
