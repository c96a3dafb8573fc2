/**
 * The REST attacks of the abuse run (issue 12's findings 4, 6, 7, 9 and 11 over HTTP), each from
 * its own loopback address(es), bounded in count and by the shared deadline.
 */
import { randomBytes } from 'node:crypto';
import { type HttpResult, Tally, attackerAddress, flood, http, outcome } from './net.ts';
import { ownCart } from './attacks-socket.ts';
import { HOSTILE_TEXTS } from './payloads.ts';
import type { Attack, AttackEnv } from './types.ts';

type CartRef = { cartId: string; token: string };

async function tallied(tally: Tally, url: string, o: Parameters<typeof http>[1], onResult?: (r: HttpResult) => void): Promise<void> {
  try {
    const r = await http(url, o);
    tally.add(outcome(r));
    if (r.status === 429) tally.add(r.headers['retry-after'] !== undefined ? '  (429 with Retry-After)' : '  (429 without Retry-After)');
    onResult?.(r);
  } catch (err) {
    tally.add(outcome(err as Error));
  }
}

/** 4: anonymous POST /v1/carts with one shared Idempotency-Key from different callers. */
export function sharedIdempotencyKey(opts: { callers: number }, leaked: { tokens: string[] }): Attack {
  const tally = new Tally();
  const notes: string[] = [];
  return {
    id: 4,
    name: 'shared Idempotency-Key on anonymous POST /v1/carts',
    tally,
    notes,
    async run(env) {
      const seen = new Map<string, number>();
      const key = `checkout-${randomBytes(3).toString('hex')}`;
      for (let k = 0; k < opts.callers && Date.now() < env.deadline; k++) {
        await tallied(tally, `${env.urls[k % 2]}/v1/carts`, { method: 'POST', from: attackerAddress(4, k), headers: { 'idempotency-key': key } }, (r) => {
          const body = r.json as { cartId?: string; token?: string } | null;
          if (r.status === 201 && body?.token) {
            leaked.tokens.push(body.token);
            seen.set(body.token, (seen.get(body.token) ?? 0) + 1);
          }
        });
      }
      const replays = [...seen.values()].reduce((n, v) => n + (v - 1), 0);
      tally.add('callers handed another caller\'s token', replays);
      notes.push(`${opts.callers} callers, key ${key}: ${seen.size} distinct tokens received`);
    },
  };
}

/** 6a: anonymous POST /v1/carts at a high rate from one address. */
export function anonymousCartFlood(opts: { count: number; concurrency: number }): Attack {
  const tally = new Tally();
  const notes: string[] = [];
  return {
    id: 6,
    name: 'REST: anonymous POST /v1/carts flood',
    tally,
    notes,
    async run(env) {
      const t0 = Date.now();
      const n = await flood(opts.count, opts.concurrency, env.deadline, (i) => tallied(tally, `${env.urls[i % 2]}/v1/carts`, { method: 'POST', from: attackerAddress(6) }));
      notes.push(`${n} requests in ${((Date.now() - t0) / 1000).toFixed(1)} s (${(n / Math.max(0.001, (Date.now() - t0) / 1000)).toFixed(0)}/s)`);
    },
  };
}

/** 6b: many distinct idempotency keys on one cart. */
export function idempotencyKeyFlood(opts: { count: number; concurrency: number }): Attack {
  const tally = new Tally();
  const notes: string[] = [];
  let cart: CartRef | null = null;
  return {
    id: 6,
    name: 'REST: many idempotency keys on one cart',
    tally,
    notes,
    async prepare(env) {
      cart = await ownCart(env, 0, attackerAddress(7));
    },
    async run(env) {
      if (!cart) return;
      const c = cart;
      const n = await flood(opts.count, opts.concurrency, env.deadline, (i) =>
        tallied(tally, `${env.urls[i % 2]}/v1/carts/${c.cartId}/lines`, {
          method: 'POST',
          from: attackerAddress(7),
          headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json', 'idempotency-key': `k-${i}-${randomBytes(8).toString('hex')}` },
          body: JSON.stringify({ sku: 'BENCH-C', quantity: 1 }),
        }),
      );
      notes.push(`${n} requests on cart ${c.cartId}`);
    },
  };
}

/** 6c: guessing the admin token (POST /v1/auth/tokens mints tokens for any cart). */
export function adminTokenGuesses(opts: { count: number; concurrency: number }): Attack {
  const tally = new Tally();
  const notes: string[] = [];
  return {
    id: 6,
    name: 'REST: wrong admin tokens',
    tally,
    notes,
    async run(env) {
      const t0 = Date.now();
      const n = await flood(opts.count, opts.concurrency, env.deadline, (i) =>
        tallied(tally, `${env.urls[i % 2]}/v1/auth/tokens`, {
          method: 'POST',
          from: attackerAddress(8),
          headers: { authorization: `Bearer ${randomBytes(24).toString('base64url')}`, 'content-type': 'application/json' },
          body: JSON.stringify({ subject: 'x', role: 'customer', carts: [] }),
        }),
      );
      notes.push(`${n} guesses answered in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    },
  };
}

/** 7: lines with unknown SKUs (each may leave an SKU index key behind). */
export function unknownSkus(opts: { count: number }): Attack {
  const tally = new Tally();
  const notes: string[] = [];
  const carts: CartRef[] = [];
  return {
    id: 7,
    name: 'unknown SKUs',
    tally,
    notes,
    async prepare(env) {
      for (let i = 0; i * 90 < opts.count; i++) carts.push(await ownCart(env, i % 2, attackerAddress(9)));
    },
    async run(env) {
      const tag = randomBytes(3).toString('hex').toUpperCase();
      await flood(opts.count, 4, env.deadline, (i) => {
        const c = carts[Math.floor(i / 90)]!;
        return tallied(tally, `${env.urls[i % 2]}/v1/carts/${c.cartId}/lines`, {
          method: 'POST',
          from: attackerAddress(9),
          headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ sku: `JUNK-${tag}-${i}`, quantity: 1 }),
        });
      });
      notes.push(`SKUs JUNK-${tag}-* on ${carts.length} carts`);
    },
  };
}

/** 9: a gzip Content-Encoding header on a plain body. */
export function badContentEncoding(opts: { count: number }): Attack {
  const tally = new Tally();
  const notes: string[] = [];
  let cart: CartRef | null = null;
  return {
    id: 9,
    name: 'bad Content-Encoding',
    tally,
    notes,
    async prepare(env) {
      cart = await ownCart(env, 1, attackerAddress(10));
    },
    async run(env) {
      if (!cart) return;
      const c = cart;
      let retryable = 0;
      await flood(opts.count, 2, env.deadline, (i) =>
        tallied(tally, `${env.urls[i % 2]}/v1/carts/${c.cartId}/lines`, {
          method: 'POST',
          from: attackerAddress(10),
          headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
          body: JSON.stringify({ sku: 'BENCH-D', quantity: 1 }),
        }, (r) => {
          if ((r.json as { error?: { retryable?: boolean } } | null)?.error?.retryable === true) retryable += 1;
        }),
      );
      tally.add('answers marked retryable', retryable);
    },
  };
}

/** 11 (REST half): hostile text in notes and option values. */
export function hostileTextRest(): Attack {
  const tally = new Tally();
  const notes: string[] = [];
  let cart: CartRef | null = null;
  return {
    id: 11,
    name: 'hostile text in notes and options (REST)',
    tally,
    notes,
    async prepare(env: AttackEnv) {
      cart = await ownCart(env, 0, attackerAddress(11, 1));
    },
    async run(env) {
      if (!cart) return;
      for (const [i, [label, text]] of HOSTILE_TEXTS.entries()) {
        for (const where of ['note', 'option'] as const) {
          const body = where === 'note' ? { sku: 'BENCH-E', quantity: 1, options: { v: `n${i}` }, note: text } : { sku: 'BENCH-E', quantity: 1, options: { v: text } };
          try {
            const r = await http(`${env.urls[0]}/v1/carts/${cart.cartId}/lines`, { method: 'POST', from: attackerAddress(11, 1), headers: { authorization: `Bearer ${cart.token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
            tally.add(`${label} in ${where}: ${outcome(r)}`);
          } catch (err) {
            tally.add(`${label} in ${where}: ${outcome(err as Error)}`);
          }
        }
      }
    },
  };
}
