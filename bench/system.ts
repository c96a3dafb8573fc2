/**
 * The system under test, as separate processes on loopback: a private redis-server (the production
 * defaults of core/embedded-redis.ts: AOF on, appendfsync everysec, noeviction), two server nodes
 * (`bin/livecart.ts --role server`) and one worker (`--role worker`), all sharing one key prefix,
 * JWT secret and admin token. Every child is killed when this process exits, however it exits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EmbeddedRedis, freePort, startRedisServer } from '../core/embedded-redis.ts';
import type { Pids } from './proc.ts';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const KEY_PREFIX = 'bench';

/** Products the benchmark puts in the catalog: huge stock (no clamping), no promotions apply. */
export const BENCH_SKUS = ['BENCH-A', 'BENCH-B', 'BENCH-C', 'BENCH-D', 'BENCH-E', 'BENCH-F', 'BENCH-G', 'BENCH-H', 'BENCH-I', 'BENCH-J'] as const;
export const PRICE_SKU = 'BENCH-P';
export const BENCH_PRICE = 1234;

/** Everything spawned by this process, killed on exit; temporary directories, removed on exit. */
const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
}

/** Register a child so it dies with this process. */
export function track(child: ChildProcess): void {
  installExitHook();
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** Kill every tracked child now (SIGKILL): for Ctrl-C and fatal errors. */
export function killAllTracked(): void {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

interface AppProcess {
  name: 'node1' | 'node2' | 'worker';
  child: ChildProcess;
  port: number;
  exited: Promise<void>;
  log: WriteStream;
}

export interface SystemOptions {
  /** Extra LIVECART_* settings for the nodes and the worker (scenario-specific). */
  env?: Record<string, string>;
  /** Directory for the processes' stderr/stdout logs. */
  logDir: string;
  /** Label of this system instance in log file names. */
  label: string;
  /** Run the nodes and the worker with --cpu-prof (profiles land in logDir when they exit). */
  cpuProf?: boolean;
  /** Run the nodes and the worker with --heapsnapshot-signal=SIGUSR2 (snapshots land in logDir). */
  heapSnapshots?: boolean;
  /** LIVECART_SOCKET_ADAPTER of the nodes (default redis: classic pub/sub). */
  adapter?: 'redis' | 'sharded';
  /** LIVECART_* settings given on the command line (--env), for every node and the worker. */
  settings?: Record<string, string>;
  /** Keep the nodes' default socket rate limit (the abuse run: as a real deployment has it). */
  defaultLimits?: boolean;
}

const STOP_GRACE_MS = 4000;

export class BenchSystem {
  readonly jwtSecret = randomBytes(32).toString('base64url');
  readonly adminToken = randomBytes(24).toString('base64url');
  private redis: EmbeddedRedis | null = null;
  private redisDir: string | null = null;
  private apps: AppProcess[] = [];
  private ports: { node1: number; node2: number; worker: number } | null = null;
  private generation = 0;

  constructor(private readonly opts: SystemOptions) {}

  get nodeUrls(): [string, string] {
    if (!this.ports) throw new Error('system not started');
    return [`http://127.0.0.1:${this.ports.node1}`, `http://127.0.0.1:${this.ports.node2}`];
  }

  /** The worker process's health and metrics port. */
  get workerUrl(): string {
    if (!this.ports) throw new Error('system not started');
    return `http://127.0.0.1:${this.ports.worker}`;
  }

  get redisUrl(): string {
    if (!this.redis) throw new Error('system not started');
    return this.redis.url;
  }

  get pids(): Pids {
    const pid = (name: AppProcess['name']): number => this.apps.find((a) => a.name === name)?.child.pid ?? -1;
    return { node1: pid('node1'), node2: pid('node2'), worker: pid('worker'), redis: this.redis?.process.pid ?? -1 };
  }

  async start(): Promise<void> {
    installExitHook();
    this.redisDir = mkdtempSync(join(tmpdir(), 'livecart-bench-redis-'));
    tempDirs.add(this.redisDir);
    this.redis = await startRedisServer(this.redisDir);
    track(this.redis.process);
    this.ports = { node1: await freePort(), node2: await freePort(), worker: await freePort() };
    await this.startApps(this.opts.env ?? {});
    await this.seedCatalog();
  }

  /** Stop the nodes and the worker and start them again with `env` (Redis and its data stay). */
  async restartApps(env: Record<string, string>): Promise<void> {
    await this.stopApps();
    await this.startApps(env);
  }

  async stop(): Promise<void> {
    await this.stopApps();
    if (this.redis) {
      const r = this.redis;
      this.redis = null;
      const timer = setTimeout(() => r.process.kill('SIGKILL'), STOP_GRACE_MS);
      await r.stop();
      clearTimeout(timer);
    }
    if (this.redisDir) {
      rmSync(this.redisDir, { recursive: true, force: true });
      tempDirs.delete(this.redisDir);
    }
    this.redisDir = null;
  }

  private baseEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      REDIS_URL: this.redisUrl,
      LIVECART_KEY_PREFIX: KEY_PREFIX,
      LIVECART_JWT_SECRET: this.jwtSecret,
      LIVECART_ADMIN_TOKEN: this.adminToken,
      LIVECART_LOG_LEVEL: 'warn',
      LIVECART_SOCKET_ADAPTER: this.opts.adapter ?? 'redis',
      // The load generator multiplexes many edits per connection: no per-connection rate limit.
      // Every simulated shopper of scenarios 1–7 comes from 127.0.0.1: per-IP limits would refuse
      // the load itself. The abuse run keeps every default (`defaultLimits`).
      ...(this.opts.defaultLimits
        ? {}
        : {
            LIVECART_SOCKET_RATE: '100000',
            LIVECART_SOCKET_BURST: '1000000',
            LIVECART_RATE_CART_CREATE_BURST: '1000000',
            LIVECART_RATE_CART_CREATE_PER_HOUR: '100000000',
            LIVECART_RATE_REST_PER_IP: '100000000',
            LIVECART_MAX_CONNECTIONS_PER_IP: '10000000',
          }),
      LIVECART_SEED_CATALOG: 'true',
      LIVECART_DATA_DIR: this.redisDir ?? tmpdir(),
      ...this.opts.settings,
      ...extra,
    };
  }

  private async startApps(extra: Record<string, string>): Promise<void> {
    if (!this.ports) throw new Error('no ports');
    this.generation += 1;
    const env = this.baseEnv(extra);
    const spawnApp = (name: AppProcess['name'], role: 'server' | 'worker', port: number): AppProcess => {
      // One directory per process: each thread (tsx runs a loader thread) writes its own profile.
      const prof = this.opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', join(this.opts.logDir, `${this.opts.label}-${this.generation}-${name}-cpuprofile`)] : [];
      const heapDir = join(this.opts.logDir, `${this.opts.label}-${this.generation}-${name}-heap`);
      if (this.opts.heapSnapshots) mkdirSync(heapDir, { recursive: true });
      const heap = this.opts.heapSnapshots ? ['--heapsnapshot-signal=SIGUSR2', '--diagnostic-dir', heapDir] : [];
      const child = spawn(process.execPath, [...prof, ...heap, '--import', 'tsx', 'bin/livecart.ts', '--role', role], {
        cwd: ROOT,
        env: { ...env, PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      track(child);
      const log = createWriteStream(join(this.opts.logDir, `${this.opts.label}-${this.generation}-${name}.log`));
      child.stdout?.pipe(log, { end: false });
      child.stderr?.pipe(log, { end: false });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      return { name, child, port, exited, log };
    };
    // Nodes first and one at a time: both seed the catalog when it is empty.
    const node1 = spawnApp('node1', 'server', this.ports.node1);
    this.apps = [node1];
    await waitHttp(`http://127.0.0.1:${this.ports.node1}/readyz`, node1.child);
    const node2 = spawnApp('node2', 'server', this.ports.node2);
    const worker = spawnApp('worker', 'worker', this.ports.worker);
    this.apps.push(node2, worker);
    await Promise.all([waitHttp(`http://127.0.0.1:${this.ports.node2}/readyz`, node2.child), waitHttp(`http://127.0.0.1:${this.ports.worker}/healthz`, worker.child)]);
  }

  private async stopApps(): Promise<void> {
    const apps = this.apps;
    this.apps = [];
    await Promise.all(
      apps.map(async (a) => {
        if (a.child.exitCode === null && a.child.signalCode === null) {
          a.child.kill('SIGTERM');
          const timer = setTimeout(() => a.child.kill('SIGKILL'), STOP_GRACE_MS);
          await a.exited;
          clearTimeout(timer);
        }
        a.log.end();
      }),
    );
  }

  /** True while every process is alive (a crash during a scenario fails it). */
  aliveProblems(): string[] {
    const dead = this.apps.filter((a) => a.child.exitCode !== null || a.child.signalCode !== null).map((a) => `${a.name} exited (${a.child.signalCode ?? a.child.exitCode})`);
    if (this.redis && this.redis.process.exitCode !== null) dead.push('redis exited');
    return dead;
  }

  /** The benchmark's products: stock far above any quantity (no clamping), category without promotions. */
  /**
   * Asks every node and the worker for a heap snapshot (SIGUSR2; needs `heapSnapshots`) and waits until
   * each has written it: a snapshot blocks its process, so a file whose size holds still is complete.
   */
  async heapSnapshots(timeoutMs = 120_000): Promise<void> {
    if (!this.opts.heapSnapshots) return;
    const targets = this.apps.map((app) => {
      const dir = join(this.opts.logDir, `${this.opts.label}-${this.generation}-${app.name}-heap`);
      const sizes = new Map<string, number>();
      return { app, dir, sizes, want: finishedSnapshots(dir, sizes) + 1 };
    });
    for (const { app } of targets) app.child.kill('SIGUSR2');
    const deadline = Date.now() + timeoutMs;
    while (targets.some((t) => finishedSnapshots(t.dir, t.sizes) < t.want)) {
      if (Date.now() > deadline) throw new Error(`heap snapshots not written within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  private async seedCatalog(): Promise<void> {
    const products = [...BENCH_SKUS, PRICE_SKU].map((sku) => ({ sku, name: `Bench ${sku}`, price: { amount: BENCH_PRICE, currency: 'USD' }, stock: 1_000_000, category: 'bench' }));
    const res = await fetch(`${this.nodeUrls[0]}/v1/catalog/products/bulk`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ products }),
    });
    if (!res.ok) throw new Error(`seeding the bench catalog failed: ${res.status} ${await res.text()}`);
  }
}

/** Files ending in .heapsnapshot in `dir` whose size has stopped changing (none if `dir` is missing). */
function finishedSnapshots(dir: string, sizes: Map<string, number>): number {
  let done = 0;
  for (const file of existsSync(dir) ? readdirSync(dir) : []) {
    if (!file.endsWith('.heapsnapshot')) continue;
    const size = statSync(join(dir, file)).size;
    if (size > 0 && sizes.get(file) === size) done += 1;
    sizes.set(file, size);
  }
  return done;
}

async function waitHttp(url: string, child: ChildProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${url}: process exited (${child.signalCode ?? child.exitCode}) before it was ready; see bench/results logs`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`${url} not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
