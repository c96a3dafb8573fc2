/**
 * Tokens of the shop's identity provider (IdP): RS256 or ES256 JWTs checked against the IdP's keys
 * (a JWKS endpoint, cached by jose and refetched when a token names a `kid` it does not hold, which
 * is how a key rotation is picked up; or one PEM key), its issuer and its audience. An IdP token
 * only ever reaches POST /v1/auth/exchange: it is never a livecart token (those are HS256, issuer
 * `livecart`, server/auth.ts), and never a service token.
 */
import { createPublicKey } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, importSPKI, jwtVerify, type JWTVerifyGetKey, type CryptoKey } from 'jose';
import { CartError } from '../protocol/index.ts';
import type { IdpConfig } from '../core/config.ts';
import { isDisplayName } from './auth.ts';

/** The only algorithms accepted: an HS256 token (a livecart token, or a forged one) never verifies here. */
export const IDP_ALGORITHMS = ['RS256', 'ES256'];
/** The claim that marks store staff: `livecart_role: "associate"`. Any other value (or none): a customer. */
export const ROLE_CLAIM = 'livecart_role';
/** Skew allowed between the IdP's clock and ours on `exp` and `nbf`. */
const CLOCK_TOLERANCE_SECONDS = 5;
/** Longer than any IdP token we have seen (they carry a few claims); a bigger one costs a parse for nothing. */
export const MAX_IDP_TOKEN_LENGTH = 8192;

/** Who an IdP token speaks for. */
export interface IdpIdentity {
  /** The token's `sub`: the customer's (or associate's) id at the shop. */
  subject: string;
  role: 'customer' | 'associate';
  /** The IdP token's own expiry (ms since the epoch). */
  expiresAt: number;
  /** The token's `name` claim when it is a display name livecart accepts (server/auth.ts isDisplayName); else null. */
  name: string | null;
}

/** The role an IdP token's claims give: associate only for the exact claim value. */
export function roleOfClaims(claims: Record<string, unknown>): IdpIdentity['role'] {
  return claims[ROLE_CLAIM] === 'associate' ? 'associate' : 'customer';
}

export class IdpVerifier {
  private readonly key: Promise<CryptoKey> | JWTVerifyGetKey;
  /** A JWKS may hold keys of both kinds; one PEM key verifies its own algorithm only. */
  private readonly algorithms: string[];

  constructor(private readonly config: IdpConfig & { issuer: string; audience: string }) {
    if (config.jwksUrl !== null) {
      this.key = createRemoteJWKSet(new URL(config.jwksUrl), { cooldownDuration: config.jwksCooldownMs, timeoutDuration: config.jwksTimeoutMs });
      this.algorithms = IDP_ALGORITHMS;
    } else if (config.publicKey !== null) {
      // core/config.ts checked the key is RSA or P-256.
      const alg = createPublicKey(config.publicKey).asymmetricKeyType === 'ec' ? 'ES256' : 'RS256';
      this.key = importSPKI(config.publicKey, alg);
      this.algorithms = [alg];
    } else {
      throw new Error('IdpVerifier needs a JWKS URL or a public key');
    }
  }

  /** The IdP configured in `config`, or null when sign-in is off. */
  static fromConfig(config: IdpConfig): IdpVerifier | null {
    if ((config.jwksUrl === null && config.publicKey === null) || config.issuer === null || config.audience === null) return null;
    return new IdpVerifier({ ...config, issuer: config.issuer, audience: config.audience });
  }

  /**
   * Verify an IdP token. Throws E_AUTH_MISSING, E_AUTH_EXPIRED, E_AUTH_INVALID (detail: which
   * check failed: signature, key, algorithm, issuer, audience, subject) or E_IDP_UNAVAILABLE (the
   * JWKS endpoint could not be read; retryable).
   */
  async verify(token: unknown): Promise<IdpIdentity> {
    if (token === undefined || token === null || token === '') throw new CartError('E_AUTH_MISSING');
    if (typeof token !== 'string' || token.length > MAX_IDP_TOKEN_LENGTH) throw new CartError('E_AUTH_INVALID', `token must be a string of at most ${MAX_IDP_TOKEN_LENGTH} characters`);
    let payload;
    try {
      const options = { algorithms: this.algorithms, issuer: this.config.issuer, audience: this.config.audience, clockTolerance: CLOCK_TOLERANCE_SECONDS, requiredClaims: ['exp', 'sub'] };
      const key = this.key;
      ({ payload } = typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, await key, options));
    } catch (err) {
      throw refusal(err);
    }
    const { sub, exp, name } = payload;
    if (typeof sub !== 'string' || sub.length === 0 || sub.length > 256) throw new CartError('E_AUTH_INVALID', 'subject must be 1-256 characters');
    if (typeof exp !== 'number') throw new CartError('E_AUTH_INVALID', 'no expiry');
    // A name with control characters or of any length is dropped, not refused: it only labels the person.
    return { subject: sub, role: roleOfClaims(payload), expiresAt: exp * 1000, name: isDisplayName(name) ? name : null };
  }
}

/** jose's failure as a typed error, naming the check that failed (never the token). */
function refusal(err: unknown): CartError {
  if (err instanceof joseErrors.JWTExpired) return new CartError('E_AUTH_EXPIRED');
  if (err instanceof joseErrors.JWTClaimValidationFailed) return new CartError('E_AUTH_INVALID', `${err.claim} claim: ${err.reason}`);
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return new CartError('E_AUTH_INVALID', `algorithm not allowed (${IDP_ALGORITHMS.join(' or ')} with the identity provider's key)`);
  if (err instanceof joseErrors.JWKSNoMatchingKey) return new CartError('E_AUTH_INVALID', 'no key of the identity provider matches the token');
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return new CartError('E_AUTH_INVALID', 'signature');
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid || err instanceof joseErrors.JOSENotSupported) return new CartError('E_AUTH_INVALID', 'malformed token');
  // The JWKS endpoint timed out, answered something else than a key set, or could not be reached.
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JWKSInvalid || !(err instanceof joseErrors.JOSEError) || err.code === 'ERR_JOSE_GENERIC') {
    return new CartError('E_IDP_UNAVAILABLE');
  }
  return new CartError('E_AUTH_INVALID', err.code);
}
