/**
 * The three REST floods of the abuse report, against a private node and a private redis-server on
 * loopback (nothing else is touched), with the node's default limits:
 *
 *   npx tsx scripts/rest-floods.ts [--concurrency 32]
 *
 * 1. 5,000 anonymous `POST /v1/carts` from one IP;
 * 2. 10,000 `POST /v1/carts/:id/lines` with distinct Idempotency-Keys on one cart;
 * 3. 3,000 admin calls with a wrong token.
 *
 * Prints per flood: answers by status, requests per second, Redis memory growth and revalidation
 * jobs queued (no workers run, so every enqueued job stays countable). Bounded: 18,000 requests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { DEFAULT_CONFIG, type Config } from '../core/config.ts';
import { startRedisServer } from '../core/embedded-redis.ts';
import { createLogger } from '../core/log.ts';
import { REVALIDATE_QUEUE, bullPrefix } from '../core/queues.ts';
import { createCartServer } from '../server/app.ts';

const JWT_SECRET = 'rest-floods-secret-0123456789-abcdefghijkl';
const ADMIN_TOKEN = 'rest-floods-admin-token-0123';

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1 || value > 256) throw new Error(`--${name} must be an integer 1..256`);
  return value;
}

async function flood(n: number, concurrency: number, send: (i: number) => Promise<number>): Promise<{ statuses: Map<number, number>; perSecond: number }> {
  const statuses = new Map<number, number>();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const status = await send(i).catch(() => 0);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    }),
  );
  return { statuses, perSecond: Math.round(n / ((performance.now() - started) / 1000)) };
}

async function main(): Promise<void> {
  const concurrency = flag('concurrency', 32);
  const dir = mkdtempSync(join(tmpdir(), 'livecart-floods-'));
  const redisServer = await startRedisServer(dir);
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: 2 });
  const config: Config = { ...DEFAULT_CONFIG, port: 0, host: '127.0.0.1', keyPrefix: 'floods', jwtSecret: JWT_SECRET, adminToken: ADMIN_TOKEN, socketAdapter: 'local', logLevel: 'silent' };
  const node = createCartServer({ config, redis, jwtSecret: JWT_SECRET, log: createLogger('silent') });
  const base = `http://127.0.0.1:${await node.listen()}`;
  const queue = new Queue(REVALIDATE_QUEUE, { connection: redis, prefix: bullPrefix(config.keyPrefix, REVALIDATE_QUEUE) });
  const usedMemory = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? 0);
  const jobs = async (): Promise<number> => Object.values(await queue.getJobCounts()).reduce((a, b) => a + b, 0);
  const report = async (name: string, run: () => Promise<{ statuses: Map<number, number>; perSecond: number }>): Promise<void> => {
    // Each flood starts with fresh limit counters (one attacker, one flood at a time).
    const counters = await redis.keys(`${config.keyPrefix}:rl:*`);
    if (counters.length > 0) await redis.del(...counters);
    const [mem0, jobs0] = [await usedMemory(), await jobs()];
    const { statuses, perSecond } = await run();
    const answers = [...statuses].sort(([a], [b]) => a - b).map(([s, c]) => `${s}: ${c}`).join(', ');
    console.log(`${name}: ${answers}; ${perSecond}/s; Redis +${((await usedMemory()) - mem0) / 1e6} MB; revalidation jobs +${(await jobs()) - jobs0}`);
  };
  try {
    // The cart for flood 2, made first so flood 1's refusals do not stop it.
    const created = await fetch(`${base}/v1/carts`, { method: 'POST' });
    const { cartId, token } = (await created.json()) as { cartId: string | null; token: string };
    await report('5,000 anonymous POST /v1/carts', () => flood(5000, concurrency, async () => (await fetch(`${base}/v1/carts`, { method: 'POST' })).status));
    if (!cartId) console.log(`10,000 Idempotency-Keys on one cart: no cart to flood (POST /v1/carts answered ${created.status})`);
    else {
      await report('10,000 Idempotency-Keys on one cart', () =>
        flood(10_000, concurrency, async (i) => {
          const res = await fetch(`${base}/v1/carts/${cartId}/lines`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': `flood-${i}` },
            body: JSON.stringify({ sku: 'SHOE-RUN-01', quantity: 1 }),
          });
          await res.arrayBuffer();
          return res.status;
        }),
      );
    }
    await report('3,000 wrong admin tokens', () =>
      flood(3000, concurrency, async () => {
        const res = await fetch(`${base}/v1/pricing/rules`, { headers: { authorization: `Bearer ${'x'.repeat(ADMIN_TOKEN.length)}` } });
        await res.arrayBuffer();
        return res.status;
      }),
    );
  } finally {
    await queue.close();
    await node.close();
    redis.disconnect();
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
