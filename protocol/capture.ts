/**
 * Run a change on a document and capture exactly what it changed as one V1 update (its inserts and
 * its own deletions), or null when it changed nothing. `Y.encodeStateAsUpdate(doc, before)` is not
 * a substitute: it always carries the document's whole delete set.
 */
import * as Y from 'yjs';

export function captureChange<T>(doc: Y.Doc, change: (doc: Y.Doc) => T): { result: T; update: Uint8Array | null } {
  let update: Uint8Array | null = null;
  const capture = (u: Uint8Array): void => {
    update = update === null ? u : Y.mergeUpdates([update, u]);
  };
  doc.on('update', capture);
  try {
    const result = Y.transact(doc, () => change(doc));
    return { result, update };
  } finally {
    doc.off('update', capture);
  }
}
