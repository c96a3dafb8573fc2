/**
 * The load generator: a child process of bench/run.ts (IPC requests, see ipc.ts). It plays every
 * device with the client library (LiveCartConnection / CartHandle, MemoryStorage), fires edits
 * with Poisson arrivals, and times them in this one process, on this one clock
 * (performance.now()): the local transaction on one device → its observation on another.
 *
 * Edit identity: each cart has two lines, one per device; device A only ever sets the quantity of
 * its line and device B of its own, each to the next value of the cycle 1, 2, …, 99, 1, … So a
 * device seeing the other's line at quantity q has integrated every edit up to the pending one
 * that set q (Yjs applies one client's changes in order): those edits are observed now.
 */
import { type CartHandle, type CartView, LiveCartConnection } from '../client/index.ts';
import type {
  Convergence,
  FactsResult,
  GeneratorApi,
  HistoryParams,
  HistoryResult,
  IdleParams,
  IdleResult,
  InitParams,
  JoinParams,
  JoinResult,
  Method,
  Placement,
  PriceParams,
  PriceResult,
  Request,
  Response,
  RestParams,
  RestResult,
  SetupCartsParams,
  SetupCartsResult,
  StepParams,
  StepResult,
  TouchParams,
} from './ipc.ts';
import { type CpuSample, cpuDelta, sampleCpu } from './proc.ts';
import { SoakLoad } from './soak/load.ts';
import { exponential, summarize } from './stats.ts';
import { BENCH_SKUS } from './system.ts';

const MAX_Q = 99;
const LINE_A = BENCH_SKUS[0];
const LINE_B = BENCH_SKUS[1];

let init: InitParams | null = null;
const cfg = (): InitParams => {
  if (!init) throw new Error('init first');
  return init;
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => performance.now();
const nextQ = (q: number): number => (q % MAX_Q) + 1;

// ---------------------------------------------------------------------------------------------
// Devices and carts

interface Device {
  name: string;
  node: number;
  conn: LiveCartConnection;
  handle: CartHandle;
  /** Listeners run on every 'change' of this device's view. */
  watchers: Array<(view: CartView, t: number) => void>;
}

interface Edit {
  q: number;
  t0: number;
  /** Fired inside the measured window. */
  counted: boolean;
}

/** Edits of one device to its own line, as another device (or itself, for facts) observes them. */
interface Track {
  pending: Edit[];
  lastQ: number;
}

interface Direction {
  sender: Device;
  receiver: Device;
  lineId: string;
  lastQ: number;
  relay: Track;
  /** Facts tracking per device of the cart (sender and receiver). */
  facts: Track[];
}

interface Cart {
  cartId: string;
  token: string;
  devices: Device[];
  dirs: Direction[];
  /** lineId → the quantity every device must end up showing (the last acknowledged set or add). */
  expected: Map<string, number>;
}

const clientErrors: string[] = [];
const noteClientError = (msg: string): void => {
  if (clientErrors.length < 50) clientErrors.push(msg);
};

let carts: Cart[] = [];
/** Devices opened outside `carts` (history, joins). */
const extraDevices: Device[] = [];

interface RestResponse {
  status: number;
  body: unknown;
}

async function rest(method: string, url: string, token?: string, body?: unknown): Promise<RestResponse> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed };
}

async function createCart(node: number): Promise<{ cartId: string; token: string }> {
  const res = await rest('POST', `${cfg().urls[node]}/v1/carts`);
  const body = res.body as { cartId?: string; token?: string } | null;
  if (res.status !== 201 || !body?.cartId || !body.token) throw new Error(`POST /v1/carts: ${res.status} ${JSON.stringify(res.body)}`);
  return { cartId: body.cartId, token: body.token };
}

async function openDevice(cartId: string, token: string, node: number, name: string): Promise<Device> {
  const syncCheckMs = cfg().syncCheckMs;
  const conn = new LiveCartConnection({ url: cfg().urls[node]!, token, device: name, ...(syncCheckMs === null ? {} : { syncCheckMs }) });
  const handle = await conn.open(cartId);
  await handle.whenSynced();
  const device: Device = { name, node, conn, handle, watchers: [] };
  handle.on('change', (view) => {
    const t = now();
    for (const w of device.watchers) w(view, t);
  });
  handle.on('rejected', (e) => noteClientError(`${cartId} ${name}: rejected ${e.code} ${e.detail ?? ''}`));
  handle.on('error', (e) => noteClientError(`${cartId} ${name}: error ${e.code} ${e.detail ?? ''}`));
  return device;
}

async function closeDevice(d: Device): Promise<void> {
  await d.conn.close();
}

/** Run `fn` over `items`, at most `limit` at once. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return out;
}

const lineOf = (view: CartView, lineId: string): CartView['lines'][number] | undefined => view.lines.find((l) => l.lineId === lineId);

/** The quantity the line's facts were priced for, or null when it is not priced. */
function pricedQuantity(line: CartView['lines'][number] | undefined): number | null {
  if (!line || !line.unitPrice || !line.lineTotal || !line.discount || line.unitPrice.amount <= 0) return null;
  const q = (line.lineTotal.amount + line.discount.amount) / line.unitPrice.amount;
  return Number.isInteger(q) ? q : null;
}

// ---------------------------------------------------------------------------------------------
// Measurement state of a step

interface StepState {
  trackFacts: boolean;
  latencies: number[];
  factsLatencies: number[];
  factsSuperseded: number;
  outstanding: number;
  factsOutstanding: number;
  unexpected: number;
  ambiguous: number;
}

let step: StepState | null = null;

/** Pop the pending edits up to the one that set `q`; they are all observed at `t`. */
function observe(track: Track, q: number, t: number, facts: boolean): void {
  const s = step;
  const i = track.pending.findIndex((e) => e.q === q);
  if (i < 0) {
    if (s) s.unexpected += 1;
    return;
  }
  if (s && track.pending.length >= MAX_Q - 1) s.ambiguous += 1;
  const done = track.pending.splice(0, i + 1);
  if (!s) return;
  done.forEach((e, k) => {
    if (!e.counted) return;
    if (facts) {
      s.factsLatencies.push(t - e.t0);
      s.factsOutstanding -= 1;
      if (k < done.length - 1) s.factsSuperseded += 1;
    } else {
      s.latencies.push(t - e.t0);
      s.outstanding -= 1;
    }
  });
}

function wireCart(cart: Cart): void {
  for (const dir of cart.dirs) {
    dir.receiver.watchers.push((view, t) => {
      const q = lineOf(view, dir.lineId)?.quantity ?? 0;
      if (q === dir.relay.lastQ) return;
      dir.relay.lastQ = q;
      observe(dir.relay, q, t, false);
    });
    cart.devices.forEach((device, di) => {
      const track = dir.facts[di]!;
      device.watchers.push((view, t) => {
        if (!step?.trackFacts) return;
        const line = lineOf(view, dir.lineId);
        const q = pricedQuantity(line);
        if (q === null || q !== line?.quantity || q === track.lastQ) return;
        track.lastQ = q;
        observe(track, q, t, true);
      });
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Convergence

function canonical(view: { status: unknown; currency: unknown; lines: Array<Record<string, unknown>>; coupons: unknown; attributes: unknown; totals: unknown; warnings: unknown }): string {
  const lines = view.lines.map((l) => [l.lineId, l.sku, l.options, l.quantity, l.note, l.unitPrice, l.listPrice, l.discount, l.lineTotal, l.available, l.addedPrice, l.warnings]);
  return JSON.stringify([view.status, view.currency, lines, view.coupons, view.attributes, view.totals, view.warnings]);
}

/** What is wrong with one cart's devices right now (null: all agree and show what is expected). */
function cartProblem(cart: Cart, requirePriced: boolean): { problem: string; lost: number } | null {
  const views = cart.devices.map((d) => d.handle.view);
  const first = canonical(views[0]! as unknown as Parameters<typeof canonical>[0]);
  let lost = 0;
  const problems: string[] = [];
  for (let i = 1; i < views.length; i++) {
    if (canonical(views[i]! as unknown as Parameters<typeof canonical>[0]) !== first) problems.push(`device ${cart.devices[i]!.name} differs from ${cart.devices[0]!.name}`);
  }
  for (const [lineId, q] of cart.expected) {
    for (const [i, v] of views.entries()) {
      const line = lineOf(v, lineId);
      const shown = line?.quantity ?? 0;
      if (shown !== q) {
        lost += 1;
        problems.push(`${cart.devices[i]!.name} shows ${lineId}=${shown}, last acknowledged ${q}`);
      } else if (requirePriced && pricedQuantity(line) !== q) {
        problems.push(`${cart.devices[i]!.name}: ${lineId} not priced for ${q}`);
      }
    }
  }
  if (views[0]!.lines.length !== cart.expected.size) problems.push(`${views[0]!.lines.length} lines, expected ${cart.expected.size}`);
  return problems.length === 0 ? null : { problem: `${cart.cartId}: ${problems.slice(0, 3).join('; ')}`, lost };
}

async function restProblem(cart: Cart, node: number): Promise<{ problem: string; lost: number } | null> {
  const res = await rest('GET', `${cfg().urls[node]}/v1/carts/${cart.cartId}`, cart.token);
  if (res.status !== 200) return { problem: `${cart.cartId}: REST GET ${res.status}`, lost: 0 };
  const body = res.body as Parameters<typeof canonical>[0];
  const device = canonical(cart.devices[0]!.handle.view as unknown as Parameters<typeof canonical>[0]);
  if (canonical(body) === device) return null;
  let lost = 0;
  for (const [lineId, q] of cart.expected) {
    const line = body.lines.find((l) => l.lineId === lineId);
    if ((line?.quantity ?? 0) !== q) lost += 1;
  }
  return { problem: `${cart.cartId}: REST view on node ${node + 1} differs from the devices'`, lost };
}

/**
 * Wait (bounded) until every device's edits are acknowledged, then until every cart's devices show
 * the same state, the expected quantities, priced, and the same as REST on a node.
 */
async function converge(list: Cart[], timeoutMs: number, requirePriced = true): Promise<Convergence> {
  const t0 = now();
  const deadline = t0 + timeoutMs;
  const devices = list.flatMap((c) => c.devices);
  await Promise.race([Promise.allSettled(devices.map((d) => d.handle.whenSaved())), sleep(timeoutMs)]);
  const unsaved = devices.filter((d) => d.handle.saveState !== 'saved').length;
  let problems: Array<{ problem: string; lost: number }> = [];
  for (;;) {
    problems = list.map((c) => cartProblem(c, requirePriced)).filter((p): p is { problem: string; lost: number } => p !== null);
    if (problems.length === 0) {
      const restChecks = await pool(list, 16, (c, i) => restProblem(c, i % 2));
      problems = restChecks.filter((p): p is { problem: string; lost: number } => p !== null);
      if (problems.length === 0) break;
    }
    if (now() >= deadline) break;
    await sleep(250);
  }
  const errors = clientErrors.splice(0);
  const ok = problems.length === 0 && unsaved === 0 && errors.length === 0;
  return {
    ok,
    ms: now() - t0,
    carts: list.length,
    devices: devices.length,
    unsaved,
    divergedCarts: problems.length,
    lostEdits: problems.reduce((n, p) => n + p.lost, 0),
    problems: problems.slice(0, 5).map((p) => p.problem),
    clientErrors: errors,
  };
}

// ---------------------------------------------------------------------------------------------
// Requests

async function setupOne(i: number, placement: Placement, extraSku: string | undefined): Promise<Cart> {
  const home = i % 2;
  const [nodeA, nodeB] = placement === 'cross' ? [0, 1] : [home, home];
  const { cartId, token } = await createCart(home);
  const a = await openDevice(cartId, token, nodeA, 'A');
  const b = await openDevice(cartId, token, nodeB, 'B');
  a.handle.add({ sku: LINE_A, quantity: 1 });
  b.handle.add({ sku: LINE_B, quantity: 1 });
  const expected = new Map<string, number>([
    [LINE_A, 1],
    [LINE_B, 1],
  ]);
  if (extraSku) {
    a.handle.add({ sku: extraSku, quantity: 1 });
    expected.set(extraSku, 1);
  }
  await Promise.all([a.handle.whenSaved(), b.handle.whenSaved()]);
  const track = (): Track => ({ pending: [], lastQ: 1 });
  const cart: Cart = {
    cartId,
    token,
    devices: [a, b],
    dirs: [
      { sender: a, receiver: b, lineId: LINE_A, lastQ: 1, relay: track(), facts: [track(), track()] },
      { sender: b, receiver: a, lineId: LINE_B, lastQ: 1, relay: track(), facts: [track(), track()] },
    ],
    expected,
  };
  wireCart(cart);
  return cart;
}

async function setupCarts(p: SetupCartsParams): Promise<SetupCartsResult> {
  const t0 = now();
  const created = await pool(
    Array.from({ length: p.count }, (_, i) => i),
    16,
    (i) => setupOne(i, p.placement, p.extraSku),
  );
  carts.push(...created);
  const convergence = await converge(carts, p.convergeMs);
  return { carts: carts.length, devices: carts.length * 2, ms: now() - t0, convergence };
}

async function runStep(p: StepParams): Promise<StepResult> {
  if (carts.length === 0) throw new Error('no carts: setupCarts first');
  const s: StepState = { trackFacts: p.trackFacts, latencies: [], factsLatencies: [], factsSuperseded: 0, outstanding: 0, factsOutstanding: 0, unexpected: 0, ambiguous: 0 };
  // Start from a clean slate: nothing pending from an earlier step.
  for (const c of carts) {
    for (const d of c.dirs) {
      d.relay.pending = [];
      d.relay.lastQ = lineOf(d.receiver.handle.view, d.lineId)?.quantity ?? 0;
      d.facts.forEach((f, i) => {
        f.pending = [];
        f.lastQ = pricedQuantity(lineOf(c.devices[i]!.handle.view, d.lineId)) ?? -1;
      });
    }
  }
  step = s;
  const meanGap = 1000 / p.rate;
  const start = now() + 20;
  const measureStart = start + p.warmupMs;
  const measureEnd = measureStart + p.measureMs;
  let next = start + exponential(meanGap);
  let sent = 0;
  const lags: number[] = [];
  let cpuA: CpuSample | null = null;
  let cpuB: CpuSample | null = null;
  const pids = cfg().pids;

  const fire = (intended: number): void => {
    const cart = carts[Math.floor(Math.random() * carts.length)]!;
    const dir = cart.dirs[Math.random() < 0.5 ? 0 : 1]!;
    const q = nextQ(dir.lastQ);
    dir.lastQ = q;
    const t0 = now();
    const counted = intended >= measureStart && intended < measureEnd;
    const edit: Edit = { q, t0, counted };
    dir.relay.pending.push(edit);
    if (p.trackFacts) for (const f of dir.facts) f.pending.push(edit);
    if (counted) {
      sent += 1;
      s.outstanding += 1;
      if (p.trackFacts) s.factsOutstanding += dir.facts.length;
      lags.push(t0 - intended);
    }
    cart.expected.set(dir.lineId, q);
    dir.sender.handle.setQuantity(dir.lineId, q);
  };

  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const t = now();
      while (next <= t) {
        if (next >= measureStart && cpuA === null) cpuA = sampleCpu(pids);
        if (next >= measureEnd) {
          cpuB = sampleCpu(pids);
          resolve();
          return;
        }
        fire(next);
        next += exponential(meanGap);
      }
      setTimeout(tick, Math.max(0, next - now()));
    };
    setTimeout(tick, Math.max(0, start - now()));
  });
  const a = cpuA ?? sampleCpu(pids);
  const b = cpuB ?? sampleCpu(pids);
  const cpu = cpuDelta(a, b);
  const deliveredInWindow = s.latencies.length;

  // Drain: wait for the window's edits to be observed (and priced, when tracked).
  const drainUntil = now() + p.drainMs;
  while ((s.outstanding > 0 || (p.trackFacts && s.factsOutstanding > 0)) && now() < drainUntil) await sleep(20);
  // Edits still unobserved count with the time waited so far: a lower bound, not dropped.
  const censoredAt = now();
  for (const c of carts) {
    for (const d of c.dirs) {
      for (const e of d.relay.pending) if (e.counted) s.latencies.push(censoredAt - e.t0);
      if (p.trackFacts) for (const f of d.facts) for (const e of f.pending) if (e.counted) s.factsLatencies.push(censoredAt - e.t0);
    }
  }
  const latency = summarize(s.latencies);
  const facts: FactsResult | null = p.trackFacts ? { latency: summarize(s.factsLatencies), superseded: s.factsSuperseded, unobserved: s.factsOutstanding } : null;
  const unobserved = s.outstanding;
  step = null;
  const convergence = await converge(carts, p.convergeMs);
  const window = cpu.wallSeconds;
  return {
    rate: p.rate,
    sent,
    achievedRate: window > 0 ? sent / window : 0,
    deliveredRate: window > 0 ? deliveredInWindow / window : 0,
    latency,
    unobserved,
    unexpected: s.unexpected,
    ambiguous: s.ambiguous,
    schedLag: summarize(lags),
    cpu,
    generatorBound: (cpu.percent.generator ?? 0) > 90,
    facts,
    convergence,
  };
}

async function idleDevices(p: IdleParams): Promise<IdleResult> {
  const t0 = now();
  const have = carts.length * 2;
  const more = Math.max(0, Math.ceil((p.totalDevices - have) / 2));
  const base = carts.length;
  const created = await pool(
    Array.from({ length: more }, (_, i) => base + i),
    p.concurrency,
    async (i): Promise<Cart> => {
      const home = i % 2;
      const [nodeA, nodeB] = p.placement === 'cross' ? [0, 1] : [home, home];
      const { cartId, token } = await createCart(home);
      const a = await openDevice(cartId, token, nodeA, 'A');
      const expected = new Map<string, number>();
      for (const [k, sku] of BENCH_SKUS.slice(0, 3).entries()) {
        a.handle.add({ sku, quantity: k + 1 });
        expected.set(sku, k + 1);
      }
      await a.handle.whenSaved();
      const b = await openDevice(cartId, token, nodeB, 'B');
      return { cartId, token, devices: [a, b], dirs: [], expected };
    },
  );
  carts.push(...created);
  const convergence = await converge(carts, p.convergeMs);
  return { devices: carts.length * 2, carts: carts.length, setupMs: now() - t0, convergence, generatorRss: process.memoryUsage().rss };
}

let historyDevice: Device | null = null;

async function buildHistory(p: HistoryParams): Promise<HistoryResult> {
  const t0 = now();
  const { cartId, token } = await createCart(0);
  const d = await openDevice(cartId, token, 0, 'history');
  historyDevice = d;
  const skus = BENCH_SKUS.slice(0, p.lines);
  for (const sku of skus) d.handle.add({ sku, quantity: 1 });
  await d.handle.whenSaved();
  for (let i = 0; i < p.edits; i++) {
    d.handle.setQuantity(skus[i % skus.length]!, (i % (MAX_Q - 1)) + 2);
    if ((i + 1) % p.burst === 0) await d.handle.whenSaved();
  }
  await d.handle.whenSaved();
  // Let the revalidations of the last edits land: the version stops moving.
  let last = -1;
  while (d.handle.version !== last) {
    last = d.handle.version;
    await sleep(1000);
  }
  return { cartId, token, version: d.handle.version, lines: d.handle.view.lines.length, edits: p.edits, ms: now() - t0 };
}

/** Reopen the history cart on a node and make one more edit (after a restart: triggers compaction). */
async function touchHistory(p: TouchParams): Promise<{ version: number }> {
  if (historyDevice) await closeDevice(historyDevice);
  const d = await openDevice(p.cartId, p.token, p.node, 'history');
  historyDevice = d;
  const line = d.handle.view.lines[0];
  if (!line) throw new Error('history cart has no lines');
  d.handle.setQuantity(line.lineId, nextQ(line.quantity));
  await d.handle.whenSaved();
  await sleep(500);
  return { version: d.handle.version };
}

async function joins(p: JoinParams): Promise<JoinResult> {
  const times: number[] = [];
  const failures: string[] = [];
  for (let i = -p.warmup; i < p.count; i++) {
    const t0 = now();
    const conn = new LiveCartConnection({ url: cfg().urls[p.node]!, token: p.token, device: `joiner-${i}`, openTimeoutMs: 30_000 });
    try {
      const handle = await conn.open(p.cartId);
      await handle.whenSynced();
      const t = now() - t0;
      const quantities = (v: CartView): string => v.lines.map((l) => `${l.lineId}=${l.quantity}`).join(',');
      if (handle.view.lines.length !== p.expectLines) failures.push(`join ${i}: ${handle.view.lines.length} lines, expected ${p.expectLines}`);
      else if (historyDevice && quantities(handle.view) !== quantities(historyDevice.handle.view)) failures.push(`join ${i}: quantities differ from the hosting device's`);
      else if (i >= 0) times.push(t);
    } catch (err) {
      failures.push(`join ${i}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      await conn.close();
    }
    await sleep(p.pauseMs);
  }
  return { times, failures };
}

async function priceChanges(p: PriceParams): Promise<PriceResult> {
  const devices = carts.flatMap((c) => c.devices);
  const latencies: number[] = [];
  const allDevices: number[] = [];
  let missing = 0;
  let price = lineOf(devices[0]!.handle.view, p.sku)?.listPrice?.amount ?? 1000;
  for (let k = 0; k < p.changes; k++) {
    price += 100;
    const target = price;
    const seen = new Map<Device, number>();
    let t0 = 0;
    const watchers = devices.map((d) => {
      const w = (view: CartView, t: number): void => {
        if (!seen.has(d) && lineOf(view, p.sku)?.listPrice?.amount === target) seen.set(d, t - t0);
      };
      d.watchers.push(w);
      return [d, w] as const;
    });
    t0 = now();
    const res = await rest('PATCH', `${cfg().urls[k % 2]}/v1/catalog/products/${p.sku}`, cfg().adminToken, { price: { amount: target, currency: 'USD' } });
    if (res.status !== 200) throw new Error(`PATCH product: ${res.status} ${JSON.stringify(res.body)}`);
    const deadline = now() + p.timeoutMs;
    while (seen.size < devices.length && now() < deadline) await sleep(5);
    for (const [d, w] of watchers) d.watchers.splice(d.watchers.indexOf(w), 1);
    latencies.push(...seen.values());
    missing += devices.length - seen.size;
    if (seen.size === devices.length) allDevices.push(Math.max(...seen.values()));
    await sleep(p.pauseMs);
  }
  return { latencies, allDevices, missing, devices: devices.length };
}

async function restLoad(p: RestParams): Promise<RestResult> {
  const made = await pool(
    Array.from({ length: p.carts }, (_, i) => i),
    16,
    (i) => createCart(i % 2),
  );
  const skus = BENCH_SKUS.slice(0, 5);
  const acks = new Map<string, number>();
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const inflight = new Set<Promise<void>>();
  const pids = cfg().pids;
  const gap = 1000 / p.rate;
  const start = now() + 20;
  const measureStart = start + p.warmupMs;
  const measureEnd = measureStart + p.measureMs;
  let sent = 0;
  let n = 0;
  let cpuA: CpuSample | null = null;
  let cpuB: CpuSample | null = null;
  const send = (intended: number): void => {
    const cart = made[Math.floor(Math.random() * made.length)]!;
    const sku = skus[Math.floor(Math.random() * skus.length)]!;
    const node = Math.random() < 0.5 ? 0 : 1;
    const counted = intended >= measureStart && intended < measureEnd;
    if (counted) sent += 1;
    const t0 = now();
    const task = rest('POST', `${cfg().urls[node]}/v1/carts/${cart.cartId}/lines`, cart.token, { sku, quantity: 1 }).then(
      (res) => {
        const t = now() - t0;
        if (res.status === 201) {
          const key = `${cart.cartId} ${sku}`;
          acks.set(key, (acks.get(key) ?? 0) + 1);
          if (counted) latencies.push(t);
        } else errors[String(res.status)] = (errors[String(res.status)] ?? 0) + 1;
      },
      (err: unknown) => {
        const key = err instanceof Error ? err.message : String(err);
        errors[key] = (errors[key] ?? 0) + 1;
      },
    );
    inflight.add(task);
    void task.finally(() => inflight.delete(task));
  };
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const t = now();
      for (;;) {
        const next = start + n * gap;
        if (next > t) break;
        if (next >= measureStart && cpuA === null) cpuA = sampleCpu(pids);
        if (next >= measureEnd) {
          cpuB = sampleCpu(pids);
          resolve();
          return;
        }
        send(next);
        n += 1;
      }
      setTimeout(tick, Math.max(0, start + n * gap - now()));
    };
    setTimeout(tick, Math.max(0, start - now()));
  });
  const cpu = cpuDelta(cpuA ?? sampleCpu(pids), cpuB ?? sampleCpu(pids));
  await Promise.allSettled([...inflight]);
  // Check: both nodes' REST views agree, priced, and each line shows the number of acknowledged adds.
  const t0 = now();
  const deadline = t0 + p.convergeMs;
  let problems: Array<{ problem: string; lost: number }> = [];
  for (;;) {
    problems = (
      await pool(made, 16, async (c) => {
        const [r1, r2] = await Promise.all([rest('GET', `${cfg().urls[0]}/v1/carts/${c.cartId}`, c.token), rest('GET', `${cfg().urls[1]}/v1/carts/${c.cartId}`, c.token)]);
        if (r1.status !== 200 || r2.status !== 200) return { problem: `${c.cartId}: GET ${r1.status}/${r2.status}`, lost: 0 };
        const v1 = r1.body as Parameters<typeof canonical>[0];
        const v2 = r2.body as Parameters<typeof canonical>[0];
        const issues: string[] = [];
        let lost = 0;
        if (canonical(v1) !== canonical(v2)) issues.push('nodes disagree');
        for (const sku of skus) {
          const want = Math.min(MAX_Q, acks.get(`${c.cartId} ${sku}`) ?? 0);
          const line = v1.lines.find((l) => l.lineId === sku) as CartView['lines'][number] | undefined;
          if ((line?.quantity ?? 0) !== want) {
            lost += 1;
            issues.push(`${sku}=${line?.quantity ?? 0}, acknowledged ${want}`);
          } else if (want > 0 && pricedQuantity(line) !== want) issues.push(`${sku} not priced`);
        }
        return issues.length === 0 ? null : { problem: `${c.cartId}: ${issues.join('; ')}`, lost };
      })
    ).filter((x): x is { problem: string; lost: number } => x !== null);
    if (problems.length === 0 || now() >= deadline) break;
    await sleep(250);
  }
  const convergence: Convergence = {
    ok: problems.length === 0 && Object.keys(errors).length === 0,
    ms: now() - t0,
    carts: made.length,
    devices: 0,
    unsaved: 0,
    divergedCarts: problems.length,
    lostEdits: problems.reduce((k, x) => k + x.lost, 0),
    problems: [...problems.slice(0, 5).map((x) => x.problem), ...Object.entries(errors).map(([k, v]) => `${v} × ${k}`)],
    clientErrors: [],
  };
  const window = cpu.wallSeconds;
  return { rate: p.rate, sent, achievedRate: window > 0 ? sent / window : 0, latency: summarize(latencies), errors, cpu, generatorBound: (cpu.percent.generator ?? 0) > 90, convergence };
}

let soakLoad: SoakLoad | null = null;

async function closeAll(): Promise<{ closed: number }> {
  const soaked = soakLoad ? await soakLoad.closeAll() : 0;
  soakLoad = null;
  const devices = [...carts.flatMap((c) => c.devices), ...extraDevices, ...(historyDevice ? [historyDevice] : [])];
  carts = [];
  extraDevices.length = 0;
  historyDevice = null;
  await pool(devices, 64, closeDevice);
  return { closed: devices.length + soaked };
}

// ---------------------------------------------------------------------------------------------
// IPC

type Handlers = { [M in Method]: (p: Parameters<GeneratorApi[M]>[0]) => Promise<ReturnType<GeneratorApi[M]>> | ReturnType<GeneratorApi[M]> };

const handlers: Handlers = {
  init: (p) => {
    init = p;
    return { pid: process.pid };
  },
  setupCarts,
  step: runStep,
  idleDevices,
  buildHistory,
  touchHistory,
  joins,
  priceChanges,
  rest: restLoad,
  closeAll,
  soak: (p) => {
    soakLoad = new SoakLoad(cfg());
    return soakLoad.run(p);
  },
};

process.on('message', (msg: Request) => {
  const handler = handlers[msg.method] as ((p: unknown) => unknown) | undefined;
  const reply = (r: Response): void => {
    if (process.connected) process.send?.(r);
  };
  if (!handler) return reply({ id: msg.id, ok: false, error: `unknown method ${msg.method}` });
  Promise.resolve()
    .then(() => handler(msg.params))
    .then(
      (result) => reply({ id: msg.id, ok: true, result }),
      (err: unknown) => reply({ id: msg.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
    );
});
// The orchestrator went away: so do we.
process.on('disconnect', () => process.exit(0));
