/**
 * Limits on REST and connections (cluster-wide in Redis, per IP and per subject): floods from one
 * address are refused with 429 E_RATE_LIMITED and Retry-After, clients that wait get through,
 * admin-token guesses are slowed and counted, connections per IP are capped on both transports.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { DEFAULT_CONFIG, type AbuseConfig } from '../core/config.ts';
import { connectSocket, type RawSocket } from './helpers/raw-device.ts';
import { TEST_ADMIN_TOKEN, type TestNode, startNode } from './helpers/node.ts';

const nodes: TestNode[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.close();
});

async function nodeWith(abuse: Partial<AbuseConfig>): Promise<TestNode> {
  const node = await startNode({ abuse: { ...DEFAULT_CONFIG.abuse, ...abuse } });
  nodes.push(node);
  return node;
}

/** Send `n` requests, `concurrency` at a time; the statuses in order of completion. */
async function flood(n: number, concurrency: number, send: () => Promise<{ status: number }>): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next += 1;
        statuses.push((await send()).status);
      }
    }),
  );
  return statuses;
}

const count = (statuses: number[], status: number): number => statuses.filter((s) => s === status).length;

describe('REST rate limits', () => {
  it('finding 6: with the default limits, 150 shoppers behind one IP create carts, and a flood of 1000 from it is refused well before its end', async () => {
    // Refusals answered at once here: their delay has its own test below.
    const node = await nodeWith({ refusalDelayMs: 0 });
    const shoppers = await flood(150, 8, () => node.request('POST', '/v1/carts'));
    expect(count(shoppers, 201)).toBe(150);
    const attack = await flood(1000, 16, () => node.request('POST', '/v1/carts'));
    expect(count(attack, 429)).toBeGreaterThan(500);
    const refused = await node.request('POST', '/v1/carts');
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({ code: 'E_RATE_LIMITED', retryable: true });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('finding 6: the hourly cart-creation budget holds across bursts', async () => {
    const node = await nodeWith({ cartCreatePerHour: 30 });
    const statuses = await flood(60, 4, () => node.request('POST', '/v1/carts'));
    expect(count(statuses, 201)).toBe(30);
    expect(count(statuses, 429)).toBe(30);
  });

  it('finding 6: a client that honours Retry-After gets through', async () => {
    const node = await nodeWith({ cartCreateBurst: 5, cartCreateBurstSeconds: 1 });
    for (let i = 0; i < 5; i++) expect((await node.request('POST', '/v1/carts')).status).toBe(201);
    let refused = await node.request('POST', '/v1/carts');
    expect(refused.status).toBe(429);
    // A well-behaved client: wait as told, then retry (at most a few times).
    for (let attempt = 0; attempt < 3 && refused.status === 429; attempt++) {
      const wait = Number(refused.headers.get('retry-after'));
      expect(wait).toBeGreaterThanOrEqual(1);
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      refused = await node.request('POST', '/v1/carts');
    }
    expect(refused.status).toBe(201);
  });

  it('finding 6: calls are limited per token subject, and other subjects are not affected', async () => {
    const node = await nodeWith({ restPerSubject: 20 });
    const { cartId } = await node.createCart();
    const busy = await node.token([cartId], { subject: 'busy-user' });
    const other = await node.token([cartId], { subject: 'other-user' });
    const statuses = await flood(30, 3, () => node.request('GET', `/v1/carts/${cartId}`, { token: busy }));
    expect(count(statuses, 200)).toBe(20);
    expect(count(statuses, 429)).toBe(10);
    expect((await node.request('GET', `/v1/carts/${cartId}`, { token: other })).status).toBe(200);
  });

  it('finding 6: wrong admin tokens are answered 401 up to the budget, then 429 for that IP, and counted', async () => {
    const node = await nodeWith({ adminFailures: 10, refusalDelayMs: 0 });
    const wrong = 'x'.repeat(TEST_ADMIN_TOKEN.length);
    const statuses = await flood(300, 8, () => node.request('POST', '/v1/auth/tokens', { token: wrong, body: { subject: 's', role: 'customer', carts: ['*'] } }));
    expect(count(statuses, 401)).toBe(10);
    expect(count(statuses, 429)).toBe(290);
    expect(node.node.metrics.value('livecart_admin_auth_failures_total')).toBe(10);
    // Slowed for the guesser's IP (even with the right token), not for everyone.
    const right = await node.request('GET', '/v1/pricing/rules', { token: TEST_ADMIN_TOKEN });
    expect(right.status).toBe(429);
    expect(right.body.error.code).toBe('E_RATE_LIMITED');
    expect((await node.request('GET', '/v1/catalog/products')).status).toBe(200);
  });

  it('finding 6: a refusal is answered only after LIVECART_RATE_REFUSAL_DELAY_MS, so a flood gets one refusal per request in flight per delay; a client that leaves meanwhile costs nothing', async () => {
    const delayMs = 400;
    const node = await nodeWith({ cartCreateBurst: 2, refusalDelayMs: delayMs });
    for (let i = 0; i < 2; i++) expect((await node.request('POST', '/v1/carts')).status).toBe(201);
    const timed = async (): Promise<{ status: number; ms: number }> => {
      const t0 = performance.now();
      const res = await node.request('POST', '/v1/carts');
      return { status: res.status, ms: performance.now() - t0 };
    };
    const refusals = await Promise.all(Array.from({ length: 8 }, timed));
    for (const r of refusals) {
      expect(r.status).toBe(429);
      // A lower bound only: a timer never fires before its delay.
      expect(r.ms).toBeGreaterThanOrEqual(delayMs - 5);
    }
    // A caller that gives up while its refusal is held: the node just drops it.
    const abort = new AbortController();
    const left = fetch(`${node.url}/v1/carts`, { method: 'POST', signal: abort.signal });
    abort.abort();
    await expect(left).rejects.toThrow();
    expect((await node.request('GET', '/v1/catalog/products')).status).toBe(200);
  });

  it('finding 6: X-Forwarded-For is ignored by default and trusted with LIVECART_TRUST_PROXY_HOPS', async () => {
    const direct = await nodeWith({ cartCreatePerHour: 3 });
    const spoofed = await flood(6, 1, () => direct.request('POST', '/v1/carts', { headers: { 'x-forwarded-for': `10.0.0.${Math.floor(Math.random() * 250)}` } }));
    expect(count(spoofed, 201)).toBe(3);
    const proxied = await nodeWith({ cartCreatePerHour: 3, trustProxyHops: 1 });
    for (const client of ['10.0.0.1', '10.0.0.2']) {
      const statuses = await flood(4, 1, () => proxied.request('POST', '/v1/carts', { headers: { 'x-forwarded-for': client } }));
      expect(statuses).toEqual([201, 201, 201, 429]);
    }
  });
});

describe('connection caps', () => {
  it('finding 6: connections per IP are capped on Socket.IO (typed connect error) and /yjs (HTTP 429), and freed on close', async () => {
    const node = await nodeWith({ maxConnectionsPerIp: 3 });
    const { cartId, token } = await node.createCart();
    const open: RawSocket[] = [];
    try {
      for (let i = 0; i < 3; i++) open.push(await connectSocket(node.url, token));
      const refused = await connectSocket(node.url, token).then(
        () => null,
        (err: Error & { data?: { code: string } }) => err,
      );
      expect(refused?.data?.code).toBe('E_TOO_MANY_CONNECTIONS');
      const yjs = new WebSocket(`ws://127.0.0.1:${node.port}/yjs/${cartId}?token=${token}`);
      yjs.on('error', () => undefined);
      const status = await new Promise<number>((resolve) => {
        yjs.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        yjs.once('open', () => resolve(101));
      });
      yjs.terminate();
      expect(status).toBe(429);
      open.pop()!.close();
      await expectEventually(async () => {
        const again = await connectSocket(node.url, token);
        open.push(again);
      });
    } finally {
      for (const s of open) s.close();
    }
  });
});

/** Retry `attempt` until it resolves (the server sees a close a moment after the client sends it). */
async function expectEventually(attempt: () => Promise<void>): Promise<void> {
  let last: unknown;
  for (let i = 0; i < 100; i++) {
    try {
      return await attempt();
    } catch (err) {
      last = err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  throw last;
}
