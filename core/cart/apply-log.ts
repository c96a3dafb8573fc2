/**
 * Bringing a Y.Doc up to a cart's log: one place for the node's catch-up, the re-seed, the
 * revalidation worker and compaction. Validation keeps entries Yjs cannot apply out of the log;
 * should one get in anyway it is skipped and reported, never left to make the cart unloadable.
 */
import * as Y from 'yjs';
import type { LoadResult } from '../redis/cart-store.ts';

export interface LogEntry {
  update: Uint8Array;
  /** The log version the entry brings the cart to (the snapshot's: the version it includes). */
  version: number;
}

/** What `loaded` holds, in order: the snapshot (when returned), then the entries after it. */
export function entriesOf(loaded: LoadResult): LogEntry[] {
  const entries: LogEntry[] = [];
  if (loaded.snapshot) entries.push({ update: loaded.snapshot, version: loaded.snapVersion });
  loaded.updates.forEach((update, i) => entries.push({ update, version: loaded.versions[i] ?? loaded.snapVersion }));
  return entries;
}

/** Apply `entries` to `doc` in one transaction; an entry that throws is skipped and passed to `onSkip`. */
export function applyLog(doc: Y.Doc, entries: readonly LogEntry[], origin: unknown, onSkip: (version: number, err: unknown) => void): void {
  if (entries.length === 0) return;
  Y.transact(
    doc,
    () => {
      for (const { update, version } of entries) {
        try {
          Y.applyUpdate(doc, update, origin);
        } catch (err) {
          onSkip(version, err);
        }
      }
    },
    origin,
  );
}
