/**
 * The honest shoppers of the abuse run, in their own process (forked by bench/abuse.ts) so that the
 * attackers' work does not delay their clocks: carts × 2 client-library devices, device A on node 1
 * and B on node 2, each device from its own loopback address, each editing only its own line
 * (quantity cycle 1…99, as bench/generator.ts), so a quantity seen on the other device identifies
 * the edit. Latency = setQuantity on one device → the other device's view shows it.
 */
import { type CartHandle, LiveCartConnection } from '../../client/index.ts';
import { converge } from '../soak/check.ts';
import type { Convergence } from '../ipc.ts';
import { BENCH_SKUS } from '../system.ts';
import { exponential } from '../stats.ts';
import { honestAddress, http } from './net.ts';

export type HonestRequest =
  | { t: 'setup'; urls: [string, string]; carts: number }
  | { t: 'start'; rate: number }
  | { t: 'stop'; drainMs: number }
  | { t: 'check'; convergeMs: number };

/** Wall clock (Date.now()) of the edit, and its latency (ms; censored edits: the time waited). */
export interface HonestSample {
  at: number;
  ms: number;
  seen: boolean;
}

export type HonestReply =
  | { t: 'ready'; carts: number; devices: number }
  | { t: 'started' }
  | { t: 'stopped'; samples: HonestSample[]; edits: number; errors: string[] }
  | { t: 'checked'; convergence: Convergence }
  | { t: 'failed'; error: string };

const MAX_Q = 99;

interface Device {
  name: string;
  conn: LiveCartConnection;
  handle: CartHandle;
}

interface Pending {
  q: number;
  t0: number;
  at: number;
}

interface Lane {
  sender: Device;
  receiver: Device;
  sku: string;
  lastQ: number;
  seenQ: number;
  pending: Pending[];
}

interface Cart {
  cartId: string;
  token: string;
  devices: Device[];
  lanes: Lane[];
  expected: Map<string, number>;
}

const carts: Cart[] = [];
const samples: HonestSample[] = [];
const errors: string[] = [];
let urls: [string, string] = ['', ''];
let running = false;
let edits = 0;
const now = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const note = (e: string): void => void (errors.length < 50 && errors.push(e));

async function open(cartId: string, token: string, node: number, index: number, name: string): Promise<Device> {
  // Each device from its own address: a shopper, not one IP playing fifty.
  const conn = new LiveCartConnection({ url: urls[node]!, token, device: name, socketOptions: { localAddress: honestAddress(index) } as Record<string, unknown> });
  const handle = await conn.open(cartId);
  await handle.whenSynced();
  handle.on('rejected', (e) => note(`${cartId} ${name}: rejected ${e.code} ${e.detail ?? ''}`));
  handle.on('error', (e) => note(`${cartId} ${name}: error ${e.code} ${e.detail ?? ''}`));
  return { name, conn, handle };
}

async function setup(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await http(`${urls[i % 2]}/v1/carts`, { method: 'POST', from: honestAddress(2 * i) });
    const body = res.json as { cartId: string; token: string };
    if (res.status !== 201) throw new Error(`honest POST /v1/carts: ${res.status} ${res.text.slice(0, 200)}`);
    const a = await open(body.cartId, body.token, 0, 2 * i, 'A');
    const b = await open(body.cartId, body.token, 1, 2 * i + 1, 'B');
    const [skuA, skuB] = [BENCH_SKUS[0], BENCH_SKUS[1]];
    a.handle.add({ sku: skuA, quantity: 1 });
    b.handle.add({ sku: skuB, quantity: 1 });
    await Promise.all([a.handle.whenSaved(), b.handle.whenSaved()]);
    const lane = (sender: Device, receiver: Device, sku: string): Lane => ({ sender, receiver, sku, lastQ: 1, seenQ: 1, pending: [] });
    const cart: Cart = { cartId: body.cartId, token: body.token, devices: [a, b], lanes: [lane(a, b, skuA), lane(b, a, skuB)], expected: new Map([[skuA, 1], [skuB, 1]]) };
    for (const l of cart.lanes) {
      l.receiver.handle.on('change', (view) => {
        const q = view.lines.find((x) => x.lineId === l.sku)?.quantity ?? 0;
        if (q === l.seenQ) return;
        l.seenQ = q;
        const i = l.pending.findIndex((p) => p.q === q);
        if (i < 0) return;
        const t = now();
        for (const p of l.pending.splice(0, i + 1)) samples.push({ at: p.at, ms: t - p.t0, seen: true });
      });
    }
    carts.push(cart);
  }
}

async function editLoop(rate: number): Promise<void> {
  const gap = 1000 / rate;
  let next = now();
  while (running) {
    next += exponential(gap);
    const wait = next - now();
    if (wait > 0) await sleep(wait);
    if (!running) return;
    const cart = carts[Math.floor(Math.random() * carts.length)]!;
    const lane = cart.lanes[Math.random() < 0.5 ? 0 : 1]!;
    // Never 98 unobserved edits in a lane: a quantity must identify one edit.
    if (lane.pending.length >= MAX_Q - 2) continue;
    const q = (lane.lastQ % MAX_Q) + 1;
    lane.lastQ = q;
    lane.pending.push({ q, t0: now(), at: Date.now() });
    cart.expected.set(lane.sku, q);
    lane.sender.handle.setQuantity(lane.sku, q);
    edits += 1;
  }
}

async function stop(drainMs: number): Promise<HonestReply> {
  running = false;
  const until = now() + drainMs;
  while (carts.some((c) => c.lanes.some((l) => l.pending.length > 0)) && now() < until) await sleep(20);
  const t = now();
  for (const c of carts) for (const l of c.lanes) for (const p of l.pending.splice(0)) samples.push({ at: p.at, ms: t - p.t0, seen: false });
  return { t: 'stopped', samples: samples.splice(0), edits, errors: errors.splice(0) };
}

function check(convergeMs: number): Promise<Convergence> {
  const list = carts.map((c, i) => ({ ...c, url: `${urls[i % 2]}/v1/carts/${c.cartId}`, from: honestAddress(2 * i) }));
  return converge(list, convergeMs, errors.splice(0));
}

async function handle(msg: HonestRequest): Promise<HonestReply> {
  switch (msg.t) {
    case 'setup':
      urls = msg.urls;
      await setup(msg.carts);
      return { t: 'ready', carts: carts.length, devices: carts.length * 2 };
    case 'start':
      running = true;
      void editLoop(msg.rate);
      return { t: 'started' };
    case 'stop':
      return stop(msg.drainMs);
    case 'check':
      return { t: 'checked', convergence: await check(msg.convergeMs) };
  }
}

process.on('message', (msg: HonestRequest) => {
  handle(msg).then(
    (reply) => process.send?.(reply),
    (err: unknown) => process.send?.({ t: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies HonestReply),
  );
});
process.on('disconnect', () => process.exit(0));
