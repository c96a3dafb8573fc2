/**
 * BullMQ queues the server produces into. The prefix carries a hash tag so a queue's keys share one
 * slot on Redis Cluster.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

export const COMPACT_QUEUE = 'compact';

export interface CompactJob {
  cartId: string;
}

export function bullPrefix(keyPrefix: string): string {
  return `{${keyPrefix}-bull}`;
}

export class Queues {
  readonly compact: Queue<CompactJob>;
  constructor(connection: Redis, keyPrefix: string, onError: (err: Error) => void) {
    this.compact = new Queue<CompactJob>(COMPACT_QUEUE, { connection, prefix: bullPrefix(keyPrefix) });
    // A Redis outage surfaces here too; it must be reported, never thrown from an emitter.
    this.compact.on('error', onError);
  }

  /** Ask for a compaction of `cartId`; a request while one is queued or running is dropped. */
  async requestCompaction(cartId: string): Promise<void> {
    await this.compact.add(COMPACT_QUEUE, { cartId }, { deduplication: { id: cartId }, removeOnComplete: true, removeOnFail: 100, attempts: 3, backoff: { type: 'exponential', delay: 1000 } });
  }

  async close(): Promise<void> {
    await this.compact.close();
  }
}
