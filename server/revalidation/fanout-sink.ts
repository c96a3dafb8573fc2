/**
 * The revalidation side of catalog changes: each change announced by the admin API becomes a
 * fan-out job that revalidates the open carts it can affect.
 */
import type { CatalogChangeSink, RulesChange } from '../../core/catalog/change-sink.ts';
import type { Logger } from '../../core/log.ts';
import type { FanoutJob, Queues } from '../../core/queues.ts';

export function fanoutSink(queues: Queues, log: Logger): CatalogChangeSink {
  const send = (job: FanoutJob): void => {
    if (!job.all && job.skus.length === 0 && job.categories.length === 0) return;
    queues.requestFanout(job).catch((err: unknown) => log.error('could not enqueue a catalog fan-out; carts will be corrected on their next change', { err, job }));
  };
  return {
    productsChanged: (skus) => send({ skus: [...new Set(skus)], categories: [], all: false }),
    rulesChanged: (change: RulesChange) => send({ skus: change.skus ?? [], categories: change.categories ?? [], all: change.all ?? false }),
  };
}
