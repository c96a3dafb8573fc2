/**
 * The origin of every Yjs transaction on a server-side cart document, as an explicit tagged value
 * (never inferred from a missing field). Observers use it to decide what to relay and persist.
 */
export type ChangeOrigin =
  /** A device's update, already appended to the log by this node. */
  | { kind: 'client'; socketId: string }
  /** A stock Yjs client on the y-websocket endpoint, already appended. */
  | { kind: 'yws'; connectionId: string }
  /**
   * Catching the node's copy up from the cart log (already stored). `relayed`: the node that
   * appended it relayed it to every node's devices already (a worker's or a re-seed's was not).
   */
  | { kind: 'log'; relayed?: boolean }
  /** A REST mutation made by this node. */
  | { kind: 'rest'; requestId: string }
  /** A worker's correction. */
  | { kind: 'worker'; job: string }
  /** Segment and region claims of a token that joined, stamped on the cart's facts. */
  | { kind: 'claims'; subject: string }
  /**
   * A device's copy restoring a cart whose log was empty, stored as its intent with the facts it
   * carried deleted (protocol/SPEC.md §5): relayed to the restoring device too, which lacks those
   * deletions and the server's facts.
   */
  | { kind: 'restore'; subject: string }
  /**
   * A sign-in's merge (server/signin/merge.ts): a guest cart's lines written into the customer's
   * active cart, or the guest cart's status becoming `merged`.
   */
  | { kind: 'merge'; subject: string; from: string };

export const LOG_ORIGIN: ChangeOrigin = Object.freeze({ kind: 'log' });
