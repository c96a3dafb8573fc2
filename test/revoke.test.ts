/**
 * Sign-out everywhere: POST /v1/auth/revoke cuts every session of a subject on every node within
 * a second (Socket.IO on one node, /yjs on another), and every entry point refuses its tokens
 * from then on (REST, Socket.IO connect and join, /yjs connect) while tokens issued later work.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import type { CartClosed, JoinResult } from '../protocol/index.ts';
import { Revoked } from '../protocol/schemas/index.ts';
import { TEST_ADMIN_TOKEN, type TestNode, startNode, uniquePrefix } from './helpers/node.ts';
import { waitFor } from './helpers/wait.ts';

let a: TestNode;
let b: TestNode;

beforeAll(async () => {
  const keyPrefix = uniquePrefix();
  a = await startNode({ keyPrefix });
  b = await startNode({ keyPrefix });
});
afterAll(async () => {
  await a.close();
  await b.close();
});

/** The bound the issue states for cutting sessions on every node. */
const CUT_WITHIN_MS = 1000;

function connect(node: TestNode, token: string): Socket {
  return io(node.url, { transports: ['websocket'], auth: { token }, forceNew: true, reconnection: false });
}

const join = (socket: Socket, cartId: string): Promise<JoinResult> => new Promise((resolve) => socket.emit('join', cartId, { device: 'phone' }, resolve));

async function upgradeStatus(node: TestNode, cartId: string, token: string): Promise<number> {
  const ws = new WebSocket(`ws://127.0.0.1:${node.port}/yjs/${cartId}?token=${token}`);
  ws.on('error', () => undefined);
  return new Promise((resolve) =>
    ws.on('unexpected-response', (req, res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    }),
  );
}

describe('POST /v1/auth/revoke', () => {
  it("cuts the subject's sessions on every node within a second, and every entry point refuses its tokens", async () => {
    const { cartId } = await a.createCart();
    const subject = 'cust-signs-out';
    const token = await a.token([cartId], { subject });
    const other = await a.token([cartId], { subject: 'cust-stays' });

    const phone = connect(a, token);
    expect(await join(phone, cartId)).toMatchObject({ ok: true });
    const closed: CartClosed[] = [];
    phone.on('cart-closed', (_id: string, c: CartClosed) => closed.push(c));
    let phoneDisconnected = false;
    phone.on('disconnect', () => (phoneDisconnected = true));
    const bystander = connect(a, other);
    expect(await join(bystander, cartId)).toMatchObject({ ok: true });
    const ws = new WebSocket(`ws://127.0.0.1:${b.port}/yjs/${cartId}?token=${token}`);
    await new Promise((resolve) => ws.once('open', resolve));
    let wsClosed: [number, string] | null = null;
    ws.once('close', (code, reason) => (wsClosed = [code, reason.toString()]));
    expect((await b.request('GET', `/v1/carts/${cartId}`, { token })).status).toBe(200);

    const res = await a.request('POST', '/v1/auth/revoke', { token: TEST_ADMIN_TOKEN, body: { subject } });
    expect(res.status).toBe(200);
    expect(res.body.subject).toBe(subject);
    expect(() => Revoked.parse(res.body)).not.toThrow();

    await waitFor(
      () => {
        expect(closed).toEqual([expect.objectContaining({ reason: 'revoked', error: expect.objectContaining({ code: 'E_AUTH_REVOKED' }) })]);
        expect(phoneDisconnected).toBe(true);
        expect(wsClosed).toEqual([4411, 'E_AUTH_REVOKED']);
      },
      { timeoutMs: CUT_WITHIN_MS },
    );
    const rest = await b.request('GET', `/v1/carts/${cartId}`, { token });
    expect([rest.status, rest.body.error.code]).toEqual([403, 'E_AUTH_REVOKED']);
    // Every entry point, on every node, refuses the old token.
    const again = connect(b, token);
    const refused = await new Promise<{ data?: { code?: string } }>((resolve) => again.on('connect_error', resolve));
    again.close();
    expect(refused.data?.code).toBe('E_AUTH_REVOKED');
    expect(await upgradeStatus(a, cartId, token)).toBe(403);
    // Other subjects are not disturbed; a token issued after the revocation works.
    expect(bystander.connected).toBe(true);
    expect(await join(bystander, cartId)).toMatchObject({ ok: true });
    const fresh = await a.token([cartId], { subject });
    expect((await b.request('GET', `/v1/carts/${cartId}`, { token: fresh })).status).toBe(200);
    const back = connect(b, fresh);
    expect(await join(back, cartId)).toMatchObject({ ok: true });
    for (const s of [phone, bystander, back]) s.close();
    ws.terminate();
  });

  it('takes the admin token or a service token, and refuses anyone else and bad bodies with typed errors', async () => {
    const service = await a.token(['*'], { role: 'service', subject: 'back-office' });
    const ok = await a.request('POST', '/v1/auth/revoke', { token: service, body: { subject: 'cust-x' } });
    expect(ok.status).toBe(200);
    const { cartId: own, token: customer } = await a.createCart();
    const cases: Array<[string, string | undefined, unknown, number, string]> = [
      ['a customer token', customer, { subject: 'cust-x' }, 403, 'E_AUTH_FORBIDDEN'],
      ['no token', undefined, { subject: 'cust-x' }, 401, 'E_AUTH_MISSING'],
      ['no subject', TEST_ADMIN_TOKEN, {}, 400, 'E_VALIDATION'],
      ['a subject of a wrong type', TEST_ADMIN_TOKEN, { subject: 42 }, 400, 'E_VALIDATION'],
      ['an oversize subject', TEST_ADMIN_TOKEN, { subject: 'x'.repeat(300) }, 400, 'E_VALIDATION'],
      ['bad JSON', TEST_ADMIN_TOKEN, '{"subject":', 400, 'E_BODY_MALFORMED'],
    ];
    for (const [name, token, body, status, code] of cases) {
      const res = await a.request('POST', '/v1/auth/revoke', { token, body });
      expect([res.status, res.body.error?.code], name).toEqual([status, code]);
    }
    // The customer whose revocation was refused still works.
    expect((await a.request('GET', `/v1/carts/${own}`, { token: customer })).status).toBe(200);
  });
});
