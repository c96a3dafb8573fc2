/**
 * The local cluster's load balancer (scripts/lb.ts) in front of two tiny real HTTP + WebSocket
 * backends: spread, cart affinity through `?cart=`, health checks, WebSocket pass-through.
 */
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { type LoadBalancer, startLoadBalancer } from '../scripts/lb.ts';
import { once, waitFor } from './helpers/wait.ts';

interface TinyBackend {
  name: string;
  port: number;
  /** Status /readyz answers with. */
  ready: number;
  hits: number;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function tinyBackend(name: string): TinyBackend {
  let server: Server | null = null;
  let wss: WebSocketServer | null = null;
  const b: TinyBackend = {
    name,
    port: 0,
    ready: 200,
    hits: 0,
    async start() {
      server = createServer((req, res) => {
        if (req.url === '/readyz') {
          res.writeHead(b.ready, { 'content-type': 'application/json' }).end(JSON.stringify({ ready: b.ready === 200 }));
          return;
        }
        b.hits++;
        let body = '';
        req.on('data', (d: Buffer) => (body += d.toString()));
        req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name }).end(JSON.stringify({ name, method: req.method, url: req.url, body })));
      });
      wss = new WebSocketServer({ server });
      wss.on('connection', (ws, req) => {
        ws.send(`hello from ${name} at ${req.url}`);
        ws.on('message', (data) => ws.send(`${name} echoes ${data.toString()}`));
      });
      await new Promise<void>((resolve) => server!.listen(b.port, '127.0.0.1', () => resolve()));
      b.port = (server!.address() as AddressInfo).port;
    },
    async stop() {
      for (const c of wss?.clients ?? []) c.terminate();
      wss?.close();
      const closed = new Promise<void>((resolve) => server?.close(() => resolve()));
      server?.closeAllConnections();
      await closed;
    },
  };
  return b;
}

const a = tinyBackend('a');
const b = tinyBackend('b');
let lb: LoadBalancer;

beforeAll(async () => {
  await a.start();
  await b.start();
  lb = await startLoadBalancer({
    port: 0,
    healthIntervalMs: 100,
    backends: [
      { name: 'a', host: '127.0.0.1', port: a.port },
      { name: 'b', host: '127.0.0.1', port: b.port },
    ],
  });
});
afterAll(async () => {
  await lb?.close();
  await a.stop();
  await b.stop();
});

async function whoServes(path: string): Promise<string> {
  const res = await fetch(`${lb.url}${path}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { name: string }).name;
}

const carts = Array.from({ length: 40 }, (_, i) => `cart-${i}`);

async function placement(): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  for (const cart of carts) map.set(cart, await whoServes(`/v1/carts/${cart}?cart=${cart}`));
  return map;
}

describe('load balancer', () => {
  it('starts with both backends healthy and spreads requests without a cart', async () => {
    await waitFor(() => expect(lb.healthy()).toEqual(['a', 'b']));
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add(await whoServes('/v1/catalog/products'));
    expect([...seen].sort()).toEqual(['a', 'b']);
  });

  it('proxies method, path, query and body, and returns the backend headers', async () => {
    const res = await fetch(`${lb.url}/v1/carts?x=1`, { method: 'POST', body: '{"k":1}', headers: { 'content-type': 'application/json' } });
    const body = (await res.json()) as { method: string; url: string; body: string };
    expect(res.headers.get('x-backend')).toMatch(/^[ab]$/);
    expect(body).toMatchObject({ method: 'POST', url: '/v1/carts?x=1', body: '{"k":1}' });
  });

  it('sends the same ?cart= to the same backend, and different carts to both', async () => {
    for (let i = 0; i < 5; i++) expect(await whoServes('/anything?cart=cart-7')).toBe(lb.pick('cart-7')?.name);
    const first = await placement();
    expect(await placement()).toEqual(first);
    expect(new Set(first.values())).toEqual(new Set(['a', 'b']));
  });

  it('skips a backend whose /readyz fails, keeps the other carts in place, and takes it back', async () => {
    const before = await placement();
    b.ready = 503;
    await waitFor(() => expect(lb.healthy()).toEqual(['a']));
    const during = await placement();
    for (const cart of carts) {
      expect(during.get(cart)).toBe('a');
    }
    for (let i = 0; i < 4; i++) expect(await whoServes('/v1/catalog/products')).toBe('a');
    b.ready = 200;
    await waitFor(() => expect(lb.healthy()).toEqual(['a', 'b']));
    // Consistent hashing: every cart returns to where it was.
    expect(await placement()).toEqual(before);
  });

  it('skips a stopped backend and answers 503 when none is left', async () => {
    await b.stop();
    await waitFor(() => expect(lb.healthy()).toEqual(['a']));
    for (const cart of carts.slice(0, 10)) expect(await whoServes(`/x?cart=${cart}`)).toBe('a');
    await a.stop();
    await waitFor(() => expect(lb.healthy()).toEqual([]));
    expect((await fetch(`${lb.url}/readyz`)).status).toBe(503);
    await a.start();
    await b.start();
    await waitFor(() => expect(lb.healthy()).toEqual(['a', 'b']));
  });

  it('passes a WebSocket upgrade through, both ways, to the cart backend', async () => {
    for (const cart of ['cart-1', 'cart-2', 'cart-3', 'cart-4']) {
      const expected = lb.pick(cart)!.name;
      const ws = new WebSocket(`${lb.url.replace('http', 'ws')}/socket.io/?cart=${cart}&EIO=4`);
      const messages: string[] = [];
      ws.on('message', (data: Buffer) => messages.push(data.toString()));
      await once(ws, 'open');
      await waitFor(() => expect(messages).toEqual([`hello from ${expected} at /socket.io/?cart=${cart}&EIO=4`]));
      ws.send('ping');
      await waitFor(() => expect(messages[1]).toBe(`${expected} echoes ping`));
      const closed = once(ws, 'close');
      ws.close();
      await closed;
    }
  });
});
