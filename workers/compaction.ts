/**
 * Compaction: fold a cart's snapshot and log into a new snapshot and trim the log, so a cart's load
 * time does not grow with its history. The state goes through a Y.Doc (gc on) and is re-encoded;
 * Y.mergeUpdates would keep deleted content.
 */
import { Worker, type Job } from 'bullmq';
import type { RedisClient } from '../core/redis/connect.ts';
import * as Y from 'yjs';
import { applyLog, entriesOf, headOf } from '../core/cart/apply-log.ts';
import type { Logger } from '../core/log.ts';
import { COMPACT_QUEUE, type CompactJob, bullPrefix } from '../core/queues.ts';
import type { CartStore } from '../core/redis/cart-store.ts';

export interface CompactionResult {
  compacted: boolean;
  version: number;
  bytes: number;
}

/** Compact one cart now. Safe to run concurrently with appends: it folds only up to the version it read. */
export async function compactCart(store: CartStore, cartId: string, log?: Logger): Promise<CompactionResult> {
  const loaded = await store.load(cartId, 0);
  if (loaded.version === 0) return { compacted: false, version: 0, bytes: 0 };
  const doc = new Y.Doc({ gc: true, guid: cartId });
  try {
    // An entry that cannot be applied is left out of the snapshot (it never showed anywhere).
    applyLog(doc, entriesOf(loaded), null, (version, err) => log?.error('compaction skipped a log entry that cannot be applied', { cartId, version, err }));
    const state = Y.encodeStateAsUpdate(doc);
    const compacted = await store.saveSnapshot(cartId, state, headOf(loaded));
    return { compacted, version: loaded.version, bytes: state.byteLength };
  } finally {
    doc.destroy();
  }
}

export function startCompactionWorker(connection: RedisClient, keyPrefix: string, store: CartStore, log: Logger): Worker<CompactJob, CompactionResult> {
  const worker = new Worker<CompactJob, CompactionResult>(COMPACT_QUEUE, (job: Job<CompactJob>) => compactCart(store, job.data.cartId, log), {
    connection,
    prefix: bullPrefix(keyPrefix, COMPACT_QUEUE),
    concurrency: 2,
  });
  worker.on('error', (err) => log.warn('compaction worker error', { err }));
  return worker;
}
