/**
 * A local cluster as child processes, the same topology as docker-compose.yml:
 *
 *   npm run cluster -- --nodes 3 --workers 2 [--port 4000] [--lb-port 3000] [--host 127.0.0.1] [--redis-cluster 3]
 *
 * a private redis-server (AOF on, noeviction, data under $LIVECART_DATA_DIR/cluster-redis) unless
 * REDIS_URL or REDIS_CLUSTER_NODES is set — or, with --redis-cluster K, a private Redis Cluster of
 * K primaries and K replicas (no persistence) — N server nodes on port..port+N-1, M workers (their /healthz and /metrics on the
 * ports after the nodes), and the load balancer of scripts/lb.ts on --lb-port. Every process shares
 * the key prefix, the JWT secret and the admin token. Ctrl-C or SIGTERM stops them all.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../core/config.ts';
import { type EmbeddedCluster, startRedisCluster } from '../core/embedded-cluster.ts';
import { type EmbeddedRedis, devAdminToken, devJwtSecret, startRedisServer } from '../core/embedded-redis.ts';
import { startLoadBalancer } from './lb.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** How long a child may take to shut down after SIGTERM before it is killed. */
const STOP_GRACE_MS = 10_000;

const USAGE = `usage: npm run cluster -- --nodes N --workers M [--port 4000] [--lb-port 3000] [--host 127.0.0.1]
  --nodes N     server nodes, 1..32, on ports port..port+N-1
  --workers M   worker processes, 0..32, their /healthz on the ports after the nodes
  --port P      first node port (default 4000)
  --lb-port L   load balancer port (default 3000), outside the node and worker ports
  --host H      interface every process listens on (default 127.0.0.1)
  --redis-cluster K  run a private Redis Cluster of K primaries (3..16), one replica each, instead of one redis-server
env: REDIS_URL or REDIS_CLUSTER_NODES (unset: a private redis-server under $LIVECART_DATA_DIR/cluster-redis), LIVECART_* as in README`;

interface Flags {
  nodes: number;
  workers: number;
  port: number;
  lbPort: number;
  host: string;
  /** Primaries of a private Redis Cluster (0: none). */
  redisCluster: number;
}

class UsageError extends Error {}

function parseFlags(argv: readonly string[]): Flags {
  const raw = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    if (!['--nodes', '--workers', '--port', '--lb-port', '--host', '--redis-cluster'].includes(flag)) throw new UsageError(`unknown argument ${flag}`);
    const value = argv[i + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    raw.set(flag, value);
  }
  const int = (flag: string, fallback: number | null, min: number, max: number): number => {
    const value = raw.get(flag);
    if (value === undefined) {
      if (fallback === null) throw new UsageError(`${flag} is required`);
      return fallback;
    }
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got ${value}`);
    return Number(value);
  };
  const nodes = int('--nodes', null, 1, 32);
  const workers = int('--workers', null, 0, 32);
  const port = int('--port', 4000, 1, 65535 - nodes - workers + 1);
  const lbPort = int('--lb-port', 3000, 1, 65535);
  if (lbPort >= port && lbPort < port + nodes + workers) {
    throw new UsageError(`--lb-port ${lbPort} collides with the node and worker ports ${port}..${port + nodes + workers - 1}`);
  }
  const redisCluster = raw.has('--redis-cluster') ? int('--redis-cluster', null, 3, 16) : 0;
  return { nodes, workers, port, lbPort, host: raw.get('--host') ?? '127.0.0.1', redisCluster };
}

interface Child {
  name: string;
  process: ChildProcess;
  exited: Promise<void>;
}

function startChild(name: string, role: 'server' | 'worker', env: NodeJS.ProcessEnv, width: number): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/livecart.ts', '--role', role], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const tag = name.padEnd(width);
  for (const [stream, out] of [[child.stdout, process.stdout], [child.stderr, process.stderr]] as const) {
    if (stream) createInterface({ input: stream }).on('line', (line) => out.write(`${tag} | ${line}\n`));
  }
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      process.stdout.write(`${tag} | exited (${signal ?? `code ${code}`})\n`);
      resolve();
    }),
  );
  return { name, process: child, exited };
}

async function stopChild(c: Child): Promise<void> {
  if (c.process.exitCode !== null || c.process.signalCode !== null) return;
  c.process.kill('SIGTERM');
  const timer = setTimeout(() => c.process.kill('SIGKILL'), STOP_GRACE_MS);
  await c.exited;
  clearTimeout(timer);
}

async function main(): Promise<void> {
  let flags: Flags;
  let config: ReturnType<typeof loadConfig>;
  try {
    if (process.argv.includes('--help') || process.argv.includes('-h')) {
      console.log(USAGE);
      return;
    }
    flags = parseFlags(process.argv.slice(2));
    config = loadConfig();
    if (flags.redisCluster > 0 && (config.redisUrl !== null || config.redis.clusterNodes !== null)) throw new UsageError('--redis-cluster starts its own Redis Cluster: unset REDIS_URL and REDIS_CLUSTER_NODES');
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError) {
      console.error(`cluster: ${err.message}\n${USAGE}`);
      process.exit(2);
    }
    throw err;
  }

  // One Redis (REDIS_URL, or a private one), or a Redis Cluster (REDIS_CLUSTER_NODES, or a private one).
  let redis: EmbeddedRedis | null = null;
  let redisCluster: EmbeddedCluster | null = null;
  let redisEnv: NodeJS.ProcessEnv;
  let redisShown: string;
  if (config.redis.clusterNodes !== null) {
    redisEnv = {};
    redisShown = `cluster ${process.env.REDIS_CLUSTER_NODES ?? ''}`;
  } else if (flags.redisCluster > 0) {
    const dir = `${config.dataDir}/cluster-redis-cluster`;
    // No persistence: every run starts a new cluster (the old config files name old ports).
    rmSync(dir, { recursive: true, force: true });
    redisCluster = await startRedisCluster(dir, { primaries: flags.redisCluster, replicas: 1 });
    const seeds = redisCluster.seeds.map((s) => `${s.host}:${s.port}`).join(',');
    redisEnv = { REDIS_CLUSTER_NODES: seeds };
    redisShown = `cluster ${seeds}   (private: ${flags.redisCluster} primaries, ${flags.redisCluster} replicas, no persistence)`;
  } else {
    let redisUrl = config.redisUrl;
    if (redisUrl === null) {
      redis = await startRedisServer(`${config.dataDir}/cluster-redis`);
      redisUrl = redis.url;
    }
    redisEnv = { REDIS_URL: redisUrl };
    redisShown = `${redisUrl}${redis ? `   (private, data in ${config.dataDir}/cluster-redis)` : ''}`;
  }
  const jwtSecret = config.jwtSecret ?? devJwtSecret(config.dataDir);
  const adminToken = config.adminToken ?? (config.production ? null : devAdminToken(config.dataDir));
  const shared: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: flags.host,
    ...redisEnv,
    LIVECART_KEY_PREFIX: config.keyPrefix,
    LIVECART_JWT_SECRET: jwtSecret,
    // The nodes sit behind the load balancer, which names the client in X-Forwarded-For.
    LIVECART_TRUST_PROXY_HOPS: process.env.LIVECART_TRUST_PROXY_HOPS ?? '1',
    ...(adminToken === null ? {} : { LIVECART_ADMIN_TOKEN: adminToken }),
  };

  const width = Math.max(String(flags.nodes).length, String(flags.workers).length) + 'worker-'.length;
  const children: Child[] = [];
  const nodeUrls: string[] = [];
  for (let i = 1; i <= flags.nodes; i++) {
    const port = flags.port + i - 1;
    children.push(startChild(`node-${i}`, 'server', { ...shared, PORT: String(port) }, width));
    nodeUrls.push(`http://${flags.host}:${port}`);
  }
  for (let i = 1; i <= flags.workers; i++) {
    const port = flags.port + flags.nodes + i - 1;
    children.push(startChild(`worker-${i}`, 'worker', { ...shared, PORT: String(port) }, width));
  }
  // Children die with this process even if it crashes (a clean stop below gives them time first).
  process.on('exit', () => {
    for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
    if (redis && redis.process.exitCode === null) redis.process.kill('SIGTERM');
    for (const s of redisCluster?.servers.values() ?? []) if (s.process.exitCode === null) s.process.kill('SIGTERM');
  });

  const lbTag = 'lb'.padEnd(width);
  const lb = await startLoadBalancer({
    port: flags.lbPort,
    host: flags.host,
    backends: nodeUrls.map((_, i) => ({ name: `node-${i + 1}`, host: flags.host, port: flags.port + i })),
    log: (line) => process.stdout.write(`${lbTag} | ${line}\n`),
  });

  const lines = [
    `livecart cluster (key prefix ${config.keyPrefix})`,
    `  load balancer  ${lb.url}   (cart affinity: ?cart=<cartId>)`,
    ...children.map((c, i) => `  ${c.name.padEnd(13)}  http://${flags.host}:${flags.port + i}${c.name.startsWith('worker') ? '/healthz' : ''}   pid ${c.process.pid}`),
    `  redis          ${redisShown}`,
    adminToken === null ? '  admin API disabled (set LIVECART_ADMIN_TOKEN)' : `  admin token    ${config.adminToken === null ? `${config.dataDir}/admin-token` : 'LIVECART_ADMIN_TOKEN'}`,
    `  try: curl -s -X POST ${lb.url}/v1/carts`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) {
      // A second Ctrl-C: no more patience.
      for (const c of children) c.process.kill('SIGKILL');
      return;
    }
    stopping = true;
    process.stdout.write(`${lbTag} | ${signal}: stopping the cluster\n`);
    await lb.close();
    await Promise.all(children.map(stopChild));
    if (redis) await redis.stop();
    if (redisCluster) await redisCluster.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error('cluster: failed to start:', err);
  process.exit(1);
});
