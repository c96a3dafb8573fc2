/**
 * The IdP settings: validated together at start-up (one key source; then issuer and audience both
 * required), and a PEM key (no JWKS endpoint) verifying its own algorithm only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, loadConfig } from '../core/config.ts';
import { IDP_AUDIENCE, IDP_ISSUER, type SigningKey, idpToken, pemOf, signingKey } from './helpers/idp.ts';
import { type TestNode, startNode } from './helpers/node.ts';

let ec: SigningKey;
let pem: string;

beforeAll(async () => {
  ec = await signingKey('ES256');
  pem = await pemOf(ec);
});

describe('IdP configuration', () => {
  it('reads the IdP variables, a PEM with escaped newlines included', () => {
    const config = loadConfig({ LIVECART_IDP_PUBLIC_KEY: pem.replace(/\n/g, '\\n'), LIVECART_IDP_ISSUER: IDP_ISSUER, LIVECART_IDP_AUDIENCE: IDP_AUDIENCE, LIVECART_IDP_TOKEN_TTL_SECONDS: '600' });
    expect(config.idp).toMatchObject({ publicKey: pem, issuer: IDP_ISSUER, audience: IDP_AUDIENCE, tokenTtlSeconds: 600, jwksUrl: null });
    expect(loadConfig({}).idp).toEqual(DEFAULT_CONFIG.idp);
  });

  const jwks = { LIVECART_IDP_JWKS_URL: 'https://idp.test/jwks.json' };
  const bad: Array<[Record<string, string>, RegExp]> = [
    [{ ...jwks, LIVECART_IDP_AUDIENCE: 'a' }, /LIVECART_IDP_ISSUER is required/],
    [{ ...jwks, LIVECART_IDP_ISSUER: 'i' }, /LIVECART_IDP_AUDIENCE is required/],
    [{ LIVECART_IDP_ISSUER: 'i', LIVECART_IDP_AUDIENCE: 'a' }, /needs LIVECART_IDP_JWKS_URL or LIVECART_IDP_PUBLIC_KEY/],
    [{ ...jwks, LIVECART_IDP_PUBLIC_KEY: 'x', LIVECART_IDP_ISSUER: 'i', LIVECART_IDP_AUDIENCE: 'a' }, /not both/],
    [{ LIVECART_IDP_JWKS_URL: 'ftp://idp.test/jwks', LIVECART_IDP_ISSUER: 'i', LIVECART_IDP_AUDIENCE: 'a' }, /http\(s\) URL/],
    [{ LIVECART_IDP_PUBLIC_KEY: 'not a pem', LIVECART_IDP_ISSUER: 'i', LIVECART_IDP_AUDIENCE: 'a' }, /PEM public key/],
    [{ LIVECART_IDP_PUBLIC_KEY: '-----BEGIN RSA PUBLIC KEY-----\nMAo=\n-----END RSA PUBLIC KEY-----', LIVECART_IDP_ISSUER: 'i', LIVECART_IDP_AUDIENCE: 'a' }, /PEM public key/],
    [{ ...jwks, LIVECART_IDP_ISSUER: 'livecart', LIVECART_IDP_AUDIENCE: 'a' }, /must not be "livecart"/],
    [{ LIVECART_IDP_TOKEN_TTL_SECONDS: '5' }, /between 60/],
    [{ LIVECART_IDP_SECRET: 'x' }, /unknown setting/],
  ];
  for (const [env, message] of bad) {
    it(`rejects ${JSON.stringify(env)}`, () => {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(message);
    });
  }
});

describe('a PEM key instead of a JWKS endpoint', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await startNode({ idp: { ...DEFAULT_CONFIG.idp, publicKey: pem, issuer: IDP_ISSUER, audience: IDP_AUDIENCE } });
  });
  afterAll(() => node.close());

  it('verifies tokens of its key and algorithm only', async () => {
    const ok = await node.request('POST', '/v1/auth/exchange', { token: await idpToken(ec, { sub: 'cust-pem' }) });
    expect([ok.status, ok.body.customerId]).toEqual([200, 'cust-pem']);
    const rsa = await node.request('POST', '/v1/auth/exchange', { token: await idpToken(await signingKey('RS256')) });
    expect([rsa.status, rsa.body.error.code]).toEqual([401, 'E_AUTH_INVALID']);
    expect(rsa.body.error.detail).toMatch(/algorithm/);
    const other = await node.request('POST', '/v1/auth/exchange', { token: await idpToken(await signingKey('ES256')) });
    expect([other.status, other.body.error.detail]).toEqual([401, 'signature']);
  });
});
