/**
 * BullMQ queues: compaction, revalidation, and catalog fan-out. Each queue's prefix carries a hash
 * tag of its own: a queue's keys share one slot on Redis Cluster, and the queues spread over shards.
 */
import { Queue } from 'bullmq';
import { Keys } from './keys.ts';
import type { RedisClient } from './redis/connect.ts';

export const COMPACT_QUEUE = 'compact';
export const REVALIDATE_QUEUE = 'revalidate';
export const FANOUT_QUEUE = 'fanout';

export interface CompactJob {
  cartId: string;
}

export interface RevalidateJob {
  cartId: string;
  /** When the first change this job answers for was accepted (ms): revalidation lag starts here. */
  since: number;
  /** A re-check of a cart whose facts could not be verified (no change to measure lag from). */
  recheck?: boolean;
}

/** Revalidate every open cart holding one of `skus` or of `categories`, or every open cart (`all`). */
export interface FanoutJob {
  skus: string[];
  categories: string[];
  all: boolean;
}

/** The BullMQ prefix of `queue` (every Queue and Worker of it must use the same). */
export function bullPrefix(keyPrefix: string, queue: string): string {
  return new Keys(keyPrefix).bull(queue);
}

/**
 * How long a revalidation waits after being asked: the burst of edits that follows one edit is
 * answered by one job (BullMQ deduplication keeps one waiting and one active job per cart).
 */
export const REVALIDATE_DELAY_MS = 15;

export class Queues {
  readonly compact: Queue<CompactJob>;
  readonly revalidate: Queue<RevalidateJob>;
  readonly fanout: Queue<FanoutJob>;

  constructor(connection: RedisClient, keyPrefix: string, onError: (err: Error) => void) {
    const opts = (queue: string) => ({ connection, prefix: bullPrefix(keyPrefix, queue) });
    this.compact = new Queue<CompactJob>(COMPACT_QUEUE, opts(COMPACT_QUEUE));
    this.revalidate = new Queue<RevalidateJob>(REVALIDATE_QUEUE, opts(REVALIDATE_QUEUE));
    this.fanout = new Queue<FanoutJob>(FANOUT_QUEUE, opts(FANOUT_QUEUE));
    // A Redis outage surfaces here too; it must be reported, never thrown from an emitter.
    for (const q of [this.compact, this.revalidate, this.fanout]) q.on('error', onError);
  }

  /** Ask for a compaction of `cartId`; a request while one is queued or running is dropped. */
  async requestCompaction(cartId: string): Promise<void> {
    await this.compact.add(COMPACT_QUEUE, { cartId }, { deduplication: { id: cartId }, removeOnComplete: true, removeOnFail: 100, attempts: 3, backoff: { type: 'exponential', delay: 1000 } });
  }

  /**
   * Ask for a revalidation of `cartId`. While one waits, more requests are absorbed by it (it loads
   * the latest state when it runs); while one runs, one more is kept to run after it, so no change
   * is left without a revalidation that saw it and two never run at once for one cart.
   */
  async requestRevalidation(cartId: string, since: number, delayMs = REVALIDATE_DELAY_MS, recheck = false): Promise<void> {
    await this.revalidate.add(
      REVALIDATE_QUEUE,
      recheck ? { cartId, since, recheck } : { cartId, since },
      {
        deduplication: { id: cartId, keepLastIfActive: true },
        delay: delayMs,
        removeOnComplete: true,
        removeOnFail: 1000,
        attempts: 5,
        backoff: { type: 'exponential', delay: 200 },
      },
    );
  }

  async requestFanout(job: FanoutJob): Promise<void> {
    await this.fanout.add(FANOUT_QUEUE, job, { removeOnComplete: true, removeOnFail: 100, attempts: 5, backoff: { type: 'exponential', delay: 500 } });
  }

  async close(): Promise<void> {
    await Promise.all([this.compact.close(), this.revalidate.close(), this.fanout.close()]);
  }
}
