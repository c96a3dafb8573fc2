import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startRedisServer } from '../core/embedded-redis.ts';
import { LiveCartConnection, MemoryStorage, type CartHandle } from '../client/index.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { waitFor } from './helpers/wait.ts';

const conns: LiveCartConnection[] = [];
const nodes: TestNode[] = [];
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()));
  for (const n of nodes) await n.close().catch(() => undefined);
});
function connect(url: string, token: string, extra: Partial<ConstructorParameters<typeof LiveCartConnection>[0]> = {}): LiveCartConnection {
  const c = new LiveCartConnection({ url, token, retryMinMs: 50, retryMaxMs: 300, ackTimeoutMs: 2000, socketOptions: { reconnectionDelay: 50, reconnectionDelayMax: 200 }, ...extra });
  conns.push(c);
  return c;
}
const qty = (h: CartHandle) => h.view.lines.map((l) => [l.lineId, l.quantity]).sort();
type Sock = { listeners(e: string): Array<(...a: unknown[]) => void>; off(e: string): void; on(e: string, f: (...a: unknown[]) => void): void };
const sock = (c: LiveCartConnection) => (c as unknown as { socket: Sock }).socket;

describe('client library under faults', () => {
  it('Redis down: edits stay unsaved (kept locally), then are saved once Redis is back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lc-redis-outage-'));
    let redis = await startRedisServer(dir, { appendonly: true });
    const node = await startNode({}, redis.url);
    nodes.push(node);
    const { cartId, token } = await node.createCart();
    const a = await connect(node.url, token).open(cartId);
    a.add({ sku: 'A1', quantity: 1 });
    await a.whenSaved();
    await redis.stop();
    const states: string[] = [];
    a.on('status', (s) => states.push(s.saveState));
    a.add({ sku: 'B2', quantity: 2 });
    await waitFor(() => expect(states).toContain('unsaved'), { timeoutMs: 10_000 });
    redis = await startRedisServer(dir, { appendonly: true, port: redis.port });
    await a.whenSaved();
    const b = await connect(node.url, token).open(cartId);
    expect(qty(b)).toEqual([['A1', 1], ['B2', 2]]);
    await node.close();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a lost relay is detected as a gap and pulled', async () => {
    const node = await startNode();
    nodes.push(node);
    const { cartId, token } = await node.createCart();
    const a = await connect(node.url, token).open(cartId);
    const cb = connect(node.url, token);
    const b = await cb.open(cartId);
    const s = sock(cb);
    const [orig] = s.listeners('sync');
    let dropped = 0;
    s.off('sync');
    s.on('sync', (...args: unknown[]) => {
      if (args[2] && dropped === 0) {
        dropped++;
        return;
      }
      orig!(...args);
    });
    a.add({ sku: 'A1', quantity: 1 });
    await a.whenSaved();
    a.add({ sku: 'B2', quantity: 1 });
    await a.whenSaved();
    await waitFor(() => expect(qty(b)).toEqual([['A1', 1], ['B2', 1]]), { timeoutMs: 4000 });
    expect(dropped).toBe(1);
    expect(b.version).toBe(a.version);
  });

  it('rate limit → retried; every edit lands', async () => {
    const node = await startNode({ socketRatePerSecond: 5, socketBurst: 5 });
    nodes.push(node);
    const { cartId, token } = await node.createCart();
    const a = await connect(node.url, token).open(cartId);
    for (let i = 0; i < 20; i++) a.add({ sku: `S${i}`, quantity: 1 });
    await a.whenSaved();
    const b = await connect(node.url, token).open(cartId);
    expect(b.view.lines).toHaveLength(20);
  });

  it('server restart: clients reconnect, rejoin and push what they did meanwhile', async () => {
    const node = await startNode();
    const { cartId, token } = await node.createCart();
    const a = await connect(node.url, token).open(cartId);
    const b = await connect(node.url, token).open(cartId);
    a.add({ sku: 'A1', quantity: 1 });
    await a.whenSaved();
    await node.close();
    await waitFor(() => expect(a.online).toBe(false));
    a.add({ sku: 'B2', quantity: 2 });
    expect(a.saveState).toBe('unsaved');
    const node2 = await startNode({ port: node.port, keyPrefix: node.config.keyPrefix });
    nodes.push(node2);
    await waitFor(() => expect(a.saveState).toBe('saved'), { timeoutMs: 8000 });
    await waitFor(() => expect(qty(b)).toEqual([['A1', 1], ['B2', 2]]), { timeoutMs: 8000 });
    expect(b.online).toBe(true);
  });

  it('many carts on one connection', async () => {
    const node = await startNode();
    nodes.push(node);
    const c1 = await node.createCart();
    const tok = await node.token([c1.cartId, 'cart-second-1'], { subject: 'u-multi' });
    const conn = connect(node.url, tok, { storage: new MemoryStorage() });
    const [x, y] = await Promise.all([conn.open(c1.cartId), conn.open('cart-second-1')]);
    expect(await conn.open(c1.cartId)).toBe(x);
    x!.add({ sku: 'X', quantity: 1 });
    y!.add({ sku: 'Y', quantity: 1 });
    await Promise.all([x!.whenSaved(), y!.whenSaved()]);
    expect(qty(y!)).toEqual([['Y', 1]]);
  });
});
