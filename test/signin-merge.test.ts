/**
 * Merge on login: each strategy's documented lines (the same SKU on both carts included), the
 * guest cart adopted when the customer has no active cart, merging twice (or at once on two
 * nodes) a no-op, a merged cart refusing writes, and the guest cart's devices told on every node
 * (Socket.IO on another node than the exchange, /yjs) with the client library following.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io } from 'socket.io-client';
import { WebSocket } from 'ws';
import { LiveCartConnection } from '../client/index.ts';
import { DEFAULT_CONFIG } from '../core/config.ts';
import { CartStatusStore } from '../core/redis/cart-status-store.ts';
import type { CartHandle } from '../client/index.ts';
import type { CartClosed, JoinResult } from '../protocol/index.ts';
import { IDP_AUDIENCE, IDP_ISSUER, type TestIdp, startIdp } from './helpers/idp.ts';
import { type TestNode, startNode, uniquePrefix } from './helpers/node.ts';
import { waitFor } from './helpers/wait.ts';

let idp: TestIdp;
let a: TestNode;
let b: TestNode;
const conns: LiveCartConnection[] = [];

beforeAll(async () => {
  idp = await startIdp();
  const config = { keyPrefix: uniquePrefix(), idp: { ...DEFAULT_CONFIG.idp, jwksUrl: idp.jwksUrl, issuer: IDP_ISSUER, audience: IDP_AUDIENCE } };
  a = await startNode(config);
  b = await startNode(config);
});
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()));
  await a.close();
  await b.close();
  await idp.close();
});

let customers = 0;
const exchange = async (node: TestNode, sub: string, body?: unknown) => node.request('POST', '/v1/auth/exchange', { token: await idp.token({ sub }), body });

async function addLines(node: TestNode, cartId: string, token: string, lines: Array<[string, number, Record<string, string>?]>): Promise<void> {
  for (const [sku, quantity, options] of lines) {
    const res = await node.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku, quantity, ...(options && { options }) } });
    expect(res.status).toBe(201);
  }
}

async function linesOf(node: TestNode, cartId: string, token: string): Promise<Array<[string, number]>> {
  const res = await node.request('GET', `/v1/carts/${cartId}`, { token });
  return (res.body.lines as Array<{ lineId: string; quantity: number }>).map((l): [string, number] => [l.lineId, l.quantity]).sort();
}

/** A customer whose active cart holds SHOE×2 and BELT×1, and a guest cart holding `guestLines`. */
async function customerAndGuest(guestLines: Array<[string, number, Record<string, string>?]>) {
  const sub = `cust-merge-${++customers}`;
  const signed = (await exchange(a, sub)).body as { cartId: string; token: string };
  await addLines(a, signed.cartId, signed.token, [['SHOE', 2], ['BELT', 1]]);
  const guest = await b.createCart();
  await addLines(b, guest.cartId, guest.token, guestLines);
  return { sub, active: signed, guest };
}

describe('merge on login', () => {
  const GUEST: Array<[string, number, Record<string, string>?]> = [['SHOE', 3], ['SOCK', 1], ['HAT', 1, { size: 'M' }]];
  const cases: Array<[string | undefined, Array<[string, number]>]> = [
    [undefined, [['BELT', 1], ['HAT?size=M', 1], ['SHOE', 3], ['SOCK', 1]]],
    ['merge', [['BELT', 1], ['HAT?size=M', 1], ['SHOE', 3], ['SOCK', 1]]],
    ['guest', [['HAT?size=M', 1], ['SHOE', 3], ['SOCK', 1]]],
    ['customer', [['BELT', 1], ['SHOE', 2]]],
  ];
  for (const [strategy, expected] of cases) {
    it(`strategy ${strategy ?? '(default: merge)'} gives its documented lines`, async () => {
      const { sub, active, guest } = await customerAndGuest(GUEST);
      const res = await exchange(a, sub, { guestCartId: guest.cartId, guestToken: guest.token, ...(strategy && { strategy }) });
      expect(res.status).toBe(200);
      expect(res.body.cartId).toBe(active.cartId);
      expect(await linesOf(a, active.cartId, res.body.token)).toEqual(expected);
      const closed = await b.request('GET', `/v1/carts/${guest.cartId}`, { token: guest.token });
      expect([closed.body.status, closed.body.mergedInto]).toEqual(['merged', active.cartId]);
    });
  }

  it('merge takes the larger quantity of a line on both carts: an item added on both devices is not doubled', async () => {
    const { sub, active, guest } = await customerAndGuest([['SHOE', 1]]);
    const res = await exchange(a, sub, { guestCartId: guest.cartId, guestToken: guest.token });
    expect(await linesOf(a, active.cartId, res.body.token)).toEqual([['BELT', 1], ['SHOE', 2]]);
  });

  it('adopts the guest cart as the active cart when the customer has none, and records her as its owner', async () => {
    const guest = await b.createCart();
    await addLines(b, guest.cartId, guest.token, [['SHOE', 1]]);
    const res = await exchange(a, 'cust-adopter', { guestCartId: guest.cartId, guestToken: guest.token });
    expect(res.body.cartId).toBe(guest.cartId);
    expect(await linesOf(b, guest.cartId, res.body.token)).toEqual([['SHOE', 1]]);
    // Her other devices get the same cart; another customer holding the guest token cannot take it.
    expect((await exchange(b, 'cust-adopter')).body.cartId).toBe(guest.cartId);
    const thief = await exchange(a, 'cust-thief', { guestCartId: guest.cartId, guestToken: guest.token });
    expect([thief.status, thief.body.error.code]).toEqual([403, 'E_AUTH_FORBIDDEN']);
  });

  it('merging the same guest cart twice, or at once on two nodes, merges it once', async () => {
    const { sub, active, guest } = await customerAndGuest([['SOCK', 2]]);
    const body = { guestCartId: guest.cartId, guestToken: guest.token };
    const merges = (): number => [a, b].reduce((sum, n) => sum + n.node.metrics.value('livecart_signins_total', { outcome: 'merged' }), 0);
    const mergesBefore = merges();
    const [first, second] = await Promise.all([exchange(a, sub, body), exchange(b, sub, body)]);
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(second.body.cartId).toBe(first.body.cartId);
    await waitFor(async () => expect((await a.node.store.load(guest.cartId, 0)).origins.filter((o) => o === 'merge')).toHaveLength(1));
    expect(merges() - mergesBefore).toBe(1);
    const again = await exchange(a, sub, body);
    expect(again.body.cartId).toBe(active.cartId);
    const log = await a.node.store.load(active.cartId, 0);
    expect(log.origins.filter((o) => o === 'merge')).toHaveLength(1);
    expect(await linesOf(a, active.cartId, again.body.token)).toEqual([['BELT', 1], ['SHOE', 2], ['SOCK', 2]]);
    // The active cart's activity feed has the merge, once, by the customer.
    const feed = await a.request('GET', `/v1/carts/${active.cartId}/activity`, { token: again.body.token });
    expect(feed.body.entries.filter((e: { action: string }) => e.action === 'cart.merged')).toEqual([expect.objectContaining({ actor: { id: sub, role: 'customer', name: null, device: null } })]);
  });

  it('a merged cart refuses changes with a typed error', async () => {
    const { sub, guest } = await customerAndGuest([['SOCK', 1]]);
    await exchange(a, sub, { guestCartId: guest.cartId, guestToken: guest.token });
    for (const node of [a, b]) {
      const res = await node.request('POST', `/v1/carts/${guest.cartId}/lines`, { token: guest.token, body: { sku: 'CAP', quantity: 1 } });
      expect([res.status, res.body.error.code]).toEqual([409, 'E_CART_CLOSED']);
    }
    expect(await linesOf(b, guest.cartId, guest.token)).toEqual([['SOCK', 1]]);
  });
});

describe("the guest cart's devices", () => {
  it('are told on every node (Socket.IO on another node than the exchange, /yjs) and the client library follows', async () => {
    const { sub, active, guest } = await customerAndGuest([['SOCK', 1]]);
    // A raw Socket.IO device and the client library on node b, a /yjs client on node a; the exchange runs on a.
    const raw = io(b.url, { transports: ['websocket'], auth: { token: guest.token }, forceNew: true, reconnection: false });
    const joined = await new Promise<JoinResult>((resolve) => raw.emit('join', guest.cartId, { device: 'raw' }, resolve));
    expect(joined.ok).toBe(true);
    const rawClosed = new Promise<[string, CartClosed]>((resolve) => raw.on('cart-closed', (cartId: string, closed: CartClosed) => resolve([cartId, closed])));
    const ws = new WebSocket(`ws://127.0.0.1:${a.port}/yjs/${guest.cartId}?token=${guest.token}`);
    await new Promise((resolve) => ws.once('open', resolve));
    const wsClosed = new Promise<[number, string]>((resolve) => ws.once('close', (code, reason) => resolve([code, reason.toString()])));
    const conn = new LiveCartConnection({ url: b.url, token: guest.token, device: 'guest phone', retryMinMs: 20, retryMaxMs: 200 });
    conns.push(conn);
    const handle = await conn.open(guest.cartId);
    const merged = new Promise<{ mergedInto: string }>((resolve) => handle.on('merged', resolve));
    const followed = new Promise<{ from: string; handle: CartHandle }>((resolve) => conn.on('followed', resolve));

    const res = await exchange(a, sub, { guestCartId: guest.cartId, guestToken: guest.token });
    expect(res.status).toBe(200);

    expect(await rawClosed).toEqual([guest.cartId, expect.objectContaining({ reason: 'merged', mergedInto: active.cartId, error: expect.objectContaining({ code: 'E_CART_CLOSED' }) })]);
    expect(await wsClosed).toEqual([4410, `E_CART_CLOSED merged-into=${active.cartId}`]);
    expect((await merged).mergedInto).toBe(active.cartId);
    // The device gets the customer's token (it signed in): the connection opens the active cart.
    await conn.setToken(res.body.token);
    const target = await followed;
    expect(target.from).toBe(guest.cartId);
    expect(target.handle.cartId).toBe(active.cartId);
    await waitFor(() => expect(target.handle.view.lines.map((l) => [l.lineId, l.quantity]).sort()).toEqual([['BELT', 1], ['SHOE', 2], ['SOCK', 1]]));
    // A device that comes back to the merged cart later is told at once.
    const late = io(a.url, { transports: ['websocket'], auth: { token: guest.token }, forceNew: true, reconnection: false });
    const lateClosed = new Promise<CartClosed>((resolve) => late.on('cart-closed', (_id: string, closed: CartClosed) => resolve(closed)));
    late.emit('join', guest.cartId, {}, () => undefined);
    expect(await lateClosed).toMatchObject({ reason: 'merged', mergedInto: active.cartId });
    raw.close();
    late.close();
  });

  it('a device that already holds the customer token and opens the old guest cart is sent to the active cart', async () => {
    const { sub, active, guest } = await customerAndGuest([['SOCK', 3]]);
    const signed = (await exchange(a, sub, { guestCartId: guest.cartId, guestToken: guest.token })).body as { token: string };
    const conn = new LiveCartConnection({ url: b.url, token: signed.token, device: 'laptop', retryMinMs: 20, retryMaxMs: 200 });
    conns.push(conn);
    const merged = new Promise<{ cartId: string; mergedInto: string }>((resolve) => conn.on('merged', resolve));
    const followed = new Promise<{ from: string; handle: CartHandle }>((resolve) => conn.on('followed', resolve));
    await expect(conn.open(guest.cartId)).rejects.toMatchObject({ code: 'E_CART_CLOSED' });
    expect(await merged).toEqual({ cartId: guest.cartId, mergedInto: active.cartId });
    const target = await followed;
    await waitFor(() => expect(target.handle.view.lines.map((l) => [l.lineId, l.quantity]).sort()).toEqual([['BELT', 1], ['SHOE', 2], ['SOCK', 3]]));
    // A token that grants neither cart learns nothing about the merge.
    const stranger = io(b.url, { transports: ['websocket'], auth: { token: await a.token([]) }, forceNew: true, reconnection: false });
    const answer = await new Promise<JoinResult>((resolve) => stranger.emit('join', guest.cartId, {}, resolve));
    stranger.close();
    expect(answer).toMatchObject({ ok: false, error: { code: 'E_AUTH_FORBIDDEN' } });
  });

  it('while a merge holds the guest cart nobody else writes to it (E_CART_MERGING, retryable); a claim whose holder died runs out', async () => {
    const { sub, active, guest } = await customerAndGuest([['SOCK', 1]]);
    // An exchange that claimed the guest cart and died: its claim holds for 300 ms.
    const statuses = new CartStatusStore(a.redis, a.config.keyPrefix);
    expect(await statuses.claimMerge(guest.cartId, active.cartId, sub, 300)).toMatchObject({ kind: 'claimed' });
    const write = await b.request('POST', `/v1/carts/${guest.cartId}/lines`, { token: guest.token, body: { sku: 'CAP', quantity: 1 } });
    expect([write.status, write.body.error.code, write.body.error.retryable]).toEqual([409, 'E_CART_MERGING', true]);
    // Another exchange meanwhile merges nothing (the claim is not its own) and answers the active cart.
    const during = await exchange(a, sub, { guestCartId: guest.cartId, guestToken: guest.token });
    expect(during.body.cartId).toBe(active.cartId);
    expect(await linesOf(a, active.cartId, during.body.token)).toEqual([['BELT', 1], ['SHOE', 2]]);
    // Once the claim ran out, the next exchange merges it.
    await waitFor(async () => {
      const after = await exchange(a, sub, { guestCartId: guest.cartId, guestToken: guest.token });
      expect(await linesOf(a, active.cartId, after.body.token)).toEqual([['BELT', 1], ['SHOE', 2], ['SOCK', 1]]);
    });
    expect((await b.request('GET', `/v1/carts/${guest.cartId}`, { token: guest.token })).body.status).toBe('merged');
  });
});
