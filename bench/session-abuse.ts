/**
 * Two bounded, loopback-only abuse runs against one in-process node (its own private redis-server),
 * reporting what the node spends; nothing is asserted (test/session-limits and test/slow-consumer
 * hold the counted regressions).
 *
 *   tsx bench/session-abuse.ts flood   30 Socket.IO connections flood sync step 1 on a ~270 KB cart
 *                                      for 4 s, then disconnect: the node's CPU seconds after they
 *                                      left, and another cart's round-trip p99 during the flood.
 *   tsx bench/session-abuse.ts slow    100 /yjs clients stop reading, then 20 changes of ~480 KB
 *                                      are relayed: the node's RSS before, at its peak and after.
 *
 * The clients run in a child process (this script, role `clients`), so the node's figures are its own.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket as NetSocket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { WebSocket } from 'ws';
import * as Y from 'yjs';
import { createCartServer } from '../server/app.ts';
import { DEFAULT_CONFIG } from '../core/config.ts';
import { startRedisServer } from '../core/embedded-redis.ts';
import { createLogger } from '../core/log.ts';
import { setAttribute, writeSyncStep1, writeSyncUpdate } from '../protocol/index.ts';
import { connectSocket } from '../test/helpers/raw-device.ts';

const SECRET = 'bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const mb = (bytes: number): string => `${(bytes / 1048576).toFixed(0)} MB`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Job {
  scenario: 'flood' | 'slow';
  url: string;
  port: number;
  bigCart: string;
  bigToken: string;
  honestCart: string;
  honestToken: string;
}

async function clients(job: Job): Promise<void> {
  const send = (msg: unknown): void => void process.send?.(msg);
  if (job.scenario === 'slow') {
    const sockets: WebSocket[] = [];
    for (let i = 0; i < 100; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${job.port}/yjs/${job.bigCart}?token=${job.bigToken}`);
      ws.on('error', () => undefined);
      await new Promise((r) => ws.once('open', r));
      (ws as unknown as { _socket: NetSocket })._socket.pause();
      sockets.push(ws);
    }
    send({ ready: true });
    await new Promise((r) => process.once('message', r));
    for (const ws of sockets) ws.terminate();
    send({ done: true });
    return;
  }
  const step1 = writeSyncStep1(Y.encodeStateVector(new Y.Doc()));
  const flooders = await Promise.all(
    Array.from({ length: 30 }, async () => {
      const s = await connectSocket(job.url, job.bigToken);
      await s.emitWithAck('join', job.bigCart, { device: 'flood' });
      return s;
    }),
  );
  const honest = await connectSocket(job.url, job.honestToken);
  await honest.emitWithAck('join', job.honestCart, { device: 'honest' });
  const doc = new Y.Doc();
  const latencies: number[] = [];
  let measuring = true;
  const probe = (async () => {
    for (let i = 0; measuring; i++) {
      let update: Uint8Array | null = null;
      doc.once('update', (u: Uint8Array) => (update = u));
      setAttribute(doc, 'probe', String(i));
      const t0 = performance.now();
      await honest.emitWithAck('sync', job.honestCart, writeSyncUpdate(update!));
      latencies.push(performance.now() - t0);
      await sleep(20);
    }
  })();
  const until = Date.now() + 4000;
  while (Date.now() < until) {
    for (const s of flooders) for (let i = 0; i < 10; i++) s.emit('sync', job.bigCart, step1, () => undefined);
    await sleep(10);
  }
  for (const s of flooders) s.close();
  send({ left: true });
  await sleep(2000);
  measuring = false;
  await probe;
  latencies.sort((a, b) => a - b);
  honest.close();
  send({ done: true, p50: latencies[Math.floor(latencies.length * 0.5)], p99: latencies[Math.floor(latencies.length * 0.99)], probes: latencies.length });
}

async function main(scenario: 'flood' | 'slow'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'livecart-abuse-'));
  const redisServer = await startRedisServer(dir, { appendonly: false });
  const redis = new Redis(redisServer.url);
  const config = { ...DEFAULT_CONFIG, port: 0, host: '127.0.0.1', keyPrefix: 'abuse', jwtSecret: SECRET, logLevel: 'error' as const };
  const node = createCartServer({ config, redis, jwtSecret: SECRET, log: createLogger('error') });
  const port = await node.listen();
  const url = `http://127.0.0.1:${port}`;
  const mint = async (carts: string[]): Promise<string> => (await node.auth.mint({ subject: `u-${randomBytes(3).toString('hex')}`, role: 'customer', carts, ttlSeconds: 3600 })).token;
  const bigCart = `big-${randomBytes(6).toString('hex')}`;
  const honestCart = `honest-${randomBytes(6).toString('hex')}`;
  const cart = await node.registry.acquire(bigCart);
  await cart.applyServerChange((doc) => doc.getMap('cart').set('padding', randomBytes(135_000).toString('hex')), { kind: 'rest', requestId: 'padding' });
  const job: Job = { scenario, url, port, bigCart, bigToken: await mint([bigCart]), honestCart, honestToken: await mint([honestCart]) };

  const child = fork(fileURLToPath(import.meta.url), ['clients', JSON.stringify(job)], { execArgv: process.execArgv });
  type Msg = Record<string, number | boolean>;
  const inbox: Msg[] = [];
  const waiting: Array<(m: Msg) => void> = [];
  child.on('message', (m) => {
    const w = waiting.shift();
    if (w) w(m as Msg);
    else inbox.push(m as Msg);
  });
  const next = (): Promise<Msg> => {
    const m = inbox.shift();
    return m ? Promise.resolve(m) : new Promise((r) => waiting.push(r));
  };
  if (scenario === 'flood') {
    const before = cpu();
    await next();
    const left = cpu();
    // CPU after the clients left, one-second samples, until a second uses < 5 % (at most 300 s).
    let after = left;
    let seconds = 0;
    for (; seconds < 300; seconds++) {
      const t = cpu();
      await sleep(1000);
      if (cpu() - t < 0.05) break;
      after = cpu();
    }
    const probe = await next();
    process.stdout.write(JSON.stringify({ scenario, cpuDuringFloodS: +(left - before).toFixed(2), cpuAfterLeftS: +(after - left).toFixed(2), busySecondsAfterLeft: seconds, honestP50Ms: probe.p50, honestP99Ms: probe.p99, probes: probe.probes }) + '\n');
  } else {
    await next();
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
    for (let i = 0; i < 20; i++) {
      const padding = randomBytes(240 * 1024).toString('hex');
      await cart.applyServerChange((doc) => doc.getMap('cart').set('padding', padding), { kind: 'rest', requestId: `pad-${i}` });
    }
    await sleep(2500);
    global.gc?.();
    const after = process.memoryUsage().rss;
    clearInterval(sampler);
    child.send('stop');
    await next();
    process.stdout.write(JSON.stringify({ scenario, rssBefore: mb(before), rssPeak: mb(peak), rssAfter: mb(after) }) + '\n');
  }
  node.registry.release(cart);
  child.kill();
  await node.close();
  redis.disconnect();
  await redisServer.stop();
  rmSync(dir, { recursive: true, force: true });
}

const [role, arg] = process.argv.slice(2);
if (role === 'clients') await clients(JSON.parse(arg ?? '{}') as Job);
else if (role === 'flood' || role === 'slow') await main(role);
else {
  console.error('usage: tsx bench/session-abuse.ts flood|slow');
  process.exitCode = 2;
}
