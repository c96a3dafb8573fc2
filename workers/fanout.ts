/**
 * Catalog fan-out: a price, stock or promotion change revalidates every open cart it can affect,
 * found through the SKU index.
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
  /** Each cart found, with the SKU sets it was found in (to drop it there if it expired). */
  const carts = new Map<string, string[]>();
  if (job.all) {
    for (const cartId of await deps.index.openCarts()) carts.set(cartId, []);
  } else {
    const skus = new Set(job.skus);
    for (const category of job.categories) for (const sku of await deps.skusInCategory(category)) skus.add(sku);
    const lists = await Promise.all([...skus].map(async (sku) => [sku, await deps.index.cartsWithSku(sku)] as const));
    for (const [sku, list] of lists) for (const cartId of list) carts.set(cartId, [...(carts.get(cartId) ?? []), sku]);
  }
  const since = Date.now();
  let requested = 0;
  await Promise.all(
    [...carts].map(async ([cartId, skus]) => {
      // Carts expire in Redis without telling the index: drop them from it when met.
      if (!(await deps.store.exists(cartId))) return deps.index.forget(cartId, skus);
      requested += 1;
      return deps.queues.requestRevalidation(cartId, since);
    }),
  );
  return requested;
}

export function fanoutProcessor(deps: FanoutDeps): (job: Job<FanoutJob>) => Promise<number> {
  return (job) => fanOut(deps, job.data);
}
