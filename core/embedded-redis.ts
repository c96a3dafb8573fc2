/**
 * The embedded default: with no REDIS_URL, `npm start` runs a private redis-server (AOF on,
 * noeviction) with its data under the data directory, and stops it when the process exits.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

export class EmbeddedRedisError extends Error {
  override name = 'EmbeddedRedisError';
}

export interface EmbeddedRedis {
  url: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bind to 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

export function findRedisServer(): string {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new EmbeddedRedisError('no redis-server on PATH: install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL');
  }
  return 'redis-server';
}

/**
 * Start redis-server with `dir` as its data directory; resolves once it accepts connections.
 * `args`: more redis-server options (e.g. a Redis Cluster node's, test/helpers/redis-cluster.ts).
 */
export async function startRedisServer(dir: string, opts: { appendonly?: boolean; port?: number; args?: string[] } = {}): Promise<EmbeddedRedis> {
  const bin = findRedisServer();
  const absDir = resolve(dir);
  mkdirSync(absDir, { recursive: true });
  const pidFile = resolve(absDir, 'redis.pid');
  killStale(pidFile);
  const port = opts.port ?? (await freePort());
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', absDir,
    '--appendonly', opts.appendonly === false ? 'no' : 'yes',
    '--appendfsync', 'everysec',
    '--save', '',
    '--maxmemory-policy', 'noeviction',
    '--protected-mode', 'yes',
    '--pidfile', pidFile,
    '--logfile', resolve(absDir, 'redis.log'),
    ...(opts.args ?? []),
  ];
  const child = spawn(bin, args, { stdio: 'ignore' });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  await waitForPort(port, child);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A redis-server left running by a process that was killed: stop it before starting a new one. */
function killStale(pidFile: string): void {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    return;
  }
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (cmd.includes('redis-server')) process.kill(pid, 'SIGTERM');
  } catch {
    // Not running any more (or not Linux): nothing to stop.
  }
  rmSync(pidFile, { force: true });
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new EmbeddedRedisError(`redis-server exited with code ${child.exitCode} (see its redis.log)`);
    const ok = await new Promise<boolean>((res) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        res(true);
      });
      s.once('error', () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new EmbeddedRedisError('redis-server did not start within 10 s');
}

/** A dev secret: generated once, kept in the data directory (mode 600), the same on every start. */
function devSecret(dataDir: string, name: string): string {
  const file = resolve(dataDir, name);
  try {
    const existing = readFileSync(file, 'utf8').trim();
    if (existing.length >= 32) return existing;
  } catch {
    // First start: create it below.
  }
  mkdirSync(resolve(dataDir), { recursive: true });
  const secret = Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}

/** The dev JWT secret (`NODE_ENV=production` requires LIVECART_JWT_SECRET instead). */
export const devJwtSecret = (dataDir: string): string => devSecret(dataDir, 'jwt-secret');

/** The dev admin token, so the admin API works out of the box outside production. */
export const devAdminToken = (dataDir: string): string => devSecret(dataDir, 'admin-token');
