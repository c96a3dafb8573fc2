/**
 * A livecart node as a real child process (`tsx bin/livecart.ts`), for tests that kill it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../core/embedded-redis.ts';
import { TEST_ADMIN_TOKEN, TEST_JWT_SECRET } from './node.ts';
import { waitFor } from './wait.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ProcessNode {
  url: string;
  port: number;
  child: ChildProcess;
  /** stderr and stdout so far (for assertion messages). */
  output(): string;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

export async function startProcessNode(env: Record<string, string>, role: 'server' | 'all' | 'worker' = 'server', port?: number): Promise<ProcessNode> {
  const p = port ?? (await freePort());
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/livecart.ts', '--role', role], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: String(p),
      HOST: '127.0.0.1',
      LIVECART_JWT_SECRET: TEST_JWT_SECRET,
      LIVECART_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      LIVECART_LOG_LEVEL: 'warn',
      LIVECART_SEED_CATALOG: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${p}`;
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`node exited early (${child.exitCode}):\n${out}`);
      const res = await fetch(`${url}/healthz`);
      if (!res.ok) throw new Error(`healthz ${res.status}`);
    },
    { timeoutMs: 20_000, intervalMs: 50 },
  );
  return {
    url,
    port: p,
    child,
    output: () => out,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
