/**
 * A shop's identity provider for tests: a real JWKS endpoint on 127.0.0.1:0 serving keys made in
 * the test (jose generateKeyPair / exportJWK), which it can rotate (a new key with a new `kid`),
 * and tokens signed with them.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, type JWK, SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';

export const IDP_ISSUER = 'https://idp.shop.test/';
export const IDP_AUDIENCE = 'livecart-shop';

export interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

export async function signingKey(alg: 'RS256' | 'ES256' = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `k-${randomBytes(4).toString('hex')}`;
  return { kid, alg, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export async function pemOf(key: SigningKey): Promise<string> {
  return exportSPKI(key.publicKey);
}

export interface TokenClaims {
  sub?: string;
  iss?: string;
  aud?: string;
  /** Seconds from now; negative: already expired. */
  expiresIn?: number;
  livecart_role?: string;
  [claim: string]: unknown;
}

/** An IdP token signed with `key` (defaults: our issuer and audience, 10 minutes). */
export async function idpToken(key: SigningKey, claims: TokenClaims = {}): Promise<string> {
  const { sub = `cust-${randomBytes(4).toString('hex')}`, iss = IDP_ISSUER, aud = IDP_AUDIENCE, expiresIn = 600, ...rest } = claims;
  return new SignJWT(rest)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setSubject(sub)
    .setIssuer(iss)
    .setAudience(aud)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + expiresIn)
    .sign(key.privateKey);
}

export interface TestIdp {
  jwksUrl: string;
  /** The keys the endpoint serves now (the first one signs by default). */
  keys: SigningKey[];
  /** Requests the endpoint answered. */
  fetches: number;
  /** Replace the served keys by a new one (new kid); returns it. */
  rotate(alg?: 'RS256' | 'ES256'): Promise<SigningKey>;
  token(claims?: TokenClaims): Promise<string>;
  close(): Promise<void>;
}

export async function startIdp(): Promise<TestIdp> {
  const idp = {
    jwksUrl: '',
    keys: [await signingKey('RS256'), await signingKey('ES256')],
    fetches: 0,
  } as TestIdp;
  const server: Server = createServer((req, res) => {
    if (req.url !== '/.well-known/jwks.json') {
      res.writeHead(404).end();
      return;
    }
    idp.fetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: idp.keys.map((k) => k.jwk) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  idp.jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  idp.rotate = async (alg = 'RS256') => {
    const key = await signingKey(alg);
    idp.keys = [key];
    return key;
  };
  idp.token = (claims) => idpToken(idp.keys[0]!, claims);
  idp.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return idp;
}
