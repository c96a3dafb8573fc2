/**
 * Bringing a Y.Doc up to a cart's log: one place for the node's catch-up, the re-seed, the
 * revalidation worker and compaction. Validation keeps entries Yjs cannot apply out of the log;
 * should one get in anyway it is skipped and reported, never left to make the cart unloadable.
 */
import * as Y from 'yjs';
import type { LoadResult, LogPosition } from '../redis/cart-store.ts';

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

/** The log position `loaded` brings a copy to: the version and the id of the entry there. */
export function headOf(loaded: LoadResult): LogPosition {
  const last = loaded.ids.length - 1;
  if (last >= 0) return { version: loaded.versions[last] ?? loaded.version, entryId: loaded.ids[last] ?? '' };
  if (loaded.snapshot && loaded.snapVersion === loaded.version) return { version: loaded.snapVersion, entryId: loaded.snapId };
  return { version: loaded.version, entryId: loaded.idAtFrom };
}

/** True when `doc` holds inserts that the log state `loaded` (from version 0, or from a snapshot on) lacks. */
export function holdsMoreThan(doc: Y.Doc, loaded: LoadResult, onSkip: (version: number, err: unknown) => void): boolean {
  const logState = new Y.Doc({ gc: true, guid: doc.guid });
  try {
    applyLog(logState, entriesOf(loaded), null, onSkip);
    for (const [client, clock] of Y.decodeStateVector(Y.encodeStateVector(doc))) {
      if (Y.getState(logState.store, client) < clock) return true;
    }
    return false;
  } finally {
    logState.destroy();
  }
}
