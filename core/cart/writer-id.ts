/**
 * The Yjs client id a process writes a cart's server changes under (REST changes, claims and
 * restores on a node, corrections in a worker). One id per cart and process instead of a fresh one
 * per change keeps a cart's state vector and snapshot from growing with every correction (each new
 * client id costs every state vector, snapshot and sync step an entry, forever).
 *
 * An id may be reused only while the document being changed holds everything this process wrote
 * under it: Yjs identifies content by (client id, clock), so writing clock n again with other
 * content, after the log lost the first write (a Redis tail loss), would leave replicas that saw the
 * first one silently different forever. So the process remembers, per cart, the id and the clock
 * its last appended change reached; a document whose state for that id is behind gets a fresh id.
 * Changes whose append lost the compare-and-set were never stored or shown, so their clocks are free.
 */
import * as Y from 'yjs';

/** Carts remembered (least recently written dropped first); a forgotten cart just gets a new id. */
const MAX_REMEMBERED_CARTS = 10_000;

interface Written {
  client: number;
  /** The id's clock after this process's last appended change. */
  clock: number;
}

const written = new Map<string, Written>();

function freshClientId(doc: Y.Doc): number {
  // Yjs' own draw (a random uint32); never one the document already holds.
  for (;;) {
    const id = new Y.Doc({ guid: 'id' }).clientID;
    if (!doc.store.clients.has(id)) return id;
  }
}

/**
 * Make `doc` (named after its cart: `guid` is the cart id) write under this process's id for the
 * cart. Call after the cart's state was applied to it (Yjs would otherwise take the id's own
 * history, arriving remotely, for a clash and pick a new id).
 */
export function writeAsThisProcess(doc: Y.Doc): void {
  const known = written.get(doc.guid);
  doc.clientID = known !== undefined && Y.getState(doc.store, known.client) >= known.clock ? known.client : freshClientId(doc);
}

/** Record that the change built on `doc` (after writeAsThisProcess) is in the cart's log now. */
export function appendedAsThisProcess(doc: Y.Doc): void {
  written.delete(doc.guid);
  written.set(doc.guid, { client: doc.clientID, clock: Y.getState(doc.store, doc.clientID) });
  if (written.size > MAX_REMEMBERED_CARTS) {
    const oldest = written.keys().next();
    if (!oldest.done) written.delete(oldest.value);
  }
}
