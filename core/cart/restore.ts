/**
 * A restore (protocol/SPEC.md §5): the cart's log is empty (Redis lost it, or it expired) and a
 * device's sync step 2 brings its copy back. Only intent comes back. The entry stored is the
 * device's update with every fact record deleted, so the values a client sent for facts are
 * collected and never reach the log, plus the facts of a new cart written by the server; the
 * revalidation every accepted change triggers then re-derives prices and totals.
 *
 * The device's own items keep their ids (a Yjs update's items cannot be dropped without leaving
 * gaps): its copy and the log stay one history, and the deletions reach it like any change.
 */
import * as Y from 'yjs';
import { type CartFacts, FACT_ROOTS, SCHEMA_VERSION, writeCartFacts } from '../../protocol/index.ts';
import { writeAsThisProcess } from './writer-id.ts';

/** The facts of a cart the server has just created (or restored): open, in the default currency. */
export function newCartFacts(): Partial<CartFacts> {
  return { schema: SCHEMA_VERSION, status: 'open', currency: 'USD', totals: null, warnings: [] };
}

/**
 * The log entry for a restore of the cart `base` (its log is empty) from a device's already
 * validated `update`: the update's intent, none of its facts, and `facts` written by this process.
 * Returns the entry and the scratch document it was built on (for the writer-id bookkeeping); the
 * caller destroys it.
 */
export function restoredEntry(cartId: string, base: Y.Doc, update: Uint8Array, facts: Partial<CartFacts>): { entry: Uint8Array; scratch: Y.Doc } {
  const scratch = new Y.Doc({ gc: true, guid: cartId });
  Y.applyUpdate(scratch, Y.encodeStateAsUpdate(base));
  Y.applyUpdate(scratch, update);
  writeAsThisProcess(scratch);
  Y.transact(scratch, () => {
    for (const root of FACT_ROOTS) {
      const map = scratch.getMap(root);
      for (const key of [...map.keys()]) map.delete(key);
    }
    writeCartFacts(scratch, facts);
  });
  // gc: the deleted fact items are re-encoded without their values.
  return { entry: Y.encodeStateAsUpdate(scratch, Y.encodeStateVector(base)), scratch };
}
