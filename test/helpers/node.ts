/**
 * A real livecart node in the test process: real HTTP server on 127.0.0.1:0, real Redis (the run's
 * private redis-server), a unique key prefix per node so tests never see each other's keys.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { type CartServerNode, type CartServerOptions, createCartServer } from '../../server/app.ts';
import { type Config, DEFAULT_CONFIG } from '../../core/config.ts';
import { createLogger } from '../../core/log.ts';
import { type RedisClient, type RedisTarget, connectRedis } from '../../core/redis/connect.ts';
import type { Role } from '../../protocol/index.ts';

export const TEST_JWT_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestNode {
  url: string;
  port: number;
  node: CartServerNode;
  redis: RedisClient;
  config: Config;
  /** Mint a token for `carts` (defaults: customer role, a random subject). */
  token(carts: string[], opts?: { role?: Role; subject?: string; ttlSeconds?: number }): Promise<string>;
  /** POST /v1/carts: a new cart and its customer token. */
  createCart(): Promise<{ cartId: string; token: string }>;
  /** fetch() against this node with JSON in and out. */
  request(method: string, path: string, opts?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export function uniquePrefix(): string {
  return `t${randomBytes(6).toString('hex')}`;
}

/** Server options beyond the configuration (e.g. a recording catalog change sink). */
export type ExtraServerOptions = Partial<Omit<CartServerOptions, 'config' | 'redis' | 'jwtSecret' | 'log'>>;

/** `redis`: the run's redis-server by default; a URL, or a Redis Cluster (test/helpers/redis-cluster.ts). */
export async function startNode(overrides: Partial<Config> = {}, where: string | RedisTarget = inject('redisUrl'), extra: ExtraServerOptions = {}): Promise<TestNode> {
  const config: Config = {
    ...DEFAULT_CONFIG,
    port: 0,
    host: '127.0.0.1',
    keyPrefix: uniquePrefix(),
    jwtSecret: TEST_JWT_SECRET,
    adminToken: TEST_ADMIN_TOKEN,
    idleUnloadMs: 500,
    logLevel: 'error',
    ...overrides,
  };
  const redis = connectRedis(typeof where === 'string' ? { url: where } : where, 'commands');
  // Fault tests stop Redis on purpose; the node reports that through its own paths (acks, readyz).
  redis.on('error', () => undefined);
  const node = createCartServer({ ...extra, config, redis, jwtSecret: TEST_JWT_SECRET, log: createLogger(config.logLevel) });
  const port = await node.listen();
  const url = `http://127.0.0.1:${port}`;
  const request: TestNode['request'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    }
    const res = await fetch(url + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
  return {
    url,
    port,
    node,
    redis,
    config,
    async token(carts, opts = {}) {
      const minted = await node.auth.mint({ subject: opts.subject ?? `user-${randomBytes(4).toString('hex')}`, role: opts.role ?? 'customer', carts, ttlSeconds: opts.ttlSeconds ?? 3600 });
      return minted.token;
    },
    async createCart() {
      const res = await request('POST', '/v1/carts');
      if (res.status !== 201) throw new Error(`create cart failed: ${res.status} ${JSON.stringify(res.body)}`);
      return { cartId: res.body.cartId as string, token: res.body.token as string };
    },
    request,
    async close() {
      await node.close();
      redis.disconnect();
    },
  };
}
