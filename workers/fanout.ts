/**
 * Catalog fan-out: a price, stock or promotion change revalidates every open cart it can affect,
 * found through the SKU index. The index is read a page at a time and each page is handled before
 * the next is read, so a change touching every cart never holds them all, nor sends them all at once.
 */
import type { Job } from 'bullmq';
import type { CartStore } from '../core/redis/cart-store.ts';
import type { FanoutJob, Queues } from '../core/queues.ts';
import type { SkuIndex } from '../core/revalidation/sku-index.ts';

export interface FanoutDeps {
  index: SkuIndex;
  store: CartStore;
  queues: Queues;
  /** SKUs of a category (from the catalog), for promotions that target categories. */
  skusInCategory(category: string): Promise<string[]>;
}

/** Enqueue a revalidation for every cart the change can affect; returns how many. */
export async function fanOut(deps: FanoutDeps, job: FanoutJob): Promise<number> {
  const since = Date.now();
  /** Carts met so far, and whether they still exist (a cart is listed under several SKUs). */
  const met = new Map<string, boolean>();
  let requested = 0;
  /** Handle one page of carts found under `sku` (null: the open-carts set). */
  const page = async (ids: string[], sku: string | null): Promise<void> => {
    await Promise.all(
      ids.map(async (cartId) => {
        let exists = met.get(cartId);
        if (exists === undefined) {
          exists = await deps.store.exists(cartId);
          met.set(cartId, exists);
          if (exists) {
            requested += 1;
            await deps.queues.requestRevalidation(cartId, since);
          }
        }
        // Carts expire in Redis without telling the index: drop them from it where met.
        if (!exists) await deps.index.forget(cartId, sku === null ? [] : [sku]);
      }),
    );
  };
  if (job.all) {
    for await (const ids of deps.index.openCarts()) await page(ids, null);
  } else {
    const skus = new Set(job.skus);
    for (const category of job.categories) for (const sku of await deps.skusInCategory(category)) skus.add(sku);
    for (const sku of skus) for await (const ids of deps.index.cartsWithSku(sku)) await page(ids, sku);
  }
  return requested;
}

export function fanoutProcessor(deps: FanoutDeps): (job: Job<FanoutJob>) => Promise<number> {
  return (job) => fanOut(deps, job.data);
}
