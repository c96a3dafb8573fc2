/**
 * A Redis outage longer than ioredis's retry budget: the node process stays up, /readyz says not
 * ready, edits get a typed retryable error (the device keeps them), and everything resumes by itself
 * when Redis returns. Nothing from ioredis, BullMQ or the Socket.IO adapter ends the process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CartHandle, LiveCartConnection } from '../client/index.ts';
import { type EmbeddedRedis, startRedisServer } from '../core/embedded-redis.ts';
import { uniquePrefix } from './helpers/node.ts';
import { type ProcessNode, startProcessNode } from './helpers/process-node.ts';
import { waitFor } from './helpers/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'lc-outage-'));
let redis: EmbeddedRedis | null = null;
let node: ProcessNode | null = null;
let conn: LiveCartConnection | null = null;

afterAll(async () => {
  await conn?.close();
  await node?.kill('SIGKILL');
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const lines = (h: CartHandle) => h.view.lines.map((l) => l.sku).sort();

describe('Redis outage', () => {
  it('the node stays up and not ready, edits wait on the device, and all resumes when Redis returns', async () => {
    redis = await startRedisServer(dir, { appendonly: true });
    node = await startProcessNode({ REDIS_URL: redis.url, LIVECART_KEY_PREFIX: uniquePrefix(), LIVECART_LOG_LEVEL: 'warn' }, 'all');
    const created = (await (await fetch(`${node.url}/v1/carts`, { method: 'POST' })).json()) as { cartId: string; token: string };
    conn = new LiveCartConnection({ url: node.url, token: created.token, retryMinMs: 50, retryMaxMs: 500, ackTimeoutMs: 2000 });
    const cart = await conn.open(created.cartId);
    cart.add({ sku: 'SHOE-RUN-01', quantity: 1 });
    await cart.whenSaved();

    const port = redis.port;
    await redis.stop();
    redis = null;
    await waitFor(async () => expect((await fetch(`${node!.url}/readyz`)).status).toBe(503), { timeoutMs: 10_000 });
    const states: string[] = [];
    cart.on('status', (s) => states.push(s.saveState));
    cart.add({ sku: 'BELT-LTH-01', quantity: 1 });
    await waitFor(() => expect(states).toContain('unsaved'), { timeoutMs: 10_000 });
    // Outlast ioredis' per-command retries and several reconnect attempts (the duration is the point).
    await new Promise((r) => setTimeout(r, 6000));
    expect(node.child.exitCode).toBeNull();
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200);
    // Still not saved (retrying: 'saving' and 'unsaved' alternate).
    expect(cart.saveState).not.toBe('saved');

    redis = await startRedisServer(dir, { appendonly: true, port });
    await waitFor(async () => expect((await fetch(`${node!.url}/readyz`)).status).toBe(200), { timeoutMs: 20_000 });
    await waitFor(() => expect(cart.saveState).toBe('saved'), { timeoutMs: 20_000 });
    const res = await fetch(`${node.url}/v1/carts/${created.cartId}`, { headers: { authorization: `Bearer ${created.token}` } });
    expect(((await res.json()) as { lines: Array<{ sku: string }> }).lines.map((l) => l.sku).sort()).toEqual(['BELT-LTH-01', 'SHOE-RUN-01']);
    expect(lines(cart)).toEqual(['BELT-LTH-01', 'SHOE-RUN-01']);
    expect(node.output()).not.toContain('unhandled rejection');
    expect(node.output()).not.toMatch(/Unhandled error event/);
    expect(node.child.exitCode).toBeNull();
  }, 90_000);
});
