/** The BullMQ workers in the test process, on a node's Redis, key prefix and metrics. */
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { BuiltinCatalogProvider } from '../../core/providers/builtin.ts';
import type { CatalogProvider } from '../../core/providers/types.ts';
import type { Config } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { type Workers, startWorkers } from '../../workers/index.ts';
import type { TestNode } from './node.ts';

export interface TestWorkers {
  workers: Workers;
  close(): Promise<void>;
}

export function startTestWorkers(node: TestNode, opts: { provider?: CatalogProvider; config?: Partial<Config> } = {}): TestWorkers {
  const connection = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
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
