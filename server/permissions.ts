/**
 * What each role may do, in one table: every route and session that needs more than "the token
 * grants this cart" asks here. Roles come from tokens (server/auth.ts) and IdP claims
 * (server/idp.ts). Actions not yet served by a route are listed so that their routes, when they
 * come, ask the same table (checkout, share codes, owner changes).
 */
import { CartError, type Role } from '../protocol/index.ts';

export type Action =
  /** Read and change lines, notes, coupons of a granted cart. */
  | 'cart.edit'
  /** Sign in at POST /v1/auth/exchange and get an active cart of one's own. */
  | 'cart.signIn'
  /** Check a cart out (a checkout route, once it exists). */
  | 'cart.checkout'
  /** Create share codes for a cart (co-browsing). */
  | 'cart.share'
  /** Change who owns a cart. */
  | 'cart.changeOwner';

const ALLOWED: Readonly<Record<Action, readonly Role[]>> = {
  'cart.edit': ['customer', 'associate', 'service'],
  // An associate reaches a customer's cart through her share code, never an active cart of her own.
  'cart.signIn': ['customer'],
  'cart.checkout': ['customer', 'service'],
  'cart.share': ['customer'],
  'cart.changeOwner': ['customer', 'service'],
};

export function may(role: Role, action: Action): boolean {
  return ALLOWED[action].includes(role);
}

/** Throws E_AUTH_FORBIDDEN unless `role` may do `action`. */
export function requirePermission(role: Role, action: Action): void {
  if (!may(role, action)) throw new CartError('E_AUTH_FORBIDDEN', `a ${role} may not ${action.slice('cart.'.length)}`);
}
