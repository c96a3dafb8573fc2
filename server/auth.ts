/**
 * Tokens: HS256 JWTs carrying the subject, a role and the carts they grant. Every entry point
 * (Socket.IO connect and join, /yjs connect, REST) verifies the token and checks the grant here.
 */
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { CartError, ROLES, type Role, isCartId } from '../protocol/index.ts';
import { PLAIN_TEXT } from '../protocol/schemas/text.ts';

export const ISSUER = 'livecart';
/** A grant of every cart; only service tokens may carry it. */
export const ALL_CARTS = '*';

export interface Principal {
  subject: string;
  role: Role;
  /** Cart ids this token grants, or ['*'] (service tokens only). */
  carts: string[];
  expiresAt: number;
  /** When it was issued (ms since the epoch; 0 when unknown): a revocation covers tokens issued until it. */
  issuedAt: number;
  /** Customer segment for segment prices ("vip", "staff"); null: none. Only a token can set it. */
  segment: string | null;
  /** Tax region ("US-CA"): the only source of a cart's tax region (cart attributes never are). */
  region: string | null;
  /** The share grant an associate's token was minted for (POST /v1/shares/:code/redeem); null: none. Revocable by itself. */
  grant: string | null;
  /** A display name shown to the cart's other devices (presence, attribution); null: none. */
  name: string | null;
}

export interface MintInput {
  subject: string;
  role: Role;
  carts: string[];
  ttlSeconds: number;
  segment?: string | null;
  region?: string | null;
  grant?: string | null;
  name?: string | null;
}

/** Segment and region claims: short identifiers. */
export const CLAIM_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
/** A grant id: 22 base64url characters (128 random bits). */
export const GRANT_PATTERN = /^[A-Za-z0-9_-]{22}$/;
/** A display name: one line of plain text (protocol/schemas/text.ts rules). */
export const MAX_NAME_LENGTH = 80;

/** Whether `name` is a display name a token may carry. */
export function isDisplayName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= MAX_NAME_LENGTH && PLAIN_TEXT.test(name);
}

const MAX_TOKEN_LENGTH = 8192;

/**
 * Tokens verified lately, by their text: an HMAC check is an async WebCrypto job (tens of µs and a
 * trip through the thread pool), and one client presents the same token on every request. A token
 * whose signature verified once stays so until it expires, so a hit only re-checks the expiry
 * (revocation is checked on every call, by verify()). Bounded; the oldest are dropped first.
 */
const VERIFIED_CACHE_SIZE = 5000;

/** Sign-out everywhere (server/revocations.ts): throws E_AUTH_REVOKED for a revoked token. */
export interface RevocationCheck {
  check(token: { subject: string; issuedAt: number; grant: string | null }): Promise<void>;
}

export class Auth {
  private readonly key: Uint8Array;
  private readonly verified = new Map<string, Principal>();
  constructor(
    secret: string,
    private readonly revocations: RevocationCheck | null = null,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async mint(input: MintInput): Promise<{ token: string; expiresAt: number }> {
    if (!ROLES.includes(input.role)) throw new CartError('E_VALIDATION', `role must be one of ${ROLES.join(', ')}`);
    if (input.carts.includes(ALL_CARTS) && input.role !== 'service') throw new CartError('E_VALIDATION', 'only service tokens may grant every cart');
    for (const c of input.carts) if (c !== ALL_CARTS && !isCartId(c)) throw new CartError('E_CART_ID_INVALID', String(c).slice(0, 80));
    const expiresAt = Math.floor(Date.now() / 1000) + input.ttlSeconds;
    for (const [name, value] of [['segment', input.segment], ['region', input.region]] as const) {
      if (value != null && !CLAIM_PATTERN.test(value)) throw new CartError('E_VALIDATION', `${name} must be 1-32 characters of A-Z a-z 0-9 _ -`);
    }
    if (input.grant != null && !GRANT_PATTERN.test(input.grant)) throw new CartError('E_VALIDATION', 'grant must be a grant id');
    if (input.name != null && !isDisplayName(input.name)) throw new CartError('E_VALIDATION', `name must be 1-${MAX_NAME_LENGTH} characters of plain text`);
    // `iat` has whole seconds: a sign-out and a sign-in in the same second must not be confused.
    const claims: Record<string, unknown> = { role: input.role, carts: input.carts, iatMs: Date.now() };
    if (input.segment != null) claims.segment = input.segment;
    if (input.region != null) claims.region = input.region;
    if (input.grant != null) claims.grant = input.grant;
    if (input.name != null) claims.name = input.name;
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setSubject(input.subject)
      .setIssuedAt()
      .setExpirationTime(expiresAt)
      .sign(this.key);
    return { token, expiresAt: expiresAt * 1000 };
  }

  /** Verify a token and that it was not revoked. Throws E_AUTH_MISSING, E_AUTH_EXPIRED, E_AUTH_INVALID or E_AUTH_REVOKED. */
  async verify(token: unknown): Promise<Principal> {
    const principal = await this.verifySignature(token);
    await this.revocations?.check(principal);
    return principal;
  }

  /**
   * Verify a token's signature and claims only (no Redis read): for rate limits and the admin
   * guard, which only ask whose token it is. Throws like verify(), never E_AUTH_REVOKED.
   */
  async verifySignature(token: unknown): Promise<Principal> {
    if (token === undefined || token === null || token === '') throw new CartError('E_AUTH_MISSING');
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) throw new CartError('E_AUTH_INVALID', 'token must be a string');
    const known = this.verified.get(token);
    if (known) {
      if (known.expiresAt <= Date.now()) {
        this.verified.delete(token);
        throw new CartError('E_AUTH_EXPIRED');
      }
      return known;
    }
    const principal = Object.freeze(await this.checkSignature(token));
    this.verified.set(token, principal);
    if (this.verified.size > VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    return principal;
  }

  private async checkSignature(token: string): Promise<Principal> {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, { algorithms: ['HS256'], issuer: ISSUER }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new CartError('E_AUTH_EXPIRED');
      throw new CartError('E_AUTH_INVALID', err instanceof Error ? err.constructor.name : undefined);
    }
    const { sub, role, carts, exp, iat, iatMs, segment, region, grant, name } = payload;
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > 256) throw new CartError('E_AUTH_INVALID', 'bad subject');
    if (typeof role !== 'string' || !ROLES.includes(role as Role)) throw new CartError('E_AUTH_INVALID', 'bad role');
    if (!Array.isArray(carts) || !carts.every((c) => typeof c === 'string')) throw new CartError('E_AUTH_INVALID', 'bad carts claim');
    if (typeof exp !== 'number') throw new CartError('E_AUTH_INVALID', 'no expiry');
    if (carts.includes(ALL_CARTS) && role !== 'service') throw new CartError('E_AUTH_INVALID', 'wildcard grant on a non-service token');
    for (const claim of [segment, region]) {
      if (claim !== undefined && (typeof claim !== 'string' || !CLAIM_PATTERN.test(claim))) throw new CartError('E_AUTH_INVALID', 'bad segment or region claim');
    }
    if (grant !== undefined && (typeof grant !== 'string' || !GRANT_PATTERN.test(grant))) throw new CartError('E_AUTH_INVALID', 'bad grant claim');
    if (name !== undefined && !isDisplayName(name)) throw new CartError('E_AUTH_INVALID', 'bad name claim');
    const issuedAt = typeof iatMs === 'number' ? iatMs : typeof iat === 'number' ? iat * 1000 : 0;
    return { subject: sub, role: role as Role, carts: carts as string[], expiresAt: exp * 1000, issuedAt, segment: (segment as string | undefined) ?? null, region: (region as string | undefined) ?? null, grant: (grant as string | undefined) ?? null, name: (name as string | undefined) ?? null };
  }

  /** Throws E_AUTH_FORBIDDEN unless `principal` is granted `cartId`. */
  static checkGrant(principal: Principal, cartId: string): void {
    if (!principal.carts.includes(cartId) && !principal.carts.includes(ALL_CARTS)) throw new CartError('E_AUTH_FORBIDDEN', 'cart not granted');
  }

  /** Verify and check the grant in one step. */
  async authorize(token: unknown, cartId: string): Promise<Principal> {
    const principal = await this.verify(token);
    Auth.checkGrant(principal, cartId);
    if (principal.expiresAt <= Date.now()) throw new CartError('E_AUTH_EXPIRED');
    return principal;
  }
}
