/**
 * Starts the BullMQ workers of one process: compaction, revalidation and catalog fan-out.
 * Connections are injected: `connection` is the blocking one BullMQ needs
 * (maxRetriesPerRequest: null), `redis` serves commands.
 */
import { Worker } from 'bullmq';
import type { RedisClient } from '../core/redis/connect.ts';
import type { CatalogStore } from '../core/catalog/catalog-store.ts';
import type { RulesStore } from '../core/catalog/rules-store.ts';
import { BuiltinCatalogProvider } from '../core/providers/builtin.ts';
import { HttpCatalogProvider } from '../core/providers/http.ts';
import type { CatalogProvider } from '../core/providers/types.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import { type Metrics, createWorkerMetrics } from '../core/metrics.ts';
import { FANOUT_QUEUE, Queues, REVALIDATE_QUEUE, bullPrefix } from '../core/queues.ts';
import { CartStore } from '../core/redis/cart-store.ts';
import { SkuIndex } from '../core/revalidation/sku-index.ts';
import { startCompactionWorker } from './compaction.ts';
import { fanoutProcessor } from './fanout.ts';
import { revalidateProcessor } from './revalidate.ts';

export interface WorkerOptions {
  connection: RedisClient;
  redis: RedisClient;
  config: Config;
  metrics: Metrics;
  log: Logger;
  /** Where product facts come from (the built-in catalog, or a shop's services with it as fallback). */
  provider: CatalogProvider;
  catalog: CatalogStore;
  rules: RulesStore;
}

/** The provider the configuration asks for: a shop's HTTP services, or the built-in catalog. */
export function providerFromConfig(config: Config, catalog: CatalogStore, log: Logger): CatalogProvider {
  const builtin = new BuiltinCatalogProvider(catalog);
  if (config.pricingUrl === null && config.inventoryUrl === null) return builtin;
  return new HttpCatalogProvider({ pricingUrl: config.pricingUrl, inventoryUrl: config.inventoryUrl, fallback: builtin, timeoutMs: config.providerTimeoutMs, log });
}

export interface Workers {
  queues: Queues;
  close(): Promise<void>;
}

export function startWorkers(opts: WorkerOptions): Workers {
  const { connection, redis, config, log } = opts;
  const workerMetrics = createWorkerMetrics(opts.metrics);
  const store = new CartStore(redis, config.keyPrefix, { replicas: config.redis.waitReplicas, timeoutMs: config.redis.waitTimeoutMs });
  // Index entries live as long as a cart can (plus a minute for clock skew between workers).
  const index = new SkuIndex(redis, config.keyPrefix, config.cartTtlSeconds * 1000 + 60_000);
  const queues = new Queues(redis, config.keyPrefix, (err) => log.warn('queue error', { err }));
  const workers = [
    startCompactionWorker(connection, config.keyPrefix, store, log),
    new Worker(
      REVALIDATE_QUEUE,
      revalidateProcessor({
        store,
        redis,
        keyPrefix: config.keyPrefix,
        index,
        queues,
        lookup: (skus, currency) => opts.provider.lookup(skus, { currency }),
        rules: () => opts.rules.getCached(),
        limits: config.limits,
        emptyCartTtlMs: config.emptyCartTtlSeconds * 1000,
        cartTtlMs: config.cartTtlSeconds * 1000,
        unverifiedRetryMs: 2000,
        removedLineGraceMs: config.removedLineGraceSeconds * 1000,
        metrics: workerMetrics,
        log,
      }),
      { connection, prefix: bullPrefix(config.keyPrefix, REVALIDATE_QUEUE), concurrency: config.workerConcurrency, lockDuration: config.jobLockMs, stalledInterval: config.jobLockMs },
    ),
    new Worker(FANOUT_QUEUE, fanoutProcessor({
        index,
        store,
        queues,
        skusInCategory: async (category) => (await opts.catalog.list()).filter((p) => p.category === category).map((p) => p.sku),
      }), { connection, prefix: bullPrefix(config.keyPrefix, FANOUT_QUEUE), concurrency: 2 }),
  ];
  for (const worker of workers) {
    const queue = worker.name;
    worker.on('completed', () => workerMetrics.jobs({ queue, outcome: 'completed' }));
    worker.on('failed', (job, err) => {
      workerMetrics.jobs({ queue, outcome: 'failed' });
      log.warn('job failed', { queue, cartId: (job?.data as { cartId?: string } | undefined)?.cartId, attempt: job?.attemptsMade, err });
    });
    worker.on('error', (err) => log.warn('worker error', { queue, err }));
  }
  opts.metrics.gauge('livecart_revalidation_queue_depth', 'Revalidation jobs waiting or delayed.', async () => {
    const counts = await queues.revalidate.getJobCounts('waiting', 'delayed', 'prioritized');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  });

  return {
    queues,
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await queues.close();
    },
  };
}
