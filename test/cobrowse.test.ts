/**
 * Co-browsing with a store associate: share codes, their redeem (a livecart associate token or the
 * shop's IdP associate claim), what an associate may not do, and revoking the grant, which cuts the
 * associate's Socket.IO and /yjs sessions on every node within a second. Real nodes, real Redis,
 * real Socket.IO and WebSocket clients, a real JWKS endpoint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { LiveCartConnection } from '../client/index.ts';
import type { ActivityEntry, CartClosed, JoinResult } from '../protocol/index.ts';
import { ActivityList, ShareCreated, ShareRedeemed } from '../protocol/schemas/index.ts';
import { DEFAULT_CONFIG } from '../core/config.ts';
import { Keys } from '../core/keys.ts';
import { IDP_AUDIENCE, IDP_ISSUER, type TestIdp, startIdp } from './helpers/idp.ts';
import { type TestNode, startNode, uniquePrefix } from './helpers/node.ts';
import { waitFor } from './helpers/wait.ts';

let idp: TestIdp;
let a: TestNode;
let b: TestNode;
const conns: LiveCartConnection[] = [];

/** The bound the issue states for cutting a revoked associate off on every node. */
const CUT_WITHIN_MS = 1000;

beforeAll(async () => {
  idp = await startIdp();
  const keyPrefix = uniquePrefix();
  // These nodes redeem many codes from one address: the guessing limit has its own test below.
  const config = { keyPrefix, idp: { ...DEFAULT_CONFIG.idp, jwksUrl: idp.jwksUrl, issuer: IDP_ISSUER, audience: IDP_AUDIENCE, jwksCooldownMs: 0, shareRedeemPerIp: 10_000 } };
  a = await startNode(config);
  b = await startNode(config);
});
afterAll(async () => {
  for (const c of conns) c.close();
  await a.close();
  await b.close();
  await idp.close();
});

function client(node: TestNode, token: string, device: string): LiveCartConnection {
  const c = new LiveCartConnection({ url: node.url, token, device, retryMinMs: 50, retryMaxMs: 300, ackTimeoutMs: 2000 });
  conns.push(c);
  return c;
}

/** An admin-minted associate token (how a shop without an IdP gives staff access). */
const associateToken = (node: TestNode, subject: string, name: string | null): Promise<string> =>
  node.node.auth.mint({ subject, role: 'associate', carts: [], ttlSeconds: 3600, name }).then((m) => m.token);

async function share(node: TestNode, cartId: string, token: string, body?: unknown): Promise<{ code: string; grantId: string; expiresAt: string }> {
  const res = await node.request('POST', `/v1/carts/${cartId}/shares`, { token, body });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return ShareCreated.parse(res.body);
}

const redeem = (node: TestNode, code: string, token: string | undefined) => node.request('POST', `/v1/shares/${code}/redeem`, { token });

function connect(node: TestNode, token: string): Socket {
  return io(node.url, { transports: ['websocket'], auth: { token }, forceNew: true, reconnection: false });
}
const join = (socket: Socket, cartId: string): Promise<JoinResult> => new Promise((resolve) => socket.emit('join', cartId, { device: 'tablet' }, resolve));

describe('share codes', () => {
  it('an associate redeems a code on another node, adds a line, and the customer sees it live with the associate by name', async () => {
    const { cartId, token } = await a.createCart();
    const created = await share(a, cartId, token);
    expect(created.code).toMatch(/^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$/);
    expect(Date.parse(created.expiresAt) - Date.now()).toBeGreaterThan(590 * 1000);
    expect(Date.parse(created.expiresAt) - Date.now()).toBeLessThanOrEqual(600 * 1000);

    const res = await redeem(b, created.code.toLowerCase(), await associateToken(b, 'assoc-sam', 'Sam (Store 12)'));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const redeemed = ShareRedeemed.parse(res.body);
    expect(redeemed).toMatchObject({ cartId, grantId: created.grantId });
    const principal = await b.node.auth.verify(redeemed.token);
    expect(principal).toMatchObject({ subject: 'assoc-sam', role: 'associate', carts: [cartId], grant: created.grantId, name: 'Sam (Store 12)' });

    const phoneConn = client(a, token, 'phone');
    const live: ActivityEntry[] = [];
    phoneConn.on('activity', ({ cartId: id, entry }) => id === cartId && live.push(entry));
    const phone = await phoneConn.open(cartId);
    const tablet = await client(b, redeemed.token, 'store-tablet').open(cartId);
    tablet.setViewing('SHOE-1');
    tablet.add({ sku: 'SHOE-1', quantity: 1 });
    await tablet.whenSaved();
    await waitFor(() => expect(phone.view.lines.map((l) => [l.sku, l.quantity, l.addedBy, l.changedBy])).toEqual([['SHOE-1', 1, { id: 'assoc-sam', role: 'associate', name: 'Sam (Store 12)' }, { id: 'assoc-sam', role: 'associate', name: 'Sam (Store 12)' }]]));
    expect(phone.view.lines[0]!.changedAt).toBeGreaterThan(0);
    await waitFor(() => expect(phone.presence.map((p) => [p.name, p.role, p.device, p.viewing])).toEqual([['Sam (Store 12)', 'associate', 'store-tablet', 'SHOE-1']]));
    const sam = { id: 'assoc-sam', role: 'associate', name: 'Sam (Store 12)' };
    // Live on the customer's phone (the associate is on another node), then in the feed.
    await waitFor(() => expect(live).toEqual([expect.objectContaining({ action: 'line.added', lineId: 'SHOE-1', sku: 'SHOE-1', from: 0, to: 1, actor: { ...sam, device: 'store-tablet' } })]));
    // REST shows the same attribution; a line the associate adds over REST carries the name too.
    const viaRest = await a.request('POST', `/v1/carts/${cartId}/lines`, { token: redeemed.token, body: { sku: 'SOCK-1', quantity: 2 } });
    expect(viaRest.body.addedBy).toEqual(sam);
    phone.setQuantity('SHOE-1', 3);
    await phone.whenSaved();
    // The latest quantity change is the customer's; the line stays the associate's.
    const shoe = (await b.request('GET', `/v1/carts/${cartId}`, { token })).body.lines.find((l: { sku: string }) => l.sku === 'SHOE-1');
    expect(shoe).toMatchObject({ quantity: 3, addedBy: sam, changedBy: { id: (await a.node.auth.verify(token)).subject, role: 'customer' } });
    const customer = (await a.node.auth.verify(token)).subject;
    // Recorded on node a as the change was appended, read on node b.
    await waitFor(async () => {
    const feed = await b.request('GET', `/v1/carts/${cartId}/activity?limit=10`, { token });
    expect(feed.status).toBe(200);
    expect(() => ActivityList.parse(feed.body)).not.toThrow();
    expect(feed.body.entries.map((e: ActivityEntry) => [e.action, e.actor.id, e.actor.name, e.actor.device, e.sku ?? null, e.from ?? null, e.to ?? null])).toEqual([
      ['line.quantity', customer, null, 'phone', 'SHOE-1', 1, 3],
      ['line.added', 'assoc-sam', 'Sam (Store 12)', 'rest', 'SOCK-1', 0, 2],
      ['line.added', 'assoc-sam', 'Sam (Store 12)', 'store-tablet', 'SHOE-1', 0, 1],
      ['share.redeemed', 'assoc-sam', 'Sam (Store 12)', null, null, null, null],
    ]);
    });
    expect((await a.request('GET', `/v1/carts/${cartId}/activity?limit=1`, { token: redeemed.token })).body.entries).toHaveLength(1);
    // The associate's token grants that cart only.
    const other = await a.createCart();
    expect((await a.request('GET', `/v1/carts/${other.cartId}`, { token: redeemed.token })).status).toBe(403);
    await tablet.close();
    await phone.close();
  });

  it('takes an IdP token with the associate claim, and its name', async () => {
    const { cartId, token } = await a.createCart();
    const { code } = await share(a, cartId, token);
    const res = await redeem(a, code, await idp.token({ sub: 'staff-77', livecart_role: 'associate', name: 'Ana' }));
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(await a.node.auth.verify(res.body.token)).toMatchObject({ subject: 'staff-77', role: 'associate', carts: [cartId], name: 'Ana' });
  });

  it('is single use: of two concurrent redeems exactly one wins; a used code is not found', async () => {
    const { cartId, token } = await a.createCart();
    const { code } = await share(a, cartId, token);
    const assoc = await associateToken(a, 'assoc-race', null);
    const both = await Promise.all([redeem(a, code, assoc), redeem(b, code, assoc)]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 404]);
    const again = await redeem(a, code, assoc);
    expect([again.status, again.body.error.code]).toEqual([404, 'E_SHARE_NOT_FOUND']);
  });

  it('expires: a code past its lifetime is not found', async () => {
    const { cartId, token } = await a.createCart();
    const { code } = await share(a, cartId, token, { ttlSeconds: 60 });
    const key = new Keys(a.config.keyPrefix).shareCode(code);
    const ttl = await a.redis.pttl(key);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    // Its lifetime is the key's: end it now instead of waiting a minute.
    await a.redis.pexpire(key, 1);
    await waitFor(async () => expect(await a.redis.exists(key)).toBe(0));
    const res = await redeem(a, code, await associateToken(a, 'assoc-late', null));
    expect([res.status, res.body.error.code]).toEqual([404, 'E_SHARE_NOT_FOUND']);
  });

  it('refuses bad input and the wrong kinds of token with typed errors, burning no code', async () => {
    const { cartId, token } = await a.createCart();
    const assoc = await associateToken(a, 'assoc-bad', null);
    const service = await a.token(['*'], { role: 'service', subject: 'back-office' });
    const creates: Array<[string, string | undefined, unknown, number, string]> = [
      ['bad JSON', token, '{"ttlSeconds":', 400, 'E_BODY_MALFORMED'],
      ['ttlSeconds over 3600', token, { ttlSeconds: 3601 }, 400, 'E_VALIDATION'],
      ['ttlSeconds not a number', token, { ttlSeconds: 'soon' }, 400, 'E_VALIDATION'],
      ['an unknown field', token, { ttlSeconds: 60, cartId }, 400, 'E_VALIDATION'],
      ['oversize body', token, JSON.stringify({ ttlSeconds: 60, pad: 'x'.repeat(a.config.maxJsonBytes) }), 413, 'E_BODY_TOO_LARGE'],
      ['no token', undefined, {}, 401, 'E_AUTH_MISSING'],
      ['a forged token', 'not-a-token', {}, 401, 'E_AUTH_INVALID'],
      ['an IdP token', await idp.token({ sub: 'cust-idp' }), {}, 401, 'E_AUTH_INVALID'],
      ['another cart’s token', (await a.createCart()).token, {}, 403, 'E_AUTH_FORBIDDEN'],
      ['a service token', service, {}, 403, 'E_AUTH_FORBIDDEN'],
    ];
    for (const [name, t, body, status, code] of creates) {
      const res = await a.request('POST', `/v1/carts/${cartId}/shares`, { token: t, body });
      expect([res.status, res.body.error?.code], name).toEqual([status, code]);
    }
    expect((await a.request('POST', '/v1/carts/bad!id/shares', { token, body: {} })).body.error.code).toBe('E_CART_ID_INVALID');

    const { code } = await share(a, cartId, token);
    const redeems: Array<[string, string, string | undefined, number, string]> = [
      ['a code with 0, O, 1, I or L', 'AB0O1I', assoc, 400, 'E_VALIDATION'],
      ['a short code', 'ABC', assoc, 400, 'E_VALIDATION'],
      ['an oversize code', 'A'.repeat(500), assoc, 400, 'E_VALIDATION'],
      ['no token', code, undefined, 401, 'E_AUTH_MISSING'],
      ['a forged token', code, 'not-a-token', 401, 'E_AUTH_INVALID'],
      ['a customer token', code, token, 403, 'E_AUTH_FORBIDDEN'],
      ['a service token', code, service, 403, 'E_AUTH_FORBIDDEN'],
      ['an IdP customer token', code, await idp.token({ sub: 'cust-idp' }), 403, 'E_AUTH_FORBIDDEN'],
      ['an IdP token of another issuer', code, await idp.token({ sub: 'staff', livecart_role: 'associate', iss: 'https://evil.test/' }), 401, 'E_AUTH_INVALID'],
    ];
    for (const [name, c, t, status, errorCode] of redeems) {
      const res = await redeem(a, c, t);
      expect([res.status, res.body.error?.code], name).toEqual([status, errorCode]);
    }
    // None of those burnt the code.
    expect((await redeem(a, code, assoc)).status).toBe(200);

    const deletes: Array<[string, string, string | undefined, number, string]> = [
      ['a malformed grant id', 'nope', token, 400, 'E_VALIDATION'],
      ['an unknown grant', 'A'.repeat(22), token, 404, 'E_SHARE_NOT_FOUND'],
      ['no token', 'A'.repeat(22), undefined, 401, 'E_AUTH_MISSING'],
    ];
    for (const [name, grantId, t, status, errorCode] of deletes) {
      const res = await a.request('DELETE', `/v1/carts/${cartId}/shares/${grantId}`, { token: t });
      expect([res.status, res.body.error?.code], name).toEqual([status, errorCode]);
    }
    const feeds: Array<[string, string, string | undefined, number, string]> = [
      ['limit 0', '?limit=0', token, 400, 'E_VALIDATION'],
      ['limit over 200', '?limit=201', token, 400, 'E_VALIDATION'],
      ['limit not a number', '?limit=ten', token, 400, 'E_VALIDATION'],
      ['limit twice', '?limit=1&limit=2', token, 400, 'E_VALIDATION'],
      ['no token', '', undefined, 401, 'E_AUTH_MISSING'],
      ['another cart’s token', '', (await a.createCart()).token, 403, 'E_AUTH_FORBIDDEN'],
    ];
    for (const [name, query, t, status, errorCode] of feeds) {
      const res = await a.request('GET', `/v1/carts/${cartId}/activity${query}`, { token: t });
      expect([res.status, res.body.error?.code], name).toEqual([status, errorCode]);
    }
    // A grant of another cart is not found through this one.
    const other = await a.createCart();
    const foreign = await share(a, other.cartId, other.token);
    const res = await a.request('DELETE', `/v1/carts/${cartId}/shares/${foreign.grantId}`, { token });
    expect([res.status, res.body.error?.code]).toEqual([404, 'E_SHARE_NOT_FOUND']);
  });

  it('the openapi document lists the routes', async () => {
    const doc = (await a.request('GET', '/v1/openapi.json')).body;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/carts/{cartId}/shares', '/v1/shares/{code}/redeem', '/v1/carts/{cartId}/shares/{grantId}', '/v1/carts/{cartId}/activity']));
  });
});

describe('what an associate may not do', () => {
  it('create share codes, revoke grants, or take the cart over at a sign-in (an owner change)', async () => {
    const { cartId, token } = await a.createCart();
    const created = await share(a, cartId, token);
    const assoc = (await redeem(a, created.code, await associateToken(a, 'assoc-limits', null))).body.token as string;
    const refusedShare = await a.request('POST', `/v1/carts/${cartId}/shares`, { token: assoc, body: {} });
    expect([refusedShare.status, refusedShare.body.error.code]).toEqual([403, 'E_AUTH_FORBIDDEN']);
    const refusedRevoke = await a.request('DELETE', `/v1/carts/${cartId}/shares/${created.grantId}`, { token: assoc });
    expect([refusedRevoke.status, refusedRevoke.body.error.code]).toEqual([403, 'E_AUTH_FORBIDDEN']);
    // A cart's owner changes when a sign-in adopts it as a guest cart: the associate's token is no proof.
    const exchange = await a.request('POST', '/v1/auth/exchange', { token: await idp.token({ sub: 'cust-thief' }), body: { guestCartId: cartId, guestToken: assoc } });
    expect([exchange.status, exchange.body.error.code]).toEqual([403, 'E_AUTH_FORBIDDEN']);
    // A grant token does not redeem further codes.
    const second = await share(a, cartId, token);
    expect((await redeem(a, second.code, assoc)).status).toBe(403);
    // What it may do: edit lines.
    expect((await a.request('POST', `/v1/carts/${cartId}/lines`, { token: assoc, body: { sku: 'SHOE-1', quantity: 1 } })).status).toBe(201);
  });
});

describe('revoking a grant', () => {
  it("cuts the associate's Socket.IO session on one node and /yjs on another within a second; REST answers 403; presence is gone", async () => {
    const { cartId, token } = await a.createCart();
    const created = await share(a, cartId, token);
    const assoc = (await redeem(b, created.code, await associateToken(b, 'assoc-cut', 'Lee'))).body.token as string;

    const phone = await client(a, token, 'phone').open(cartId);
    const tablet = await client(a, assoc, 'store-tablet').open(cartId);
    await waitFor(() => expect(phone.presence.map((p) => p.name)).toEqual(['Lee']));
    const tabletErrors: string[] = [];
    tablet.on('error', (e) => tabletErrors.push(e.code));
    const raw = connect(a, assoc);
    expect(await join(raw, cartId)).toMatchObject({ ok: true });
    const closed: CartClosed[] = [];
    raw.on('cart-closed', (_id: string, c: CartClosed) => closed.push(c));
    const ws = new WebSocket(`ws://127.0.0.1:${b.port}/yjs/${cartId}?token=${assoc}`);
    await new Promise((resolve) => ws.once('open', resolve));
    let wsClosed: [number, string] | null = null;
    ws.once('close', (code, reason) => (wsClosed = [code, reason.toString()]));
    expect((await b.request('GET', `/v1/carts/${cartId}`, { token: assoc })).status).toBe(200);

    const res = await a.request('DELETE', `/v1/carts/${cartId}/shares/${created.grantId}`, { token });
    expect(res.status).toBe(204);
    await waitFor(
      () => {
        expect(closed).toEqual([expect.objectContaining({ reason: 'revoked', error: expect.objectContaining({ code: 'E_AUTH_REVOKED' }) })]);
        expect(raw.connected).toBe(false);
        expect(wsClosed).toEqual([4411, 'E_AUTH_REVOKED']);
        expect(phone.presence).toEqual([]);
        // The client library reports why it stopped.
        expect(tabletErrors).toContain('E_AUTH_REVOKED');
      },
      { timeoutMs: CUT_WITHIN_MS },
    );
    for (const node of [a, b]) {
      const rest = await node.request('GET', `/v1/carts/${cartId}`, { token: assoc });
      expect([rest.status, rest.body.error.code]).toEqual([403, 'E_AUTH_REVOKED']);
    }
    const feed = await a.request('GET', `/v1/carts/${cartId}/activity?limit=1`, { token });
    expect(feed.body.entries).toEqual([expect.objectContaining({ action: 'share.revoked', actor: expect.objectContaining({ role: 'customer' }) })]);
    // The customer is not disturbed.
    expect((await a.request('GET', `/v1/carts/${cartId}`, { token })).status).toBe(200);
    expect(phone.online).toBe(true);
    // The revocation lives as long as the grant's token could.
    const kept = await a.redis.pttl(new Keys(a.config.keyPrefix).revokedGrant(created.grantId));
    expect(kept).toBeGreaterThan(DEFAULT_CONFIG.idp.shareGrantTtlSeconds * 1000);
    expect(kept).toBeLessThanOrEqual((600 + DEFAULT_CONFIG.idp.shareGrantTtlSeconds) * 1000);
    raw.close();
    ws.terminate();
    await tablet.close();
    await phone.close();
  });

  it('voids a code not redeemed yet', async () => {
    const { cartId, token } = await a.createCart();
    const created = await share(a, cartId, token);
    expect((await a.request('DELETE', `/v1/carts/${cartId}/shares/${created.grantId}`, { token })).status).toBe(204);
    const res = await redeem(b, created.code, await associateToken(b, 'assoc-void', null));
    expect([res.status, res.body.error.code]).toEqual([404, 'E_SHARE_NOT_FOUND']);
  });
});

describe('guessing codes', () => {
  it('is rate-limited per address: past the limit even a right code is refused (429)', async () => {
    const node = await startNode({ idp: { ...DEFAULT_CONFIG.idp, shareRedeemPerIp: 5, shareRedeemWindowSeconds: 60 } });
    try {
      const { cartId, token } = await node.createCart();
      const { code } = await share(node, cartId, token);
      const assoc = await associateToken(node, 'assoc-guess', null);
      const wrong = code === 'ZZZZZZ' ? 'YYYYYY' : 'ZZZZZZ';
      for (let i = 0; i < 5; i++) expect((await redeem(node, wrong, assoc)).status).toBe(404);
      const refused = await redeem(node, code, assoc);
      expect([refused.status, refused.body.error.code]).toEqual([429, 'E_RATE_LIMITED']);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      // Other routes from the address are not refused by this limit.
      expect((await node.request('GET', `/v1/carts/${cartId}`, { token })).status).toBe(200);
    } finally {
      await node.close();
    }
  });
});
