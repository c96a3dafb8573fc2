/**
 * Redis cost per cart, per edit and per device on a real Redis Cluster (the figures of
 * docs/ARCHITECTURE.md "Sizing"), run by hand:
 *
 *   npx tsx bench/cluster-sizing.ts [--carts 1000] [--devices 1000]
 *
 * Starts a private cluster (3 primaries + 3 replicas, core/embedded-cluster.ts), one livecart
 * process (`bin/livecart.ts --role all`: node and workers, REDIS_CLUSTER_NODES, replica wait 1),
 * then: creates `carts` carts over REST with 3 lines each and waits for their revalidations;
 * changes one quantity per cart over REST; opens `devices` Socket.IO devices (one per cart) and
 * changes one quantity on each. Before and after each phase it reads INFO memory and INFO
 * commandstats of every primary (CONFIG RESETSTAT first) and the node's heap after a full
 * collection (bench/heap-probe.mjs), and prints the
 * deltas per cart / edit / device as JSON.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { type CartHandle, LiveCartConnection } from '../client/index.ts';
import { onNode, startRedisCluster } from '../core/embedded-cluster.ts';
import { freePort } from '../core/embedded-redis.ts';
import { REVALIDATE_QUEUE, bullPrefix } from '../core/queues.ts';
import { connectRedis } from '../core/redis/connect.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PREFIX = 'size';
const ADMIN = 'sizing-admin-token-0123456789';
const SKUS = ['SHOE-RUN-01', 'MUG-01', 'BELT-LTH-01'];
/** The primary holding the revalidation queue (set once the cluster is up). */
let queuePrimary = 0;

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

interface Snapshot {
  memory: number;
  keys: number;
  calls: Map<string, number>;
  /** Commands run by each primary, by port. */
  byPrimary: Map<number, number>;
  /** The node's heap after a full collection (bench/heap-probe.mjs) and its RSS. */
  heap: number;
  rss: number;
}

/** Ask the node for its memory after a full collection (bench/heap-probe.mjs answers SIGUSR2). */
async function nodeMemory(pid: number, file: string): Promise<{ heap: number; rss: number }> {
  rmSync(file, { force: true });
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 50));
    try {
      const m = JSON.parse(readFileSync(file, 'utf8')) as { heapUsed: number; external: number; arrayBuffers: number; rss: number };
      return { heap: m.heapUsed + m.external, rss: m.rss };
    } catch {
      // Not written yet.
    }
  }
  throw new Error('the node did not answer the heap probe');
}

async function snapshot(primaries: number[], pid: number, probe: string): Promise<Snapshot> {
  let memory = 0;
  let keys = 0;
  const calls = new Map<string, number>();
  const byPrimary = new Map<number, number>();
  for (const port of primaries) {
    const [mem, stats, size] = await onNode(port, async (r) => [await r.info('memory'), await r.info('commandstats'), await r.dbsize()] as const);
    memory += Number(/used_memory:(\d+)/.exec(mem)?.[1] ?? 0);
    keys += size;
    for (const m of stats.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) {
      calls.set(m[1]!, (calls.get(m[1]!) ?? 0) + Number(m[2]));
      if (!['info', 'dbsize', 'config'].includes(m[1]!)) byPrimary.set(port, (byPrimary.get(port) ?? 0) + Number(m[2]));
    }
  }
  return { memory, keys, calls, byPrimary, ...(await nodeMemory(pid, probe)) };
}

/** What changed between two snapshots, divided by `per`: bytes, keys, commands (total and top ones). */
function delta(a: Snapshot, b: Snapshot, per: number): Record<string, unknown> {
  const diff = [...b.calls].map(([cmd, n]): [string, number] => [cmd, n - (a.calls.get(cmd) ?? 0)]).filter(([cmd, n]) => n > 0 && cmd !== 'info' && cmd !== 'dbsize' && cmd !== 'config');
  const total = diff.reduce((s, [, n]) => s + n, 0);
  return {
    redisBytes: Math.round((b.memory - a.memory) / per),
    keys: +((b.keys - a.keys) / per).toFixed(2),
    commands: +(total / per).toFixed(1),
    top: Object.fromEntries(diff.sort((x, y) => y[1] - x[1]).slice(0, 20).map(([cmd, n]) => [cmd, +(n / per).toFixed(2)])),
    // Which shard works hardest: the one holding the revalidation queue's slot is marked.
    commandsByPrimary: Object.fromEntries([...b.byPrimary].map(([port, n]) => [`${port}${port === queuePrimary ? ' (revalidate queue)' : ''}`, +((n - (a.byPrimary.get(port) ?? 0)) / per).toFixed(1)])),
    nodeHeapBytes: Math.round((b.heap - a.heap) / per),
    nodeRssBytes: Math.round((b.rss - a.rss) / per),
  };
}

async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

async function main(): Promise<void> {
  const cartCount = flag('--carts', 1000);
  const deviceCount = Math.min(flag('--devices', 1000), cartCount);
  const dir = mkdtempSync(join(tmpdir(), 'livecart-sizing-'));
  const cluster = await startRedisCluster(join(dir, 'redis'), { primaries: 3, replicas: 1 });
  let child: ChildProcess | null = null;
  const conns: LiveCartConnection[] = [];
  try {
    const seeds = cluster.seeds.map((s) => `${s.host}:${s.port}`).join(',');
    const port = await freePort();
    const probe = join(dir, 'heap.json');
    child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', '--import', './bench/heap-probe.mjs', 'bin/livecart.ts', '--role', 'all'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        PORT: String(port),
        HOST: '127.0.0.1',
        REDIS_CLUSTER_NODES: seeds,
        LIVECART_KEY_PREFIX: PREFIX,
        LIVECART_DATA_DIR: join(dir, 'data'),
        LIVECART_ADMIN_TOKEN: ADMIN,
        BENCH_HEAP_PROBE: probe,
        // Devices stay: the node keeps their carts loaded for the whole measurement.
        LIVECART_IDLE_UNLOAD_MS: '600000',
        LIVECART_LOG_LEVEL: 'error',
        // One client makes every request: the per-IP limits would refuse it.
        LIVECART_RATE_CART_CREATE_BURST: '1000000',
        LIVECART_RATE_CART_CREATE_PER_HOUR: '100000000',
        LIVECART_RATE_REST_PER_IP: '100000000',
        LIVECART_RATE_REST_PER_SUBJECT: '100000000',
        LIVECART_MAX_CONNECTIONS_PER_IP: '100000',
      },
    });
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error('the node exited');
      if ((await fetch(`${base}/readyz`).then((r) => r.status, () => 0)) === 200) break;
      if (i > 300) throw new Error('the node did not become ready');
      await new Promise((r) => setTimeout(r, 100));
    }
    const redis = connectRedis({ cluster: cluster.seeds }, 'blocking');
    const queue = new Queue(REVALIDATE_QUEUE, { connection: redis, prefix: bullPrefix(PREFIX, REVALIDATE_QUEUE) });
    const drained = async (): Promise<void> => {
      for (let quiet = 0; quiet < 3; ) {
        await new Promise((r) => setTimeout(r, 300));
        const counts = await queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
        quiet = Object.values(counts).every((n) => n === 0) ? quiet + 1 : 0;
      }
    };
    const primaries = [...new Set((await onNode(cluster.seeds[0]!.port, (r) => r.cluster('SLOTS'))).map((range) => range[2]![1]))];
    for (const p of primaries) await onNode(p, (r) => r.config('RESETSTAT'));
    const queueSlot = Number(await onNode(primaries[0]!, (r) => r.cluster('KEYSLOT', `${bullPrefix(PREFIX, REVALIDATE_QUEUE)}:${REVALIDATE_QUEUE}:wait`)));
    queuePrimary = (await onNode(primaries[0]!, (r) => r.cluster('SLOTS'))).find(([from, to]) => queueSlot >= from && queueSlot <= to)?.[2]?.[1] ?? 0;
    const json = async (method: string, path: string, token: string | null, body?: unknown): Promise<{ cartId: string; token: string }> => {
      const res = await fetch(base + path, { method, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as { cartId: string; token: string };
    };
    const pid = child.pid!;

    const before = await snapshot(primaries, pid, probe);
    const carts: Array<{ cartId: string; token: string }> = [];
    await pool(Array.from({ length: cartCount }, (_, i) => i), 16, async () => {
      const cart = await json('POST', '/v1/carts', null);
      for (const sku of SKUS) await json('POST', `/v1/carts/${cart.cartId}/lines`, cart.token, { sku, quantity: 1 });
      carts.push(cart);
    });
    await drained();
    const created = await snapshot(primaries, pid, probe);

    await pool(carts, 16, async (c) => void (await json('PATCH', `/v1/carts/${c.cartId}/lines/MUG-01`, c.token, { quantity: 2 })));
    await drained();
    const edited = await snapshot(primaries, pid, probe);

    const handles: CartHandle[] = [];
    await pool(carts.slice(0, deviceCount), 16, async (c) => {
      const conn = new LiveCartConnection({ url: base, token: c.token, device: 'phone' });
      conns.push(conn);
      handles.push(await conn.open(c.cartId));
    });
    await new Promise((r) => setTimeout(r, 1000));
    const connected = await snapshot(primaries, pid, probe);

    await pool(handles, 16, async (h) => {
      h.setQuantity('SHOE-RUN-01', 3);
      await h.whenSaved();
    });
    await drained();
    const deviceEdited = await snapshot(primaries, pid, probe);

    const result = {
      cluster: '3 primaries + 3 replicas (figures: primaries only; replicas hold the same data again)',
      carts: cartCount,
      devices: deviceCount,
      perCart: delta(before, created, cartCount),
      perRestEdit: delta(created, edited, cartCount),
      perDevice: delta(edited, connected, deviceCount),
      perDeviceEdit: delta(connected, deviceEdited, deviceCount),
      totalRedisBytes: deviceEdited.memory,
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    await Promise.all(conns.map((c) => c.close()));
    await queue.close();
    redis.disconnect();
  } finally {
    child?.kill('SIGTERM');
    if (child && child.exitCode === null) await new Promise((r) => child!.once('exit', r));
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
