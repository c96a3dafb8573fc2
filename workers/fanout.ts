/**
 * Catalog fan-out: a price, stock or promotion change revalidates every open cart it can affect,
 * found through the SKU index (DESIGN.md §5 "Catalog change").
 */
import type { Job } from 'bullmq';
import type { CartStore } from '../server/redis/cart-store.ts';
import type { FanoutJob, Queues } from '../server/queues.ts';
import type { SkuIndex } from '../server/revalidation/sku-index.ts';

export interface FanoutDeps {
  index: SkuIndex;
  store: CartStore;
  queues: Queues;
  /** SKUs of a category (from the catalog), for promotions that target categories. */
  skusInCategory(category: string): Promise<string[]>;
}

/** Enqueue a revalidation for every cart the change can affect; returns how many. */
export async function fanOut(deps: FanoutDeps, job: FanoutJob): Promise<number> {
  const carts = new Set<string>();
  if (job.all) {
    for (const cartId of await deps.index.openCarts()) carts.add(cartId);
  } else {
    const skus = new Set(job.skus);
    for (const category of job.categories) for (const sku of await deps.skusInCategory(category)) skus.add(sku);
    const lists = await Promise.all([...skus].map((sku) => deps.index.cartsWithSku(sku)));
    for (const list of lists) for (const cartId of list) carts.add(cartId);
  }
  const since = Date.now();
  await Promise.all([...carts].map((cartId) => deps.queues.requestRevalidation(cartId, since)));
  return carts.size;
}

export function fanoutProcessor(deps: FanoutDeps): (job: Job<FanoutJob>) => Promise<number> {
  return (job) => fanOut(deps, job.data);
}
