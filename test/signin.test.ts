/**
 * Sign-in with the shop's identity provider (a real JWKS endpoint served by the test): every
 * device of a customer reaches one active cart; tokens from another key, issuer, audience or
 * algorithm are refused with typed errors; a rotated key is picked up; IdP tokens and livecart
 * tokens are never taken for each other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { WebSocket } from 'ws';
import { Keys } from '../core/keys.ts';
import { DEFAULT_CONFIG } from '../core/config.ts';
import { SignedIn } from '../protocol/schemas/index.ts';
import { IDP_AUDIENCE, IDP_ISSUER, type TestIdp, idpToken, signingKey, startIdp } from './helpers/idp.ts';
import { type TestNode, startNode, uniquePrefix } from './helpers/node.ts';

let idp: TestIdp;
let a: TestNode;
let b: TestNode;

beforeAll(async () => {
  idp = await startIdp();
  const keyPrefix = uniquePrefix();
  // No cooldown: a rotated key is fetched at the first token naming it.
  const config = { keyPrefix, idp: { ...DEFAULT_CONFIG.idp, jwksUrl: idp.jwksUrl, issuer: IDP_ISSUER, audience: IDP_AUDIENCE, jwksCooldownMs: 0 } };
  a = await startNode(config);
  b = await startNode(config);
});
afterAll(async () => {
  await a.close();
  await b.close();
  await idp.close();
});

const exchange = (node: TestNode, token: string | undefined, body?: unknown) => node.request('POST', '/v1/auth/exchange', { token, body });

describe('POST /v1/auth/exchange', () => {
  it('gives every device of a customer the same active cart, created on her first sign-in', async () => {
    const sub = 'cust-ana';
    const [phone, laptop] = await Promise.all([exchange(a, await idp.token({ sub })), exchange(b, await idp.token({ sub }))]);
    expect(phone.status).toBe(200);
    expect(laptop.status).toBe(200);
    expect(phone.body.customerId).toBe(sub);
    // The answer is the route table's documented shape (GET /v1/openapi.json).
    expect(() => SignedIn.parse(phone.body)).not.toThrow();
    expect(laptop.body.cartId).toBe(phone.body.cartId);
    const later = await exchange(a, await idp.token({ sub }));
    expect(later.body.cartId).toBe(phone.body.cartId);
    // The minted token is a livecart customer token for that cart, usable on every entry point.
    const added = await a.request('POST', `/v1/carts/${phone.body.cartId}/lines`, { token: laptop.body.token, body: { sku: 'SHOE', quantity: 1 } });
    expect(added.status).toBe(201);
    expect(added.body.addedBy).toEqual({ id: sub, role: 'customer' });
    const seen = await b.request('GET', `/v1/carts/${phone.body.cartId}`, { token: phone.body.token });
    expect(seen.body.lines.map((l: { sku: string }) => l.sku)).toEqual(['SHOE']);
    expect(Date.parse(phone.body.expiresAt) - Date.now()).toBeLessThanOrEqual(DEFAULT_CONFIG.idp.tokenTtlSeconds * 1000);
    // Another customer gets another cart.
    const other = await exchange(a, await idp.token({ sub: 'cust-bo' }));
    expect(other.body.cartId).not.toBe(phone.body.cartId);
  });

  it('takes both algorithms (RS256 and ES256) from the JWKS', async () => {
    const [rsa, ec] = idp.keys;
    for (const key of [rsa!, ec!]) {
      const res = await exchange(a, await idpToken(key, { sub: `cust-${key.alg}` }));
      expect(res.status, key.alg).toBe(200);
    }
  });

  it('refuses a token from another key, issuer or audience, HS256, an expired one, with typed errors', async () => {
    const stranger = await signingKey('RS256');
    const sameKid = { ...(await signingKey('RS256')), kid: idp.keys[0]!.kid };
    const cart = await a.createCart();
    const cases: Array<[string, string, string, RegExp]> = [
      ['unknown key', await idpToken(stranger), 'E_AUTH_INVALID', /no key/],
      ['known kid, other key', await idpToken(sameKid), 'E_AUTH_INVALID', /signature/],
      ['another issuer', await idp.token({ iss: 'https://evil.test/' }), 'E_AUTH_INVALID', /iss/],
      ['another audience', await idp.token({ aud: 'another-app' }), 'E_AUTH_INVALID', /aud/],
      ['a livecart token (HS256)', cart.token, 'E_AUTH_INVALID', /algorithm/],
      ['expired', await idp.token({ expiresIn: -60 }), 'E_AUTH_EXPIRED', /./],
      ['not a JWT', 'abc.def', 'E_AUTH_INVALID', /malformed/],
      ['oversize', 'x'.repeat(9000), 'E_AUTH_INVALID', /at most 8192/],
    ];
    for (const [name, token, code, detail] of cases) {
      const res = await exchange(a, token);
      expect(res.status, name).toBe(401);
      expect(res.body.error.code, name).toBe(code);
      expect(res.body.error.detail ?? res.body.error.message, name).toMatch(detail);
    }
    const none = await exchange(a, undefined);
    expect([none.status, none.body.error.code]).toEqual([401, 'E_AUTH_MISSING']);
    const basic = await a.request('POST', '/v1/auth/exchange', { headers: { authorization: 'Basic abc' } });
    expect([basic.status, basic.body.error.code]).toEqual([401, 'E_AUTH_INVALID']);
  });

  it('picks up a rotated key (a new kid) from the JWKS endpoint', async () => {
    const before = idp.fetches;
    const rotated = await idp.rotate('ES256');
    const res = await exchange(a, await idpToken(rotated, { sub: 'cust-rotated' }));
    expect(res.status).toBe(200);
    expect(idp.fetches).toBeGreaterThan(before);
  });

  it('never takes an IdP token for a livecart token: REST, Socket.IO and /yjs refuse it', async () => {
    const token = await idp.token({ sub: 'cust-cross' });
    const { cartId } = (await exchange(a, token)).body as { cartId: string };
    const rest = await a.request('GET', `/v1/carts/${cartId}`, { token });
    expect([rest.status, rest.body.error.code]).toEqual([401, 'E_AUTH_INVALID']);
    const socket = io(a.url, { transports: ['websocket'], auth: { token }, reconnection: false, forceNew: true });
    const refused = await new Promise<{ data?: { code?: string } }>((resolve) => socket.on('connect_error', resolve));
    socket.close();
    expect(refused.data?.code).toBe('E_AUTH_INVALID');
    const ws = new WebSocket(`ws://127.0.0.1:${a.port}/yjs/${cartId}?token=${token}`);
    ws.on('error', () => undefined);
    const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    }));
    expect(status).toBe(401);
  });

  it('refuses an associate (an IdP token with livecart_role: associate) an active cart of her own', async () => {
    const res = await exchange(a, await idp.token({ sub: 'staff-1', livecart_role: 'associate' }));
    expect([res.status, res.body.error.code]).toEqual([403, 'E_AUTH_FORBIDDEN']);
    // Any other value of the claim is a customer.
    const customer = await exchange(a, await idp.token({ sub: 'cust-odd', livecart_role: 'service' }));
    expect(customer.status).toBe(200);
  });

  it('refuses bad bodies with typed errors, changing nothing', async () => {
    const token = await idp.token({ sub: 'cust-bad-input' });
    const guest = await a.createCart();
    const cases: Array<[string, unknown, number, string]> = [
      ['bad JSON', '{"guestCartId":', 400, 'E_BODY_MALFORMED'],
      ['not an object', '[1,2]', 400, 'E_VALIDATION'],
      ['guestCartId of a wrong type', { guestCartId: 5, guestToken: guest.token }, 400, 'E_VALIDATION'],
      ['guestCartId without guestToken', { guestCartId: guest.cartId }, 400, 'E_VALIDATION'],
      ['unknown strategy', { guestCartId: guest.cartId, guestToken: guest.token, strategy: 'max' }, 400, 'E_VALIDATION'],
      ['unknown field', { guestCart: guest.cartId }, 400, 'E_VALIDATION'],
      ['oversize guestToken', { guestCartId: guest.cartId, guestToken: 'x'.repeat(9000) }, 400, 'E_VALIDATION'],
      ['a guest token of another cart', { guestCartId: guest.cartId, guestToken: (await a.createCart()).token }, 403, 'E_AUTH_FORBIDDEN'],
      ['a forged guest token', { guestCartId: guest.cartId, guestToken: 'a.b.c' }, 401, 'E_AUTH_INVALID'],
      ['a service token as the guest token', { guestCartId: guest.cartId, guestToken: await a.token(['*'], { role: 'service' }) }, 403, 'E_AUTH_FORBIDDEN'],
      ['a body over the size limit', JSON.stringify({ guestCartId: guest.cartId, guestToken: 'x'.repeat(70_000) }), 413, 'E_BODY_TOO_LARGE'],
    ];
    for (const [name, body, status, code] of cases) {
      const res = await exchange(a, token, body);
      expect([res.status, res.body.error?.code], name).toEqual([status, code]);
    }
    // Nothing was created for her, and the guest cart is untouched.
    expect(await a.redis.get(new Keys(a.config.keyPrefix).activeCart('cust-bad-input'))).toBeNull();
    const view = await a.request('GET', `/v1/carts/${guest.cartId}`, { token: guest.token });
    expect([view.body.status, view.body.mergedInto]).toEqual(['open', null]);
  });
});

describe('without an identity provider', () => {
  it('answers 501 E_IDP_NOT_CONFIGURED', async () => {
    const node = await startNode();
    try {
      const res = await exchange(node, await idp.token());
      expect([res.status, res.body.error.code]).toEqual([501, 'E_IDP_NOT_CONFIGURED']);
    } finally {
      await node.close();
    }
  });
});

describe('limits and outages', () => {
  it('limits sign-ins per IP (429 with Retry-After), without counting them as admin guesses', async () => {
    const node = await startNode({ idp: { ...DEFAULT_CONFIG.idp, jwksUrl: idp.jwksUrl, issuer: IDP_ISSUER, audience: IDP_AUDIENCE, signInPerIp: 3 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await exchange(node, await idp.token({ iss: 'https://evil.test/' }))).status);
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      const refused = await exchange(node, await idp.token());
      expect([refused.status, refused.body.error.code, refused.body.error.retryable]).toEqual([429, 'E_RATE_LIMITED', true]);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      // Failed sign-ins are not admin guesses: the admin API still answers this IP.
      const admin = await node.request('GET', '/v1/pricing/rules', { token: 'wrong-admin-token-0123' });
      expect(admin.status).toBe(401);
    } finally {
      await node.close();
    }
  });

  it("answers 503 E_IDP_UNAVAILABLE (retryable) while the IdP's JWKS endpoint cannot be reached", async () => {
    const gone = await startIdp();
    await gone.close();
    const node = await startNode({ idp: { ...DEFAULT_CONFIG.idp, jwksUrl: gone.jwksUrl, issuer: IDP_ISSUER, audience: IDP_AUDIENCE, jwksTimeoutMs: 500 } });
    try {
      const res = await exchange(node, await gone.token());
      expect([res.status, res.body.error.code, res.body.error.retryable]).toEqual([503, 'E_IDP_UNAVAILABLE', true]);
    } finally {
      await node.close();
    }
  });
});
