/**
 * One schema per shape, at the REST edge: what REST accepts a device can edit, hostile text is
 * refused everywhere, and the small REST holes (issue 9 hole 7, issue 12 findings 9 and 11).
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CartError, LiveCartConnection, type CartHandle } from '../client/index.ts';
import { lineIdOf, setNote } from '../protocol/index.ts';
import { createCartServer } from '../server/app.ts';
import { createLogger, type Logger } from '../core/log.ts';
import { DEFAULT_CONFIG } from '../core/config.ts';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { RawDevice } from './helpers/raw-device.ts';
import { TEST_ADMIN_TOKEN, TEST_JWT_SECRET, type TestNode, startNode, uniquePrefix } from './helpers/node.ts';

let node: TestNode;
const conns: LiveCartConnection[] = [];
beforeAll(async () => {
  node = await startNode();
});
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()));
  await node.close();
});

async function device(token: string, cartId: string): Promise<CartHandle> {
  const c = new LiveCartConnection({ url: node.url, token, retryMinMs: 50, retryMaxMs: 300, ackTimeoutMs: 3000 });
  conns.push(c);
  return c.open(cartId);
}
const admin = (method: string, path: string, body?: unknown) => node.request(method, path, { token: TEST_ADMIN_TOKEN, body });
const lines = (cartId: string) => `/v1/carts/${cartId}/lines`;

/** 8 options of 64 characters that percent-encode to 9 characters each: a line id far above 1024. */
const hugeOptions = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`opt${i}`, 'é'.repeat(64)]));

describe('one schema at the REST edge', () => {
  it('issue 9: REST refuses an add whose line id a device could not edit (options too long together)', async () => {
    expect(lineIdOf('SHOE-1', hugeOptions).length).toBeGreaterThan(1024);
    const { cartId, token } = await node.createCart();
    const res = await node.request('POST', lines(cartId), { token, body: { sku: 'SHOE-1', quantity: 1, options: hugeOptions } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'E_VALIDATION', retryable: false });
    expect(res.body.error.detail).toContain('options');
    expect((await node.request('GET', `/v1/carts/${cartId}`, { token })).body.lines).toEqual([]);
  });

  it('hole 7: PUT /v1/catalog/products/:sku needs only a name, a price and a stock (category optional)', async () => {
    const res = await admin('PUT', '/v1/catalog/products/NOCAT-1', { name: 'Plain mug', price: { amount: 900, currency: 'USD' }, stock: 3 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ sku: 'NOCAT-1', name: 'Plain mug', prices: { USD: 900 }, stock: 3, category: '', imageUrl: null });
  });

  it('hole 7: a customer (cart) token on an admin route answers 403 E_AUTH_FORBIDDEN, not "signature is wrong"', async () => {
    const { token } = await node.createCart();
    for (const [method, path, body] of [
      ['PUT', '/v1/catalog/products/X-1', { name: 'x', price: { amount: 1, currency: 'USD' }, stock: 1 }],
      ['GET', '/v1/pricing/rules', undefined],
      ['POST', '/v1/auth/tokens', { subject: 'me', role: 'service', carts: ['*'] }],
    ] as const) {
      const res = await node.request(method, path, { token, body });
      expect(res.status, path).toBe(403);
      expect(res.body.error.code).toBe('E_AUTH_FORBIDDEN');
    }
    expect(await node.node.catalog.get('X-1')).toBeNull();
  });

  it('hole 7: bulk import of 1000 products fits the bulk body limit; other routes keep the small one', async () => {
    const products = Array.from({ length: 1000 }, (_, i) => ({
      sku: `BULK-${String(i).padStart(4, '0')}`,
      name: `Product number ${i} with a descriptive name`,
      price: { amount: 1000 + i, currency: 'USD' },
      stock: i,
      category: 'bulk-test',
      imageUrl: `https://cdn.example.com/images/products/${i}.jpg`,
    }));
    const body = JSON.stringify({ products });
    expect(body.length).toBeGreaterThan(node.config.maxJsonBytes);
    const res = await admin('POST', '/v1/catalog/products/bulk', body);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ upserted: 1000, created: 1000 });
    const { cartId, token } = await node.createCart();
    const big = await node.request('POST', lines(cartId), { token, body: { sku: 'A1', quantity: 1, note: 'x'.repeat(node.config.maxJsonBytes) } });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('E_BODY_TOO_LARGE');
  });

  it('finding 11: REST refuses NUL, ANSI escapes and bidi overrides in notes, options, product names; stores nothing; <script> in a note is kept as text', async () => {
    const { cartId, token } = await node.createCart();
    const hostile = ['nul\u0000', 'ansi \u001b[31mred', 'bidi \u202Egnp.exe', 'isolate \u2066x\u2069', 'c1 \u0085', 'cr\r'];
    for (const text of hostile) {
      for (const body of [
        { sku: 'A1', quantity: 1, note: text },
        { sku: 'A1', quantity: 1, options: { color: text } },
      ]) {
        const res = await node.request('POST', lines(cartId), { token, body });
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body.error.code).toBe('E_VALIDATION');
        expect(res.body.error.detail).toMatch(/control characters/);
      }
      const put = await admin('PUT', '/v1/catalog/products/EVIL-1', { name: text, price: { amount: 1, currency: 'USD' }, stock: 1 });
      expect(put.status).toBe(400);
    }
    expect((await node.request('GET', `/v1/carts/${cartId}`, { token })).body.lines).toEqual([]);
    expect(await node.node.catalog.get('EVIL-1')).toBeNull();
    const ok = await node.request('POST', lines(cartId), { token, body: { sku: 'A1', quantity: 1, note: '<script>alert(1)</script>\nsecond line' } });
    expect(ok.status).toBe(201);
    expect(ok.body.note).toBe('<script>alert(1)</script>\nsecond line');
  });

  it('finding 11: a device update carrying a bidi override or an escape is refused with a typed error and not stored; the client library refuses it first', async () => {
    const { cartId, token } = await node.createCart();
    const res = await node.request('POST', lines(cartId), { token, body: { sku: 'A1', quantity: 1 } });
    expect(res.status).toBe(201);
    const raw = await RawDevice.open(node.url, token, cartId);
    try {
      const before = await node.node.store.logLength(cartId);
      const note = await raw.change((doc) => setNote(doc, 'A1', 'ok \u202Etxt.exe'));
      expect(note).toMatchObject({ ok: false, error: { code: 'E_UPDATE_INVALID_VALUE' } });
      expect(await node.node.store.logLength(cartId)).toBe(before);
    } finally {
      raw.close();
    }
    const h = await device(token, cartId);
    expect(() => h.setNote('A1', 'ansi \u001b[2J')).toThrow(CartError);
    expect(() => h.add({ sku: 'B2', quantity: 1, options: { size: '\u0000' } })).toThrow(/control characters/);
    expect(() => h.setAttribute('giftWrap', '\u2067yes')).toThrow(CartError);
    expect(h.view.lines.map((l) => l.note)).toEqual(['']);
  });
});

describe('finding 9: a body that does not match its Content-Encoding', () => {
  it('finding 9: gzip header on a plain body answers 400 E_BODY_MALFORMED, not retryable, and logs no error', async () => {
    const errors: string[] = [];
    const base = createLogger('silent');
    const recording: Logger = { ...base, error: (msg) => errors.push(msg), child: () => recording };
    const config = { ...DEFAULT_CONFIG, port: 0, host: '127.0.0.1', keyPrefix: uniquePrefix(), jwtSecret: TEST_JWT_SECRET, adminToken: TEST_ADMIN_TOKEN, logLevel: 'error' as const };
    const redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 2 });
    const server = createCartServer({ config, redis, jwtSecret: TEST_JWT_SECRET, log: recording });
    const port = await server.listen();
    try {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/carts', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end('{"plain":"json"}');
      });
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body).error).toMatchObject({ code: 'E_BODY_MALFORMED', retryable: false });
      expect(errors).toEqual([]);
    } finally {
      await server.close();
      redis.disconnect();
    }
  });
});

