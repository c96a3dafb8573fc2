/**
 * Authorization on every entry point (guarantee 6): Socket.IO connect and join, the /yjs upgrade,
 * REST cart routes and the admin API each refuse every kind of bad token with the same typed code,
 * and a token that expires mid-session stops working on the open connection.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import * as Y from 'yjs';
import { CLOSE, ERRORS, encodeWsSync, setAttribute, writeSyncStep1 } from '../protocol/index.ts';
import { TEST_ADMIN_TOKEN, TEST_JWT_SECRET, type TestNode, startNode } from './helpers/node.ts';
import { RawDevice, connectSocket } from './helpers/raw-device.ts';
import { once, waitFor } from './helpers/wait.ts';

const ISSUER = 'livecart';

interface Claims {
  sub?: string;
  role?: unknown;
  carts?: unknown;
  iss?: string;
  /** Seconds since the epoch; null: no exp claim. */
  exp?: number | null;
  secret?: string;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** Sign a token with jose directly, so tests can make the ones the server's mint() refuses to make. */
async function sign(claims: Claims): Promise<string> {
  const payload: Record<string, unknown> = {};
  if (claims.role !== undefined) payload.role = claims.role;
  if (claims.carts !== undefined) payload.carts = claims.carts;
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(claims.iss ?? ISSUER)
    .setSubject(claims.sub ?? 'user-1')
    .setIssuedAt();
  if (claims.exp !== null) jwt.setExpirationTime(claims.exp ?? nowSeconds() + 3600);
  return jwt.sign(new TextEncoder().encode(claims.secret ?? TEST_JWT_SECRET));
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Socket.IO connect: the connect_error's code, or 'connected'. */
async function sioConnect(node: TestNode, token: unknown): Promise<string> {
  try {
    const socket = await connectSocket(node.url, token);
    socket.close();
    return 'connected';
  } catch (err) {
    return ((err as { data?: { code?: string } }).data?.code ?? `untyped: ${String(err)}`) as string;
  }
}

/** /yjs upgrade: the refusal's HTTP status and body code, or 'open'. */
function ywsConnect(node: TestNode, cartId: string, token: string | undefined): Promise<{ status: number; code: string | null } | 'open'> {
  const query = token === undefined ? '' : `?token=${encodeURIComponent(token)}`;
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}/yjs/${cartId}${query}`);
  return new Promise((resolve, reject) => {
    ws.on('error', reject);
    ws.on('open', () => {
      ws.close();
      resolve('open');
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => {
        let code: string | null = null;
        try {
          code = (JSON.parse(body) as { error?: { code?: string } }).error?.code ?? null;
        } catch {
          code = null;
        }
        resolve({ status: res.statusCode ?? 0, code });
      });
    });
  });
}

/** REST: GET the cart; status and error code (null on success). */
async function restGet(node: TestNode, cartId: string, authorization: string | undefined): Promise<{ status: number; code: string | null }> {
  const res = await node.request('GET', `/v1/carts/${cartId}`, { headers: authorization === undefined ? {} : { authorization } });
  return { status: res.status, code: (res.body as { error?: { code?: string } } | null)?.error?.code ?? null };
}

let node: TestNode;
let cartId: string;
let otherCartId: string;
beforeAll(async () => {
  node = await startNode();
  cartId = (await node.createCart()).cartId;
  otherCartId = (await node.createCart()).cartId;
});
afterAll(async () => {
  await node.close();
});

describe('bad tokens are refused on every entry point with the same code', () => {
  const cases: [string, () => Promise<string | undefined>, 'E_AUTH_MISSING' | 'E_AUTH_INVALID' | 'E_AUTH_EXPIRED'][] = [
    ['missing token', async () => undefined, 'E_AUTH_MISSING'],
    ['garbage token', async () => 'not-a-jwt', 'E_AUTH_INVALID'],
    ['three garbage segments', async () => 'a.b.c', 'E_AUTH_INVALID'],
    ['token signed with another secret', () => sign({ role: 'customer', carts: [cartId], secret: 'another-secret-0123456789-abcdefghijklmnop' }), 'E_AUTH_INVALID'],
    ['alg none (unsigned)', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'user-1', role: 'service', carts: ['*'], iss: ISSUER, exp: nowSeconds() + 3600 })}.`, 'E_AUTH_INVALID'],
    [
      'tampered payload (grant widened, signature kept)',
      async () => {
        const [header, , signature] = (await sign({ role: 'customer', carts: [otherCartId] })).split('.');
        return `${header}.${b64({ sub: 'user-1', role: 'customer', carts: [cartId], iss: ISSUER, exp: nowSeconds() + 3600 })}.${signature}`;
      },
      'E_AUTH_INVALID',
    ],
    ['expired token', () => sign({ role: 'customer', carts: [cartId], exp: nowSeconds() - 60 }), 'E_AUTH_EXPIRED'],
    ['another issuer', () => sign({ role: 'customer', carts: [cartId], iss: 'someone-else' }), 'E_AUTH_INVALID'],
    ['no expiry', () => sign({ role: 'customer', carts: [cartId], exp: null }), 'E_AUTH_INVALID'],
    ['bad role claim', () => sign({ role: 'admin', carts: [cartId] }), 'E_AUTH_INVALID'],
    ['missing role claim', () => sign({ carts: [cartId] }), 'E_AUTH_INVALID'],
    ['carts claim not an array of strings', () => sign({ role: 'customer', carts: cartId }), 'E_AUTH_INVALID'],
    ["wildcard '*' grant on a customer token", () => sign({ role: 'customer', carts: ['*'] }), 'E_AUTH_INVALID'],
    ["wildcard '*' grant on an associate token", () => sign({ role: 'associate', carts: ['*'] }), 'E_AUTH_INVALID'],
    ['oversized token', async () => 'x'.repeat(10_000), 'E_AUTH_INVALID'],
  ];

  it.each(cases)('%s: Socket.IO connect, /yjs upgrade and REST all refuse with %s', async (_name, make, code) => {
    const token = await make();
    const status = ERRORS[code].http;
    expect(await sioConnect(node, token)).toBe(code);
    expect(await ywsConnect(node, cartId, token)).toEqual({ status, code });
    expect(await restGet(node, cartId, token === undefined ? undefined : `Bearer ${token}`)).toEqual({ status, code });
  });

  it('a token that is not a string is refused on Socket.IO connect', async () => {
    expect(await sioConnect(node, 12345)).toBe('E_AUTH_INVALID');
    expect(await sioConnect(node, { token: 'nested' })).toBe('E_AUTH_INVALID');
    expect(await sioConnect(node, '')).toBe('E_AUTH_MISSING');
  });

  it('POST /v1/carts refuses a forged token instead of treating the caller as anonymous', async () => {
    const forged = await sign({ role: 'customer', carts: [], secret: 'another-secret-0123456789-abcdefghijklmnop' });
    const res = await node.request('POST', '/v1/carts', { token: forged });
    expect(res).toMatchObject({ status: 401, body: { error: { code: 'E_AUTH_INVALID' } } });
  });
});

describe('grants', () => {
  it('a valid token for another cart: Socket.IO join, /yjs and REST answer E_AUTH_FORBIDDEN', async () => {
    const token = await node.token([otherCartId]);
    const socket = await connectSocket(node.url, token);
    try {
      expect(await socket.emitWithAck('join', cartId, {})).toMatchObject({ ok: false, error: { code: 'E_AUTH_FORBIDDEN', retryable: false } });
      expect(await socket.emitWithAck('join', otherCartId, {})).toMatchObject({ ok: true, role: 'customer' });
      expect(await socket.emitWithAck('sync', cartId, writeSyncStep1(new Uint8Array([0])))).toMatchObject({ ok: false, error: { code: 'E_CART_NOT_JOINED' } });
    } finally {
      socket.close();
    }
    expect(await ywsConnect(node, cartId, token)).toEqual({ status: 403, code: 'E_AUTH_FORBIDDEN' });
    expect(await restGet(node, cartId, `Bearer ${token}`)).toEqual({ status: 403, code: 'E_AUTH_FORBIDDEN' });
    expect(await restGet(node, otherCartId, `Bearer ${token}`)).toMatchObject({ status: 200 });
  });

  it('a token with no grants connects but cannot join anything', async () => {
    const token = await node.token([]);
    expect(await sioConnect(node, token)).toBe('connected');
    const socket = await connectSocket(node.url, token);
    try {
      expect(await socket.emitWithAck('join', cartId, {})).toMatchObject({ ok: false, error: { code: 'E_AUTH_FORBIDDEN' } });
    } finally {
      socket.close();
    }
    expect(await ywsConnect(node, cartId, token)).toEqual({ status: 403, code: 'E_AUTH_FORBIDDEN' });
  });

  it("a service token with '*' is allowed on every cart and every entry point", async () => {
    const token = await node.token(['*'], { role: 'service', subject: 'svc-pricing' });
    const device = await RawDevice.open(node.url, token, cartId);
    try {
      expect(await device.join()).toMatchObject({ ok: true, role: 'service', subject: 'svc-pricing' });
      expect(await device.change((d) => setAttribute(d, 'svc', 'yes'))).toMatchObject({ ok: true });
    } finally {
      device.close();
    }
    expect(await ywsConnect(node, otherCartId, token)).toBe('open');
    expect(await restGet(node, otherCartId, `Bearer ${token}`)).toEqual({ status: 200, code: null });
    const viaJose = await sign({ sub: 'svc-2', role: 'service', carts: ['*'] });
    expect(await restGet(node, cartId, `Bearer ${viaJose}`)).toEqual({ status: 200, code: null });
  });
});

describe('Authorization header and admin API', () => {
  it('a malformed Authorization header is E_AUTH_INVALID on cart routes', async () => {
    const token = await node.token([cartId]);
    for (const header of [`Basic ${token}`, 'Bearer', `Bearer ${token} extra`, `Token ${token}`, token]) {
      expect(await restGet(node, cartId, header), header.slice(0, 20)).toEqual({ status: 401, code: 'E_AUTH_INVALID' });
    }
    expect(await restGet(node, cartId, `bearer ${token}`)).toMatchObject({ status: 200 });
  });

  const mint = { subject: 'ana', role: 'customer', carts: [] as string[] };

  it('POST /v1/auth/tokens: no token E_AUTH_MISSING, wrong or malformed token E_AUTH_INVALID, a cart token E_AUTH_FORBIDDEN, admin token mints', async () => {
    const post = (headers: Record<string, string>, body: unknown = { ...mint, carts: [cartId] }) => node.request('POST', '/v1/auth/tokens', { headers, body });
    expect(await post({})).toMatchObject({ status: 401, body: { error: { code: 'E_AUTH_MISSING' } } });
    expect(await post({ authorization: 'Bearer wrong-admin-token-0123456789' })).toMatchObject({ status: 401, body: { error: { code: 'E_AUTH_INVALID' } } });
    expect(await post({ authorization: `Bearer ${TEST_ADMIN_TOKEN}x` })).toMatchObject({ status: 401, body: { error: { code: 'E_AUTH_INVALID' } } });
    // A valid livecart token that is not the admin token is authenticated but not allowed (hole 7).
    expect(await post({ authorization: `Bearer ${await node.token(['*'], { role: 'service' })}` })).toMatchObject({ status: 403, body: { error: { code: 'E_AUTH_FORBIDDEN' } } });
    expect(await post({ authorization: `Basic ${TEST_ADMIN_TOKEN}` })).toMatchObject({ status: 401, body: { error: { code: 'E_AUTH_INVALID' } } });
    expect(await post({ authorization: 'Bearer' })).toMatchObject({ status: 401, body: { error: { code: 'E_AUTH_INVALID' } } });
    const admin = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` };
    expect(await post(admin, { ...mint, carts: ['*'] })).toMatchObject({ status: 400, body: { error: { code: 'E_VALIDATION' } } });
    expect(await post(admin, { ...mint, role: 'admin' })).toMatchObject({ status: 400, body: { error: { code: 'E_VALIDATION' } } });
    const minted = await post(admin);
    expect(minted.status).toBe(201);
    const device = await RawDevice.open(node.url, minted.body.token as string, cartId);
    expect(await device.join()).toMatchObject({ ok: true, subject: 'ana', role: 'customer' });
    device.close();
  });

  it('the admin API is disabled (E_AUTH_FORBIDDEN) when no admin token is configured', async () => {
    const closed = await startNode({ adminToken: null });
    try {
      const res = await closed.request('POST', '/v1/auth/tokens', { headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` }, body: mint });
      expect(res).toMatchObject({ status: 403, body: { error: { code: 'E_AUTH_FORBIDDEN' } } });
      expect(await closed.request('POST', '/v1/auth/tokens', { body: mint })).toMatchObject({ status: 401, body: { error: { code: 'E_AUTH_MISSING' } } });
    } finally {
      await closed.close();
    }
  });
});

describe('expiry during a session', () => {
  it('a token that expires while connected: later syncs get E_AUTH_EXPIRED, /yjs closes with 4401, nothing is stored', async () => {
    const { cartId: id } = await node.createCart();
    // Expires 2-3 s from now: jose's exp has one-second resolution.
    const token = await sign({ sub: `short-${randomBytes(3).toString('hex')}`, role: 'customer', carts: [id], exp: nowSeconds() + 3 });
    const device = await RawDevice.open(node.url, token, id);
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/yjs/${id}?token=${token}`);
    const closed = new Promise<[number, string]>((resolve) => ws.on('close', (code, reason) => resolve([code, reason.toString()])));
    await once(ws, 'open');
    try {
      expect(await device.syncFromServer()).toMatchObject({ ok: true });
      expect(await device.change((d) => setAttribute(d, 'before', 'expiry'))).toMatchObject({ ok: true });
      // Verified once here: the node remembers the token, but only until it expires.
      expect(await restGet(node, id, `Bearer ${token}`)).toEqual({ status: 200, code: null });
      const version = (await node.node.store.load(id, 0)).version;

      await waitFor(async () => expect(await device.syncFromServer()).toMatchObject({ ok: false, error: { code: 'E_AUTH_EXPIRED' } }), { timeoutMs: 6000, intervalMs: 200 });
      expect(await device.change((d) => setAttribute(d, 'after', 'expiry'))).toMatchObject({ ok: false, error: { code: 'E_AUTH_EXPIRED' } });
      expect(await device.join()).toMatchObject({ ok: false, error: { code: 'E_AUTH_EXPIRED' } });

      ws.send(encodeWsSync(writeSyncStep1(Y.encodeStateVector(new Y.Doc()))));
      expect(await closed).toEqual([CLOSE.UNAUTHORIZED.code, 'E_AUTH_EXPIRED']);
      expect((await node.node.store.load(id, 0)).version).toBe(version);
      expect(await sioConnect(node, token)).toBe('E_AUTH_EXPIRED');
      expect(await restGet(node, id, `Bearer ${token}`)).toMatchObject({ status: 401, code: 'E_AUTH_EXPIRED' });
    } finally {
      device.close();
      ws.close();
    }
  });
});
