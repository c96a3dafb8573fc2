/**
 * The embedded default: with no configuration, the server starts its own redis-server (AOF on,
 * noeviction) under the data directory, seeds the demo catalog, prints how to get a token, and
 * takes the redis-server down with it.
 */
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { type ProcessNode, startProcessNode } from './helpers/process-node.ts';
import { waitFor } from './helpers/wait.ts';

const nodes: ProcessNode[] = [];
afterAll(async () => {
  for (const n of nodes) await n.kill('SIGKILL');
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm start with no configuration', () => {
  it('runs a private redis-server, seeds the catalog, serves carts, and stops redis on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lc-embedded-'));
    const node = await startProcessNode({ LIVECART_DATA_DIR: dataDir, LIVECART_JWT_SECRET: '', LIVECART_SEED_CATALOG: 'true', LIVECART_LOG_LEVEL: 'info' }, 'all');
    nodes.push(node);
    expect(node.output()).toContain(`curl -s -X POST ${node.url.replace('127.0.0.1', 'localhost')}/v1/carts`);

    const products = (await (await fetch(`${node.url}/v1/catalog/products`)).json()) as { products: Array<{ sku: string; price: { amount: number } }> };
    expect(products.products.length).toBeGreaterThanOrEqual(24);
    expect(Number.isInteger(products.products[0]!.price.amount)).toBe(true);

    const created = (await (await fetch(`${node.url}/v1/carts`, { method: 'POST' })).json()) as { cartId: string; token: string };
    const res = await fetch(`${node.url}/v1/carts/${created.cartId}/lines`, {
      method: 'POST',
      headers: { authorization: `Bearer ${created.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sku: 'SHOE-RUN-01', quantity: 1 }),
    });
    expect(res.status).toBe(201);

    // The dev JWT secret was generated once and kept private.
    expect(statSync(join(dataDir, 'jwt-secret')).mode & 0o777).toBe(0o600);
    // The private Redis runs with AOF and noeviction.
    const pid = Number(readFileSync(join(dataDir, 'redis', 'redis.pid'), 'utf8'));
    const port = Number(/"url":"redis:\/\/127\.0\.0\.1:(\d+)"/.exec(node.output())?.[1]);
    const redis = new Redis(port, '127.0.0.1');
    expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    redis.disconnect();

    expect(await node.kill('SIGTERM')).toBe(0);
    await waitFor(() => expect(alive(pid)).toBe(false));
  });
});
