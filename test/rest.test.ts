/**
 * The REST contract (server/rest/*): cart creation and shape, line and coupon mutations (live on
 * connected devices), typed errors, Idempotency-Key, health, catalog, metrics and the admin API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CartLimits, DEFAULT_LIMITS, ERRORS, type ErrorCode, type WireError, quantityOf, readCart } from '../protocol/index.ts';
import { loadSeed } from '../core/catalog/catalog-store.ts';
import { TEST_ADMIN_TOKEN, type TestNode, startNode } from './helpers/node.ts';
import { RawDevice } from './helpers/raw-device.ts';
import { waitFor } from './helpers/wait.ts';

let node: TestNode;
beforeAll(async () => {
  node = await startNode();
});
afterAll(async () => {
  await node.close();
});

const linesPath = (cartId: string, lineId?: string): string =>
  `/v1/carts/${cartId}/lines${lineId === undefined ? '' : `/${encodeURIComponent(lineId)}`}`;

async function getCart(n: TestNode, cartId: string, token: string): Promise<{ version: number; lines: Array<{ lineId: string; quantity: number }>; coupons: string[] }> {
  const res = await n.request('GET', `/v1/carts/${cartId}`, { token });
  expect(res.status).toBe(200);
  return res.body;
}

function expectError(res: { status: number; body: unknown }, status: number, code: ErrorCode): void {
  const error = (res.body as { error?: Partial<WireError> } | null)?.error;
  expect({ status: res.status, code: error?.code }).toEqual({ status, code });
  expect(error).toMatchObject({ message: ERRORS[code].message, retryable: ERRORS[code].retryable });
}

describe('carts', () => {
  it('POST /v1/carts creates a cart and a token for it', async () => {
    const res = await node.request('POST', '/v1/carts');
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(['cartId', 'expiresAt', 'token']);
    expect(res.body.cartId).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
    expect(typeof res.body.token).toBe('string');
    expect(Date.parse(res.body.expiresAt)).toBeGreaterThan(Date.now());
    expect(await node.node.store.exists(res.body.cartId)).toBe(true);
  });

  it('GET returns the cart shape', async () => {
    const { cartId, token } = await node.createCart();
    const add = await node.request('POST', linesPath(cartId), { token, body: { sku: 'SHOE-RUN-01', quantity: 2, note: 'size 42' } });
    expect(add.status).toBe(201);
    const res = await node.request('GET', `/v1/carts/${cartId}`, { token });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({ cartId, version: add.body.version, status: 'open', currency: 'USD', totals: null, warnings: [], coupons: [] });
    expect(res.body.lines).toHaveLength(1);
    expect(res.body.lines[0]).toMatchObject({ lineId: 'SHOE-RUN-01', sku: 'SHOE-RUN-01', quantity: 2, note: 'size 42', unitPrice: null, warnings: [], options: {} });
    expect(res.body.lines[0].addedBy.role).toBe('customer');
  });

  it('adds, patches, deletes lines and sets coupons', async () => {
    const { cartId, token } = await node.createCart();
    const plain = await node.request('POST', linesPath(cartId), { token, body: { sku: 'MUG-3', quantity: 1 } });
    expect(plain.status).toBe(201);
    expect(plain.body).toMatchObject({ lineId: 'MUG-3', sku: 'MUG-3', quantity: 1 });
    // The same line again adds up.
    const again = await node.request('POST', linesPath(cartId), { token, body: { sku: 'MUG-3', quantity: 2 } });
    expect(again.body).toMatchObject({ lineId: 'MUG-3', quantity: 3 });
    expect(again.body.version).toBe(plain.body.version + 1);

    const withOptions = await node.request('POST', linesPath(cartId), { token, body: { sku: 'TEE-1', quantity: 1, options: { size: 'M', color: 'red' } } });
    expect(withOptions.status).toBe(201);
    const lineId = 'TEE-1?color=red&size=M';
    expect(withOptions.body).toMatchObject({ lineId, sku: 'TEE-1', options: { size: 'M', color: 'red' } });

    const patched = await node.request('PATCH', linesPath(cartId, lineId), { token, body: { quantity: 4, note: 'gift' } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ lineId, quantity: 4, note: 'gift' });

    const zero = await node.request('PATCH', linesPath(cartId, 'MUG-3'), { token, body: { quantity: 0 } });
    expect(zero.status).toBe(204);
    expect(zero.body).toBeNull();
    expect((await getCart(node, cartId, token)).lines.map((l) => l.lineId)).toEqual([lineId]);

    // Option values are percent-encoded inside the lineId, and the lineId once more in the path.
    const engraved = await node.request('POST', linesPath(cartId), { token, body: { sku: 'RING-5', quantity: 1, options: { text: 'A&B / 100%' } } });
    const engravedId = 'RING-5?text=A%26B%20%2F%20100%25';
    expect(engraved.body).toMatchObject({ lineId: engravedId, options: { text: 'A&B / 100%' } });
    expect((await node.request('PATCH', linesPath(cartId, engravedId), { token, body: { quantity: 3 } })).body).toMatchObject({ lineId: engravedId, quantity: 3 });
    expect((await node.request('DELETE', linesPath(cartId, engravedId), { token })).status).toBe(204);

    const del = await node.request('DELETE', linesPath(cartId, lineId), { token });
    expect(del.status).toBe(204);
    expect((await getCart(node, cartId, token)).lines).toEqual([]);

    const set1 = await node.request('PUT', `/v1/carts/${cartId}/coupons`, { token, body: { codes: ['save10', 'Free-Ship', 'SAVE10'] } });
    expect(set1.status).toBe(200);
    expect(set1.body.coupons).toEqual(['FREE-SHIP', 'SAVE10']);
    const set2 = await node.request('PUT', `/v1/carts/${cartId}/coupons`, { token, body: { codes: ['free-ship'] } });
    expect(set2.body.coupons).toEqual(['FREE-SHIP']);
    expect((await getCart(node, cartId, token)).coupons).toEqual(['FREE-SHIP']);
    const cleared = await node.request('PUT', `/v1/carts/${cartId}/coupons`, { token, body: { codes: [] } });
    expect(cleared.body.coupons).toEqual([]);
  });

  it('shows REST mutations live on a connected Socket.IO device', async () => {
    const { cartId, token } = await node.createCart();
    const device = await RawDevice.open(node.url, token, cartId);
    try {
      expect((await node.request('POST', linesPath(cartId), { token, body: { sku: 'LAMP-9', quantity: 2 } })).status).toBe(201);
      await waitFor(() => expect(quantityOf(device.doc, 'LAMP-9')).toBe(2));
      expect((await node.request('PATCH', linesPath(cartId, 'LAMP-9'), { token, body: { quantity: 6 } })).status).toBe(200);
      await waitFor(() => expect(quantityOf(device.doc, 'LAMP-9')).toBe(6));
      expect((await node.request('PUT', `/v1/carts/${cartId}/coupons`, { token, body: { codes: ['welcome'] } })).status).toBe(200);
      await waitFor(() => expect(readCart(device.doc).coupons).toEqual(['WELCOME']));
      expect((await node.request('DELETE', linesPath(cartId, 'LAMP-9'), { token })).status).toBe(204);
      await waitFor(() => expect(readCart(device.doc).lines).toEqual([]));
    } finally {
      device.close();
    }
  });
});

describe('errors', () => {
  it('answers 404 with typed codes', async () => {
    const unknownId = 'no-such-cart-0001';
    const token = await node.token([unknownId]);
    expectError(await node.request('GET', `/v1/carts/${unknownId}`, { token }), 404, 'E_CART_NOT_FOUND');
    expectError(await node.request('POST', linesPath(unknownId), { token, body: { sku: 'A', quantity: 1 } }), 404, 'E_CART_NOT_FOUND');
    expect(await node.node.store.exists(unknownId)).toBe(false);

    const cart = await node.createCart();
    expectError(await node.request('PATCH', linesPath(cart.cartId, 'NOPE'), { token: cart.token, body: { quantity: 2 } }), 404, 'E_LINE_NOT_FOUND');
    expectError(await node.request('DELETE', linesPath(cart.cartId, 'NOPE'), { token: cart.token }), 404, 'E_LINE_NOT_FOUND');
    expectError(await node.request('GET', '/v1/nothing-here'), 404, 'E_NOT_FOUND');
  });

  it('answers 400 for malformed bodies, bad fields and bad cart ids, changing nothing', async () => {
    const { cartId, token } = await node.createCart();
    const { version } = await getCart(node, cartId, token);
    expectError(await node.request('POST', linesPath(cartId), { token, body: '{"sku": "A",' }), 400, 'E_BODY_MALFORMED');
    const bad: unknown[] = [
      { sku: 'A', quantity: 0 },
      { sku: 'A', quantity: 1.5 },
      { sku: 'A', quantity: DEFAULT_LIMITS.maxQuantity + 1 },
      { sku: '', quantity: 1 },
      { sku: 'has space', quantity: 1 },
      { sku: 'A', quantity: 1, price: 1 },
      { sku: 'A', quantity: 1, options: { size: 3 } },
      { sku: 'A', quantity: 1, note: 'x'.repeat(DEFAULT_LIMITS.maxNoteLength + 1) },
      [1, 2],
    ];
    for (const body of bad) expectError(await node.request('POST', linesPath(cartId), { token, body }), 400, 'E_VALIDATION');
    await node.request('POST', linesPath(cartId), { token, body: { sku: 'A', quantity: 1 } });
    expectError(await node.request('PATCH', linesPath(cartId, 'A'), { token, body: {} }), 400, 'E_VALIDATION');
    expectError(await node.request('PATCH', linesPath(cartId, 'A'), { token, body: { quantity: -1 } }), 400, 'E_VALIDATION');
    expectError(await node.request('PUT', `/v1/carts/${cartId}/coupons`, { token, body: { codes: 'SAVE10' } }), 400, 'E_VALIDATION');
    expectError(await node.request('PUT', `/v1/carts/${cartId}/coupons`, { token, body: { codes: ['no spaces'] } }), 400, 'E_VALIDATION');
    const after = await getCart(node, cartId, token);
    expect(after.version).toBe(version + 1);
    expect(after.lines.map((l) => [l.lineId, l.quantity])).toEqual([['A', 1]]);

    expectError(await node.request('GET', '/v1/carts/bad!id', { token }), 400, 'E_CART_ID_INVALID');
    expectError(await node.request('GET', '/v1/carts/short', { token }), 400, 'E_CART_ID_INVALID');
    expectError(await node.request('POST', '/v1/carts/bad!id/lines', { token, body: { sku: 'A', quantity: 1 } }), 400, 'E_CART_ID_INVALID');
    // A path the router cannot percent-decode is the client's fault (400), not an internal error.
    expectError(await node.request('GET', '/v1/carts/%E0%A4%A', { token }), 400, 'E_MESSAGE_MALFORMED');
    expectError(await node.request('PATCH', `${linesPath(cartId)}/%E0%A4%A`, { token, body: { quantity: 2 } }), 400, 'E_MESSAGE_MALFORMED');
    expect(node.node.metrics.value('livecart_rejected_total', { code: 'E_INTERNAL', transport: 'rest' })).toBe(0);
  });

  it('answers 413 E_BODY_TOO_LARGE above maxJsonBytes', async () => {
    const small = await startNode({ maxJsonBytes: 1024 });
    try {
      const { cartId, token } = await small.createCart();
      const res = await small.request('POST', linesPath(cartId), { token, body: { sku: 'A', quantity: 1, note: 'x'.repeat(2000) } });
      expectError(res, 413, 'E_BODY_TOO_LARGE');
      expect((await getCart(small, cartId, token)).lines).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it('refuses a line beyond maxLines with E_UPDATE_TOO_MANY_LINES', async () => {
    const limits: CartLimits = { ...DEFAULT_LIMITS, maxLines: 2 };
    const small = await startNode({ limits });
    try {
      const { cartId, token } = await small.createCart();
      for (const sku of ['A1', 'A2']) expect((await small.request('POST', linesPath(cartId), { token, body: { sku, quantity: 1 } })).status).toBe(201);
      const { version } = await getCart(small, cartId, token);
      expectError(await small.request('POST', linesPath(cartId), { token, body: { sku: 'A3', quantity: 1 } }), 422, 'E_UPDATE_TOO_MANY_LINES');
      // Adding to a line already in the cart is still fine.
      expect((await small.request('POST', linesPath(cartId), { token, body: { sku: 'A1', quantity: 1 } })).body).toMatchObject({ lineId: 'A1', quantity: 2, version: version + 1 });
      expect((await getCart(small, cartId, token)).lines.map((l) => l.lineId).sort()).toEqual(['A1', 'A2']);
    } finally {
      await small.close();
    }
  });

  it('answers 401/403 without a valid grant', async () => {
    const { cartId } = await node.createCart();
    expectError(await node.request('GET', `/v1/carts/${cartId}`), 401, 'E_AUTH_MISSING');
    expectError(await node.request('GET', `/v1/carts/${cartId}`, { token: 'not-a-jwt' }), 401, 'E_AUTH_INVALID');
    const other = await node.createCart();
    expectError(await node.request('GET', `/v1/carts/${cartId}`, { token: other.token }), 403, 'E_AUTH_FORBIDDEN');
  });
});

describe('Idempotency-Key', () => {
  const add = (n: TestNode, cartId: string, token: string, key: string, body: unknown = { sku: 'PEN-1', quantity: 1 }) =>
    n.request('POST', linesPath(cartId), { token, body, headers: { 'idempotency-key': key } });

  it('replays the same request once without changing the cart again', async () => {
    const { cartId, token } = await node.createCart();
    const first = await add(node, cartId, token, 'k-1');
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const second = await add(node, cartId, token, 'k-1');
    expect(second.status).toBe(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const cart = await getCart(node, cartId, token);
    expect(cart.version).toBe(first.body.version);
    expect(cart.lines.map((l) => [l.lineId, l.quantity])).toEqual([['PEN-1', 1]]);

    // A 204 replays as a 204.
    const del1 = await node.request('DELETE', linesPath(cartId, 'PEN-1'), { token, headers: { 'idempotency-key': 'k-del' } });
    const del2 = await node.request('DELETE', linesPath(cartId, 'PEN-1'), { token, headers: { 'idempotency-key': 'k-del' } });
    expect([del1.status, del2.status]).toEqual([204, 204]);
    expect(del2.headers.get('idempotent-replayed')).toBe('true');
    expect((await getCart(node, cartId, token)).version).toBe(first.body.version + 1);
  });

  it('replays a cart creation: the same cart, with a token for it minted again (none is stored)', async () => {
    const owner = await node.token([], { subject: 'creator-1' });
    const create = () => node.request('POST', '/v1/carts', { token: owner, headers: { 'idempotency-key': 'create-1' } });
    const first = await create();
    const second = await create();
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.cartId).toBe(first.body.cartId);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect((await node.request('GET', `/v1/carts/${first.body.cartId}`, { token: second.body.token })).status).toBe(200);
  });

  it('answers 422 E_IDEMPOTENCY_MISMATCH for the same key with another body', async () => {
    const { cartId, token } = await node.createCart();
    expect((await add(node, cartId, token, 'k-2')).status).toBe(201);
    expectError(await add(node, cartId, token, 'k-2', { sku: 'PEN-1', quantity: 5 }), 422, 'E_IDEMPOTENCY_MISMATCH');
    expect((await getCart(node, cartId, token)).lines.map((l) => l.quantity)).toEqual([1]);
  });

  it('applies different keys as different changes', async () => {
    const { cartId, token } = await node.createCart();
    const a = await add(node, cartId, token, 'k-a');
    const b = await add(node, cartId, token, 'k-b');
    expect(b.body.version).toBe(a.body.version + 1);
    expect((await getCart(node, cartId, token)).lines.map((l) => l.quantity)).toEqual([2]);
  });

  it('keeps keys of different carts and different subjects apart', async () => {
    const one = await node.createCart();
    const two = await node.createCart();
    expect((await add(node, one.cartId, one.token, 'shared')).status).toBe(201);
    const onTwo = await add(node, two.cartId, two.token, 'shared');
    expect(onTwo.status).toBe(201);
    expect(onTwo.headers.get('idempotent-replayed')).toBeNull();
    const otherSubject = await node.token([one.cartId], { subject: 'someone-else' });
    const bySomeoneElse = await add(node, one.cartId, otherSubject, 'shared');
    expect(bySomeoneElse.status).toBe(201);
    expect(bySomeoneElse.headers.get('idempotent-replayed')).toBeNull();
    expect((await getCart(node, one.cartId, one.token)).lines.map((l) => l.quantity)).toEqual([2]);
    expect((await getCart(node, two.cartId, two.token)).lines.map((l) => l.quantity)).toEqual([1]);
  });

  it('rejects a key longer than 255 characters', async () => {
    const { cartId, token } = await node.createCart();
    expect((await add(node, cartId, token, 'k'.repeat(255))).status).toBe(201);
    expectError(await add(node, cartId, token, 'k'.repeat(256)), 400, 'E_IDEMPOTENCY_KEY_INVALID');
    expect((await getCart(node, cartId, token)).lines.map((l) => l.quantity)).toEqual([1]);
  });

  it('keeps the stored key for at least 24 hours', async () => {
    const { cartId, token } = await node.createCart();
    expect((await add(node, cartId, token, 'k-ttl')).status).toBe(201);
    const keys = await node.redis.keys(`${node.config.keyPrefix}:{${cartId}}:idem:*`);
    expect(keys).toHaveLength(1);
    expect(await node.redis.ttl(keys[0]!)).toBeGreaterThanOrEqual(24 * 3600);
  });

  it('lets exactly one of two concurrent requests with the same key change the cart', async () => {
    const { cartId, token } = await node.createCart();
    const { version } = await getCart(node, cartId, token);
    const [a, b] = await Promise.all([add(node, cartId, token, 'k-race'), add(node, cartId, token, 'k-race')]);
    const results = [a, b].map((r) => (r.status === 201 ? (r.headers.get('idempotent-replayed') === 'true' ? 'replay' : 'applied') : r.body.error.code));
    expect(results.filter((r) => r === 'applied')).toHaveLength(1);
    expect(results.filter((r) => r !== 'applied')[0]).toMatch(/^(replay|E_IDEMPOTENCY_IN_PROGRESS)$/);
    for (const r of [a, b]) if (r.status !== 201) expectError(r, 409, 'E_IDEMPOTENCY_IN_PROGRESS');
    const cart = await getCart(node, cartId, token);
    expect(cart.version).toBe(version + 1);
    expect(cart.lines.map((l) => l.quantity)).toEqual([1]);
  });
});

describe('health, catalog, metrics, admin', () => {
  it('GET /healthz and /readyz', async () => {
    const health = await node.request('GET', '/healthz');
    expect(health).toMatchObject({ status: 200, body: { ok: true } });
    const ready = await node.request('GET', '/readyz');
    expect(ready).toMatchObject({ status: 200, body: { ready: true, redis: 'ok' } });
  });

  it('GET /v1/catalog/products lists the seeded catalog', async () => {
    const seed = loadSeed();
    await node.node.catalog.seedIfEmpty(seed);
    const res = await node.request('GET', '/v1/catalog/products');
    expect(res.status).toBe(200);
    expect(res.body.products).toHaveLength(seed.length);
    expect(res.body.products.map((p: { sku: string }) => p.sku)).toEqual(seed.map((p) => p.sku).sort());
    expect(res.body.products[0]).toMatchObject({ sku: expect.any(String), name: expect.any(String), price: { amount: expect.any(Number), currency: 'USD' }, prices: { USD: expect.any(Number) } });
  });

  it('GET /metrics exposes livecart_changes_total', async () => {
    const { cartId, token } = await node.createCart();
    await node.request('POST', linesPath(cartId), { token, body: { sku: 'A', quantity: 1 } });
    const res = await fetch(`${node.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toContain('# TYPE livecart_changes_total counter');
    expect(text).toMatch(/^livecart_changes_total\{origin="rest"\} [1-9]\d*$/m);
  });

  it('POST /v1/auth/tokens mints a working token with the admin token only', async () => {
    const { cartId } = await node.createCart();
    const body = { subject: 'associate-7', role: 'associate', carts: [cartId] };
    expectError(await node.request('POST', '/v1/auth/tokens', { body }), 401, 'E_AUTH_MISSING');
    expectError(await node.request('POST', '/v1/auth/tokens', { token: 'x'.repeat(TEST_ADMIN_TOKEN.length), body }), 401, 'E_AUTH_INVALID');
    expectError(await node.request('POST', '/v1/auth/tokens', { token: TEST_ADMIN_TOKEN, body: { ...body, role: 'root' } }), 400, 'E_VALIDATION');
    const minted = await node.request('POST', '/v1/auth/tokens', { token: TEST_ADMIN_TOKEN, body });
    expect(minted.status).toBe(201);
    expect(Date.parse(minted.body.expiresAt)).toBeGreaterThan(Date.now());
    const token = minted.body.token as string;
    const added = await node.request('POST', linesPath(cartId), { token, body: { sku: 'DESK-1', quantity: 1 } });
    expect(added.status).toBe(201);
    expect(added.body.addedBy).toEqual({ id: 'associate-7', role: 'associate' });
    expect((await node.request('GET', `/v1/carts/${cartId}`, { token })).status).toBe(200);
  });
});
