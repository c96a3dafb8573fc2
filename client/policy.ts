/**
 * How the client reacts to each error and each way a cart session ends: one decision table, so the
 * sync engine only carries the decision out. Pure.
 */
import { type CartClosed, type CloseName, type ErrorCode, type WireError, wireError } from '../protocol/index.ts';

export type Reaction =
  /** Keep local edits, mark unsaved, redo the step 1 / step 2 exchange after a backoff. */
  | 'retry'
  /** As retry, but the server lacks what the device thought it had: push the whole local state. */
  | 'retry-full'
  /** The session with the cart is gone: join again after a backoff. */
  | 'rejoin'
  /** The local document holds what the server will never accept: drop it and reload the cart. */
  | 'reject'
  /** Nothing the device can do fixes it (auth, grant): report and stop syncing the cart. */
  | 'stop';

/** What to do with an error answered to a sync or join message. */
export function reactionToError(error: WireError): Reaction {
  if (error.code === 'E_UPDATE_MISSING_DEPENDENCY') return 'retry-full';
  if (error.retryable) return 'retry';
  if (error.code === 'E_CART_NOT_JOINED') return 'rejoin';
  if (error.code.startsWith('E_UPDATE_') || error.code === 'E_CART_CLOSED' || error.code.startsWith('E_MESSAGE_')) return 'reject';
  return 'stop';
}

/** What to do when the server ends the device's session with a cart (`cart-closed`). */
export function reactionToClose(reason: CloseName): Reaction {
  switch (reason) {
    case 'forbidden':
    case 'unauthorized':
    // The cart takes no more changes; a merged one names the cart to follow (LiveCartConnection).
    case 'merged':
    case 'closed':
    case 'revoked':
      return 'stop';
    // SPEC §10: both mean "drop local state, resync".
    case 'rejected':
    case 'too-large':
      return 'reject';
    // 'normal' is only ever seen by a handle that is still open (closed ones are no longer routed),
    // so the session was ended under it (an unload): join again.
    case 'normal':
    case 'shutting-down':
    case 'unavailable':
    case 'rate-limited':
    case 'malformed':
    case 'slow-consumer':
      return 'rejoin';
  }
}

const CLOSE_ERROR: Partial<Record<CloseName, ErrorCode>> = {
  forbidden: 'E_AUTH_FORBIDDEN',
  unauthorized: 'E_AUTH_INVALID',
  rejected: 'E_UPDATE_INVALID_VALUE',
  'too-large': 'E_UPDATE_TOO_LARGE',
  malformed: 'E_MESSAGE_MALFORMED',
  merged: 'E_CART_CLOSED',
  closed: 'E_CART_CLOSED',
  revoked: 'E_AUTH_REVOKED',
};

/** The error a `cart-closed` carries, or the registry's nearest one when it carries none. */
export function closeError(closed: CartClosed): WireError {
  return closed.error ?? wireError(CLOSE_ERROR[closed.reason] ?? 'E_INTERNAL', `cart closed: ${String(closed.reason)}`);
}

/** Exponential backoff with jitter: min, 2·min, 4·min … capped at max; `reset` after a success. */
export class Backoff {
  private next: number;
  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {
    this.next = minMs;
  }

  /** The delay to wait now. ±20% jitter spreads the devices a restarting node sent away. */
  delay(): number {
    const base = this.next;
    this.next = Math.min(this.next * 2, this.maxMs);
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  reset(): void {
    this.next = this.minMs;
  }
}
