/**
 * Smoke test of `npm run cluster`: the script starts two nodes, a worker and its load balancer on
 * the run's Redis, or on a private Redis Cluster it starts (and stops) itself; a cart created and edited (over Socket.IO) through the load balancer is served
 * by every node; SIGTERM stops every child.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { LiveCartConnection } from '../client/index.ts';
import { freePort } from '../core/embedded-redis.ts';
import { uniquePrefix } from './helpers/node.ts';
import { waitFor } from './helpers/wait.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'livecart-cluster-script-'));
let script: ChildProcess | null = null;
let pids: number[] = [];

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** The first of `count` consecutive free ports (a few tries, then give up). */
async function freeRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const first = await freePort();
    if (first + count > 65535) continue;
    let ok = true;
    for (let p = first + 1; p < first + count && ok; p++) ok = await portIsFree(p);
    if (ok) return first;
  }
  throw new Error(`no ${count} consecutive free ports`);
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

afterAll(() => {
  // Only if the test failed half-way: nothing of the cluster may outlive the run.
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  if (script && script.exitCode === null && script.signalCode === null) script.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

/** A TCP connection to 127.0.0.1:`port` is refused (nothing listens). */
const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });

describe('npm run cluster', () => {
  it.each([
    ['the run\'s Redis (REDIS_URL)', [] as string[], () => ({ REDIS_URL: inject('redisUrl') })],
    ['a private Redis Cluster (--redis-cluster 3)', ['--redis-cluster', '3'], () => ({})],
  ])('on %s: starts nodes, a worker and the load balancer, serves one cart everywhere, and stops them all', { timeout: 90_000 }, async (_, extraArgs, redisEnv) => {
    const port = await freeRange(3);
    const lbPort = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/cluster.ts', '--nodes', '2', '--workers', '1', '--port', String(port), '--lb-port', String(lbPort), ...extraArgs], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        ...redisEnv(),
        LIVECART_KEY_PREFIX: uniquePrefix(),
        LIVECART_DATA_DIR: dataDir,
        LIVECART_LOG_LEVEL: 'warn',
        LIVECART_SEED_CATALOG: 'false',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    script = child;
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

    const lb = `http://127.0.0.1:${lbPort}`;
    const nodes = [`http://127.0.0.1:${port}`, `http://127.0.0.1:${port + 1}`];
    const worker = `http://127.0.0.1:${port + 2}`;
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`cluster script exited early (${child.exitCode}):\n${out}`);
        expect((await fetch(`${lb}/readyz`)).status).toBe(200);
        for (const url of [...nodes, worker]) expect((await fetch(`${url}/healthz`)).status).toBe(200);
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    pids = [...out.matchAll(/ pid (\d+)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(3);

    const created = await fetch(`${lb}/v1/carts`, { method: 'POST' });
    expect(created.status).toBe(201);
    const { cartId, token } = (await created.json()) as { cartId: string; token: string };
    // A device through the load balancer (Socket.IO over the WebSocket pass-through, cart affinity in the URL).
    const device = new LiveCartConnection({ url: `${lb}/?cart=${cartId}`, token, device: 'phone' });
    try {
      const cart = await device.open(cartId);
      cart.add({ sku: 'SHOE', quantity: 2 });
      await cart.whenSaved();
    } finally {
      await device.close();
    }
    for (const url of nodes) {
      const res = await fetch(`${url}/v1/carts/${cartId}`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { cartId: string; lines: Array<{ sku: string; quantity: number }> };
      expect(body.cartId).toBe(cartId);
      expect(body.lines.map((l) => [l.sku, l.quantity])).toEqual([['SHOE', 2]]);
    }

    child.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(resolve, 30_000, 'still running').unref())]);
    expect(code, out).toBe(0);
    await waitFor(() => expect(pids.filter(alive)).toEqual([]), { timeoutMs: 5000 });
    await expect(fetch(`${lb}/readyz`)).rejects.toThrow();
    // A private Redis Cluster goes with the script.
    const seeds = /redis +cluster (\S+)/.exec(out)?.[1]?.split(',').map((s) => Number(s.split(':')[1])) ?? [];
    expect(seeds).toHaveLength(extraArgs.length > 0 ? 6 : 0);
    for (const p of seeds) expect(await refused(p)).toBe(true);
  });
});
