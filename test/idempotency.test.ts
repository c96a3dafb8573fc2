/**
 * Idempotency-Key records: stored with the change they answer (hole 4), scoped by caller with no
 * credential stored or replayed to another caller, and bounded in number per scope (finding 4).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_CONFIG } from '../core/config.ts';
import { addLine, readCart } from '../protocol/index.ts';
import { Idempotency } from '../server/rest/idempotency.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { waitFor } from './helpers/wait.ts';

let node: TestNode;
beforeAll(async () => {
  // A small cap, and REST rates out of the way: the bound is what is measured here.
  node = await startNode({ maxIdempotencyKeys: 100, abuse: { ...DEFAULT_CONFIG.abuse, restPerIp: 1_000_000, restPerSubject: 1_000_000 } });
});
afterAll(async () => {
  await node.close();
});

/** Every key of the node's prefix, with its value when it is a string. */
async function stringValues(): Promise<string[]> {
  const keys = await node.redis.keys(`${node.config.keyPrefix}:*`);
  const values: string[] = [];
  for (const key of keys) if ((await node.redis.type(key)) === 'string') values.push((await node.redis.get(key)) ?? '');
  return values;
}

/** Bytes Redis uses for the idempotency records of `scope` (MEMORY USAGE of each key). */
async function idempotencyBytes(scope: string): Promise<{ keys: number; bytes: number }> {
  const keys = await node.redis.keys(`${node.config.keyPrefix}:{${scope}}:idem*`);
  let bytes = 0;
  for (const key of keys) bytes += Number(await node.redis.memory('USAGE', key));
  return { keys: keys.length, bytes };
}

describe('idempotency', () => {
  it('hole 4: an add whose outcome could not be stored after its append is not applied again by a retry', async () => {
    const { cartId, token } = await node.createCart();
    const subject = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub as string;
    const actor = { id: subject, role: 'customer' as const };
    const cart = await node.node.registry.acquire(cartId);
    const request = { route: 'add', body: { sku: 'SHOE-RUN-01', quantity: 2 } };
    // What the REST add does: the change, its answer, and the claim's record handed to the append.
    const addTwo = (claim: Parameters<Parameters<Idempotency['run']>[3]>[0]) =>
      cart.applyServerChange(
        (doc) => addLine(doc, { sku: 'SHOE-RUN-01', quantity: 2 }, actor),
        { kind: 'rest', requestId: randomUUID() },
        claim ? (doc, _lineId, version) => claim.record({ status: 201, body: { quantity: readCart(doc).lines[0]?.quantity, version } }) : undefined,
      );
    try {
      // The first attempt's Redis connection dies right after the append: the outcome cannot be stored.
      const dying = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 0, enableOfflineQueue: false });
      dying.on('error', () => undefined);
      await new Promise((resolve) => dying.once('ready', resolve));
      const first = new Idempotency(dying, node.config.keyPrefix, node.config.idempotencyTtlSeconds, node.config.maxIdempotencyKeys);
      const attempt = first.run('add-1', { scope: cartId, subject }, request, async (claim) => {
        const { version, recorded } = await addTwo(claim);
        if (claim && recorded) claim.stored = true;
        dying.disconnect();
        return { status: 201, body: { version } };
      });
      await attempt.catch(() => undefined);
      expect(readCart(cart.doc).lines.map((l) => l.quantity)).toEqual([2]);
      // The pending marker of a request whose process gave up expires (60 s); let it expire now.
      for (const key of await node.redis.keys(`${node.config.keyPrefix}:*:idem:*`)) {
        const ttl = await node.redis.pttl(key);
        if (ttl > 0 && ttl <= 60_000) await node.redis.pexpire(key, 1);
      }
      await waitFor(async () => {
        for (const key of await node.redis.keys(`${node.config.keyPrefix}:*:idem:*`)) expect(await node.redis.pttl(key)).toBeGreaterThan(60_000);
      });

      const retry = new Idempotency(node.redis, node.config.keyPrefix, node.config.idempotencyTtlSeconds, node.config.maxIdempotencyKeys);
      let ranAgain = false;
      const again = await retry.run('add-1', { scope: cartId, subject }, request, async (claim) => {
        ranAgain = true;
        const { version } = await addTwo(claim);
        return { status: 201, body: { version } };
      });
      expect(ranAgain).toBe(false);
      expect(again.replayed).toBe(true);
      expect(again.body).toEqual({ quantity: 2, version: 2 });
      expect(readCart(cart.doc).lines.map((l) => l.quantity)).toEqual([2]);
    } finally {
      node.node.registry.release(cart);
    }
  });

  it('finding 4: two anonymous callers with one Idempotency-Key get their own carts, and no token is kept in Redis', async () => {
    const create = () => node.request('POST', '/v1/carts', { headers: { 'idempotency-key': 'checkout-1' } });
    const first = await create();
    const second = await create();
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.body.cartId).not.toBe(first.body.cartId);
    expect(second.body.token).not.toBe(first.body.token);
    expect(second.headers.get('idempotent-replayed')).toBeNull();
    // The second token does not open the first cart.
    expect((await node.request('GET', `/v1/carts/${first.body.cartId}`, { token: second.body.token })).status).toBe(403);

    // A signed-in caller's creation is replayed to it alone, from a record holding no token.
    const owner = await node.token([], { subject: 'pos-7' });
    const stranger = await node.token([], { subject: 'pos-8' });
    const mine = await node.request('POST', '/v1/carts', { token: owner, headers: { 'idempotency-key': 'checkout-1' } });
    const replay = await node.request('POST', '/v1/carts', { token: owner, headers: { 'idempotency-key': 'checkout-1' } });
    const theirs = await node.request('POST', '/v1/carts', { token: stranger, headers: { 'idempotency-key': 'checkout-1' } });
    expect(replay.body.cartId).toBe(mine.body.cartId);
    expect(theirs.body.cartId).not.toBe(mine.body.cartId);
    const tokens = [first, second, mine, replay, theirs].map((r) => r.body.token as string);
    for (const value of await stringValues()) for (const t of tokens) expect(value.includes(t)).toBe(false);
  });

  it('finding 4: ten times LIVECART_MAX_IDEMPOTENCY_KEYS Idempotency-Keys on one cart keep at most LIVECART_MAX_IDEMPOTENCY_KEYS records', async () => {
    const { cartId, token } = await node.createCart();
    expect((await node.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: 'SHOE-RUN-01', quantity: 1 } })).status).toBe(201);
    const total = node.config.maxIdempotencyKeys * 10;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        const i = next++;
        const res = await node.request('PATCH', `/v1/carts/${cartId}/lines/SHOE-RUN-01`, { token, body: { note: 'n' }, headers: { 'idempotency-key': `key-${i}` } });
        expect(res.status).toBe(200);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const stored = await idempotencyBytes(cartId);
    console.info(`finding 4: ${total} Idempotency-Keys on one cart: ${stored.keys} keys, ${stored.bytes} bytes in Redis`);
    // The records plus the scope's index.
    expect(stored.keys).toBeLessThanOrEqual(node.config.maxIdempotencyKeys + 1);
    // The newest key still replays.
    const replay = await node.request('PATCH', `/v1/carts/${cartId}/lines/SHOE-RUN-01`, { token, body: { note: 'n' }, headers: { 'idempotency-key': `key-${total - 1}` } });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
  }, 120_000);
});
