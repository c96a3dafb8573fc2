/**
 * A cart's status and the transitions between statuses: the one place that says which moves are
 * allowed and which statuses take changes. The status is a fact of the document (`cart.status`,
 * written by the server only) and, for the atomic steps in Redis, a field of the cart's meta hash
 * (core/redis/cart-status-store.ts); both move together.
 *
 *   open ──▶ merged          a guest cart merged into a customer's active cart at sign-in
 *   open ──▶ checking_out ──▶ ordered        (reserved for checkout)
 *   checking_out ──▶ open                    (reserved: a checkout abandoned)
 *   open / checking_out ──▶ expired          (reserved)
 *
 * Only `open` takes changes from devices, REST or workers; every other status is final for writers.
 */
import type { CartStatus } from './schema.ts';

export const CART_STATUSES: readonly CartStatus[] = ['open', 'checking_out', 'ordered', 'merged', 'expired'];

const TRANSITIONS: Readonly<Record<CartStatus, readonly CartStatus[]>> = {
  open: ['merged', 'checking_out', 'expired'],
  checking_out: ['open', 'ordered', 'expired'],
  ordered: [],
  merged: [],
  expired: [],
};

export function isCartStatus(value: unknown): value is CartStatus {
  return typeof value === 'string' && (CART_STATUSES as readonly string[]).includes(value);
}

/** Whether a cart may move from `from` to `to`. */
export function canTransition(from: CartStatus, to: CartStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Whether a cart in `status` takes changes (lines, quantities, coupons, attributes, prices). */
export function acceptsChanges(status: CartStatus): boolean {
  return status === 'open';
}

/** The statuses a cart may move to from `from` (for the meta-hash script, which checks again). */
export function nextStatuses(from: CartStatus): readonly CartStatus[] {
  return TRANSITIONS[from];
}
