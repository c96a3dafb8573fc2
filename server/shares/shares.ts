/**
 * Co-browsing with a store associate (protocol/SPEC.md §2 "Co-browsing"): the customer makes a
 * share code, an associate redeems it for a token of that one cart (role `associate`, carrying the
 * grant id), and the customer can revoke the grant, which cuts the associate's sessions on every
 * node (server/revocations.ts) and makes an unredeemed code worthless.
 */
import { CartError } from '../../protocol/index.ts';
import { DEFAULT_SHARE_TTL_SECONDS, MAX_SHARE_TTL_SECONDS } from '../../protocol/schemas/index.ts';
import type { ShareStore } from '../../core/redis/share-store.ts';
import { Auth, type Principal } from '../auth.ts';
import type { IdpVerifier } from '../idp.ts';
import { requirePermission } from '../permissions.ts';
import type { Revocations } from '../revocations.ts';
import { type ActivityFeed, actorOf } from '../activity.ts';

export interface SharesDeps {
  auth: Auth;
  idp: IdpVerifier | null;
  store: ShareStore;
  revocations: Revocations;
  /** Whether the cart exists (a code for no cart would be a dead end for the associate). */
  cartExists: (cartId: string) => Promise<boolean>;
  /** Lifetime of an associate's token (core/config.ts shareGrantTtlSeconds). */
  grantTtlSeconds: number;
  /** The cart's activity feed: redeems and revocations are entries of it. */
  activity: Pick<ActivityFeed, 'record'>;
}

/** Who redeems a code: an associate, from a livecart token or the shop's IdP. */
interface Associate {
  subject: string;
  name: string | null;
}

export class Shares {
  constructor(private readonly deps: SharesDeps) {}

  /** A share code for `cartId` (a customer token granting it). */
  async create(principal: Principal, cartId: string, ttlSeconds = DEFAULT_SHARE_TTL_SECONDS): Promise<{ code: string; grantId: string; expiresAt: number }> {
    Auth.checkGrant(principal, cartId);
    requirePermission(principal.role, 'cart.share');
    if (ttlSeconds > MAX_SHARE_TTL_SECONDS) throw new CartError('E_VALIDATION', `ttlSeconds must be at most ${MAX_SHARE_TTL_SECONDS}`);
    if (!(await this.deps.cartExists(cartId))) throw new CartError('E_CART_NOT_FOUND');
    const { code, grantId, expiresAt } = await this.deps.store.create(cartId, ttlSeconds * 1000, this.deps.grantTtlSeconds * 1000);
    return { code, grantId, expiresAt };
  }

  /**
   * Redeem `code` with an associate's token. The token is checked first: a caller who is not an
   * associate burns no code. Throws E_SHARE_NOT_FOUND for an unknown, expired, used or revoked code.
   */
  async redeem(token: string | undefined, code: string): Promise<{ cartId: string; token: string; grantId: string; expiresAt: number }> {
    const associate = await this.associate(token);
    const share = await this.deps.store.redeem(code.toUpperCase());
    if (share === null || (await this.deps.revocations.grantRevoked(share.grantId))) throw new CartError('E_SHARE_NOT_FOUND');
    const minted = await this.deps.auth.mint({ subject: associate.subject, role: 'associate', carts: [share.cartId], ttlSeconds: this.deps.grantTtlSeconds, grant: share.grantId, name: associate.name });
    this.deps.activity.record(share.cartId, { id: associate.subject, role: 'associate', name: associate.name, device: null }, [{ action: 'share.redeemed' }]);
    return { cartId: share.cartId, token: minted.token, grantId: share.grantId, expiresAt: minted.expiresAt };
  }

  /** Revoke grant `grantId` of `cartId` (the customer): every token of it stops working on every node. */
  async revoke(principal: Principal, cartId: string, grantId: string): Promise<void> {
    Auth.checkGrant(principal, cartId);
    requirePermission(principal.role, 'cart.share');
    const grant = await this.deps.store.grant(grantId);
    if (grant === null || grant.cartId !== cartId) throw new CartError('E_SHARE_NOT_FOUND');
    await this.deps.revocations.revokeGrant(grantId, grant.keepMs);
    await this.deps.store.dropCode(grant.code);
    this.deps.activity.record(cartId, actorOf(principal, 'rest'), [{ action: 'share.revoked' }]);
  }

  /** The associate a token speaks for: a livecart `associate` token, or an IdP token with the associate claim. */
  private async associate(token: string | undefined): Promise<Associate> {
    let principal: Principal;
    try {
      principal = await this.deps.auth.verify(token);
    } catch (err) {
      // Not a livecart token: maybe the shop's IdP's (RS256/ES256, never verifies as HS256).
      if (!(err instanceof CartError) || err.code !== 'E_AUTH_INVALID' || this.deps.idp === null) throw err;
      const identity = await this.deps.idp.verify(token);
      if (identity.role !== 'associate') throw new CartError('E_AUTH_FORBIDDEN', 'only a store associate may redeem a share code');
      return { subject: identity.subject, name: identity.name };
    }
    // An associate's grant token is for one cart: it does not redeem further codes.
    if (principal.role !== 'associate' || principal.grant !== null) throw new CartError('E_AUTH_FORBIDDEN', 'only a store associate may redeem a share code');
    return { subject: principal.subject, name: principal.name };
  }
}
