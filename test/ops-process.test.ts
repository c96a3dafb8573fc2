/**
 * The entry point as an operator meets it: `npm start` stops on SIGTERM with everything it started,
 * a wrong REDIS_URL is one clear line, production does not seed demo data.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../core/config.ts';
import { freePort } from '../core/embedded-redis.ts';
import { TEST_JWT_SECRET } from './helpers/node.ts';
import { waitFor } from './helpers/wait.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Live (not zombie) processes descending from `pid`, with their command names. */
function descendants(pid: number): Array<{ pid: number; comm: string }> {
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const [state, ppid] = stat.slice(close + 2).split(' ');
      if (state === 'Z') continue;
      parent.set(Number(entry), Number(ppid));
      comm.set(Number(entry), stat.slice(stat.indexOf('(') + 1, close));
    } catch {
      // Exited while we looked.
    }
  }
  const out: Array<{ pid: number; comm: string }> = [];
  const walk = (p: number): void => {
    for (const [child, pp] of parent) if (pp === p) {
      out.push({ pid: child, comm: comm.get(child)! });
      walk(child);
    }
  };
  walk(pid);
  return out;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function spawnWithOutput(cmd: string, args: string[], env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(cmd, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

describe('entry point', () => {
  it('hole 7: SIGTERM to the pid of `npm start` stops the server and its redis-server', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'livecart-npm-start-'));
    dirs.push(dataDir);
    const port = await freePort();
    const run = spawnWithOutput('npm', ['start', '--silent'], { PORT: String(port), HOST: '127.0.0.1', LIVECART_DATA_DIR: dataDir, LIVECART_LOG_LEVEL: 'warn', LIVECART_SEED_CATALOG: 'false' });
    const npmPid = run.child.pid!;
    let started: Array<{ pid: number; comm: string }> = [];
    try {
      await waitFor(
        async () => {
          if (run.child.exitCode !== null) throw new Error(`npm start exited early:\n${run.output()}`);
          expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      started = descendants(npmPid);
      expect(started.map((p) => p.comm)).toEqual(expect.arrayContaining(['node', 'redis-server']));
      // The process's memory, as an operator's dashboards expect it (RSS, heap, buffers).
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const name of ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_external_memory_bytes']) expect(metrics).toMatch(new RegExp(`^${name} [1-9]\\d*$`, 'm'));
      run.child.kill('SIGTERM');
      await run.exited;
      await waitFor(() => expect(started.filter((p) => alive(p.pid))).toEqual([]), { timeoutMs: 15_000, intervalMs: 50 });
    } finally {
      // Whatever outlived the test (orphans are re-parented, so by pid, not by ancestry).
      for (const p of [...started, ...descendants(npmPid)]) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  }, 60_000);

  it('hole 7: an unreachable REDIS_URL is one line naming it (password masked), and exit 1', async () => {
    const closedPort = await freePort();
    const run = spawnWithOutput(process.execPath, ['--import', 'tsx', 'bin/livecart.ts', '--role', 'server'], {
      REDIS_URL: `redis://:hunter2-password@127.0.0.1:${closedPort}/0`,
      PORT: String(await freePort()),
      HOST: '127.0.0.1',
      LIVECART_JWT_SECRET: TEST_JWT_SECRET,
      LIVECART_SEED_CATALOG: 'false',
    });
    const stop = setTimeout(() => run.child.kill('SIGKILL'), 20_000);
    try {
      expect(await run.exited).toBe(1);
    } finally {
      clearTimeout(stop);
    }
    const lines = run.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`127.0.0.1:${closedPort}`);
    expect(lines[0]).toContain('REDIS_URL');
    expect(lines[0]).not.toContain('hunter2-password');
  }, 30_000);

  it('hole 7: NODE_ENV=production does not seed the demo catalog unless asked', () => {
    const production = { NODE_ENV: 'production', LIVECART_JWT_SECRET: TEST_JWT_SECRET, REDIS_URL: 'redis://127.0.0.1:1' };
    expect(loadConfig(production).seedCatalog).toBe(false);
    expect(loadConfig({ ...production, LIVECART_SEED_CATALOG: 'true' }).seedCatalog).toBe(true);
    expect(loadConfig({}).seedCatalog).toBe(true);
  });

  it('hole 7: no file of the repository cites a design document that is not in it', () => {
    const missing = ['DESIGN', 'md'].join('.');
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
    const citing = files.filter((f) => {
      try {
        return readFileSync(join(ROOT, f), 'utf8').includes(missing);
      } catch {
        return false;
      }
    });
    expect(citing).toEqual([]);
  });

  it('hole 7: the image and the start scripts run node itself, so SIGTERM reaches the server', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const cmd = /^CMD (.*)$/m.exec(dockerfile)?.[1];
    expect(cmd && (JSON.parse(cmd) as string[])[0]).toBe('node');
    expect(dockerfile).not.toMatch(/^ENTRYPOINT/m);
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    // npm runs scripts with `sh -c`, which (dash) forks instead of exec'ing: `exec` makes node npm's child.
    for (const name of ['start', 'start:server', 'start:worker']) expect(scripts[name]).toMatch(/^exec node /);
  });
});
