/**
 * POST /v1/auth/exchange: an IdP token (server/idp.ts) becomes a short-lived livecart customer token
 * for the customer's active cart, created on her first sign-in; a guest cart in the body is merged
 * into it, or adopted as it when she has none yet. The minted token grants the active cart (the
 * one open cart she owns); exchanging again refreshes it.
 */
import { CartError } from '../../protocol/index.ts';
import type { MergeStrategy } from '../../protocol/schemas/index.ts';
import type { Auth } from '../auth.ts';
import type { IdpVerifier } from '../idp.ts';
import { requirePermission } from '../permissions.ts';
import { ActiveCarts, type ActiveCartDeps } from './active-cart.ts';
import { type MergeDeps, mergeGuestCart } from './merge.ts';

export interface SignInDeps extends ActiveCartDeps, MergeDeps {
  idp: IdpVerifier | null;
  auth: Auth;
  /** Lifetime of the minted livecart token. */
  tokenTtlSeconds: number;
  /**
   * Counts each sign-in by outcome (`livecart_signins_total`): `signed-in` (no guest cart),
   * `adopted`, `merged`, `already-merged`, `in-progress` (another exchange holds the guest cart).
   */
  counted?: (outcome: string) => void;
}

export interface SignInRequest {
  guestCartId?: string;
  guestToken?: string;
  strategy?: MergeStrategy;
}

export interface SignedIn {
  customerId: string;
  cartId: string;
  token: string;
  expiresAt: number;
}

export class SignIn {
  private readonly active: ActiveCarts;

  constructor(private readonly deps: SignInDeps) {
    this.active = new ActiveCarts(deps);
  }

  /** Throws CartError: E_IDP_NOT_CONFIGURED, the IdP token's refusals, the guest token's, the merge's. */
  async exchange(idpToken: string | undefined, body: SignInRequest): Promise<SignedIn> {
    const { idp, auth } = this.deps;
    if (idp === null) throw new CartError('E_IDP_NOT_CONFIGURED');
    const identity = await idp.verify(idpToken);
    requirePermission(identity.role, 'cart.signIn');
    const customerId = identity.subject;
    // The guest token proves the device holds the guest cart: it must grant that cart.
    if (body.guestCartId !== undefined) {
      const guest = await auth.authorize(body.guestToken, body.guestCartId);
      // A service token grants every cart: it proves no device holds this one.
      if (guest.role !== 'customer') throw new CartError('E_AUTH_FORBIDDEN', 'guestToken must be a customer token of the guest cart');
    }
    let lookup = await this.active.find(customerId);
    let outcome = 'signed-in';
    if (body.guestCartId !== undefined && body.guestCartId !== lookup.cartId) {
      ({ outcome, ...lookup } = await this.withGuest(customerId, lookup, body.guestCartId, body.strategy ?? 'merge'));
    }
    const cartId = await this.active.ensure(customerId, lookup);
    const minted = await auth.mint({ subject: customerId, role: 'customer', carts: [cartId], ttlSeconds: this.deps.tokenTtlSeconds, name: identity.name });
    this.deps.counted?.(outcome);
    return { customerId, cartId, token: minted.token, expiresAt: minted.expiresAt };
  }

  /** Adopt the guest cart as the active cart when there is none, else merge it in. */
  private async withGuest(
    customerId: string,
    lookup: { cartId: string | null; seen: string | null },
    guestId: string,
    strategy: MergeStrategy,
  ): Promise<{ cartId: string | null; seen: string | null; outcome: string }> {
    let { cartId, seen } = lookup;
    if (cartId === null) {
      const adopted = await this.deps.statuses.adopt(guestId, customerId);
      if (adopted.kind === 'gone') throw new CartError('E_CART_NOT_FOUND', 'the guest cart does not exist (or expired)');
      if (adopted.kind === 'owned') throw new CartError('E_AUTH_FORBIDDEN', 'the guest cart belongs to another customer');
      // Merged already (a repeated exchange whose first one went into another active cart since
      // gone): nothing to adopt; a new active cart is made.
      if (adopted.kind === 'closed') return { cartId: null, seen, outcome: 'already-merged' };
      const now = await this.active.point(customerId, seen, guestId);
      if (now === guestId) return { cartId: guestId, seen: guestId, outcome: 'adopted' };
      // Another device signed in first and set an active cart: merge into that one instead.
      ({ cartId, seen } = await this.active.find(customerId));
      if (cartId === null || cartId === guestId) return { cartId, seen, outcome: 'adopted' };
    }
    const merged = await mergeGuestCart(this.deps, guestId, cartId, customerId, strategy);
    return { cartId, seen, outcome: merged.merged ? 'merged' : merged.why };
  }
}
