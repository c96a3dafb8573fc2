/** The BullMQ workers in the test process, on a node's Redis, key prefix and metrics. */
import { BuiltinCatalogProvider } from '../../core/providers/builtin.ts';
import type { CatalogProvider } from '../../core/providers/types.ts';
import type { Config } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { duplicateRedis } from '../../core/redis/connect.ts';
import { SkuIndex } from '../../core/revalidation/sku-index.ts';
import { type Workers, startWorkers } from '../../workers/index.ts';
import type { RevalidateDeps } from '../../workers/revalidate.ts';
import type { TestNode } from './node.ts';

export interface TestWorkers {
  workers: Workers;
  close(): Promise<void>;
}

export function startTestWorkers(node: TestNode, opts: { provider?: CatalogProvider; config?: Partial<Config> } = {}): TestWorkers {
  // BullMQ's blocking connection, to the node's Redis (one server or a cluster).
  const connection = duplicateRedis(node.redis, 'blocking');
  connection.on('error', () => undefined);
  const config = { ...node.config, ...opts.config };
  const workers = startWorkers({
    connection,
    redis: node.redis,
    config,
    metrics: node.node.metrics,
    log: createLogger(config.logLevel),
    provider: opts.provider ?? new BuiltinCatalogProvider(node.node.catalog),
    catalog: node.node.catalog,
    rules: node.node.rules,
  });
  return {
    workers,
    async close() {
      await workers.close();
      connection.disconnect();
    },
  };
}

/** What `revalidateCart` needs, on `node`'s Redis and catalog, to run a revalidation inside a test. */
export function revalidationDeps(node: TestNode, queues: Workers['queues']): RevalidateDeps {
  const { config } = node;
  return {
    store: node.node.store,
    redis: node.redis,
    keyPrefix: config.keyPrefix,
    index: new SkuIndex(node.redis, config.keyPrefix),
    queues,
    lookup: (skus: string[]) => new BuiltinCatalogProvider(node.node.catalog).lookup(skus),
    rules: () => node.node.rules.getCached(),
    limits: config.limits,
    emptyCartTtlMs: config.emptyCartTtlSeconds * 1000,
    cartTtlMs: config.cartTtlSeconds * 1000,
    unverifiedRetryMs: 1000,
    removedLineGraceMs: config.removedLineGraceSeconds * 1000,
    metrics: { jobs: () => undefined, corrections: () => undefined, lag: () => undefined },
    log: createLogger('silent'),
  };
}
