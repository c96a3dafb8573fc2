/**
 * The Yjs client id this process writes server changes under (REST changes and claims on a node,
 * corrections in a worker). One id per process instead of a fresh one per change keeps a cart's
 * state vector and snapshot from growing with every correction (each new client id costs every
 * state vector, snapshot and sync step an entry, forever).
 *
 * Safe because every server change is built on a document holding everything this process wrote
 * to that cart before (a node catches its copy up first; a worker loads the whole log) and is
 * appended with a compare-and-set on the version it was built from: two changes can never claim the
 * same clock of this id.
 */
import * as Y from 'yjs';

const PROCESS_CLIENT_ID = new Y.Doc().clientID;

/**
 * Make `doc` write under this process's client id. Call after the cart's state was applied to it
 * (Yjs would otherwise take the id's own history, arriving remotely, for a clash and pick a new id).
 */
export function writeAsThisProcess(doc: Y.Doc): void {
  doc.clientID = PROCESS_CLIENT_ID;
}
