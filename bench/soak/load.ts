/**
 * The soak's devices, in the load generator process: a steady edit load on live carts while
 * devices join, leave and go offline (their connection dropped, edits kept in local storage) and
 * come back, and carts are created and retired (their devices closed, the cart left to expire).
 *
 * Edit identity: a cart has up to three device slots, slot k editing only line BENCH_SKUS[k]. A
 * device that joins a free slot first syncs, so its edits are causally after every earlier edit
 * of that line and win; the last quantity set on a line is therefore what every device and REST
 * must show at the end, offline or not.
 */
import { type CartHandle, LiveCartConnection } from '../../client/index.ts';
import type { Convergence, InitParams } from '../ipc.ts';
import { exponential, summarize } from '../stats.ts';
import { BENCH_SKUS } from '../system.ts';
import { http, shopperAddress } from '../abuse/net.ts';
import { type RestGet, converge, restGet } from './check.ts';
import type { SoakCounts, SoakParams, SoakResult } from './types.ts';

const SLOTS = 3;
const MAX_Q = 99;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const now = (): number => performance.now();
const pick = <T>(list: readonly T[]): T | undefined => list[Math.floor(Math.random() * list.length)];

/** The socket of a connection: the library has no public "go offline" (tests reach it the same way). */
type RawSocket = { connect(): void; disconnect(): void };
const socketOf = (conn: LiveCartConnection): RawSocket => (conn as unknown as { socket: RawSocket }).socket;

interface SoakDevice {
  name: string;
  slot: number;
  conn: LiveCartConnection;
  handle: CartHandle;
  offline: boolean;
}

interface SoakCart {
  cartId: string;
  token: string;
  /** The loopback address its REST calls come from. */
  from: string;
  devices: SoakDevice[];
  /** Slots with a device or one being opened. */
  taken: Set<number>;
  /** sku → the last quantity set on it (what every device must show at the end). */
  expected: Map<string, number>;
  lastEditAt: number;
  /** Edits made on it so far (it is retired after SoakParams.cartEdits). */
  edits: number;
  /** No more edits or churn: being retired. */
  retiring: boolean;
  busy: boolean;
}

interface Retired {
  cartId: string;
  token: string;
  from: string;
  at: number;
  node: number;
}

export class SoakLoad {
  private carts: SoakCart[] = [];
  private readonly retired: Retired[] = [];
  private readonly counts: SoakCounts = { edits: 0, offlineEdits: 0, joins: 0, leaves: 0, offlines: 0, cartsCreated: 0, cartsRetired: 0, cartsExpired: 0, cartsNotExpired: 0, cartsExpiryPending: 0 };
  private readonly lags: number[] = [];
  private readonly acks: number[] = [];
  private readonly clientErrors: string[] = [];
  private readonly retireProblems: string[] = [];
  private readonly actionErrors: string[] = [];
  private readonly inflight = new Set<Promise<unknown>>();
  private nextDevice = 1;
  private nextCartNode = 0;

  constructor(private readonly init: InitParams) {}

  async run(p: SoakParams): Promise<SoakResult> {
    for (let i = 0; i < p.carts; i++) this.carts.push(await this.createCart());
    const t0 = now();
    const end = t0 + p.durationMs;
    const churn = this.churnLoop(p, end);
    const fired = await this.editLoop(p, t0, end);
    await churn;
    await Promise.allSettled([...this.inflight]);
    // Everyone back online, then the gate.
    for (const c of this.carts) for (const d of c.devices) if (d.offline) this.reconnect(d);
    const convergence = await this.converge(this.carts, p.convergeMs);
    await this.checkExpiry(p, true);
    const errors = this.clientErrors.splice(0);
    if (errors.length > 0) {
      convergence.ok = false;
      convergence.clientErrors.push(...errors);
    }
    return {
      counts: this.counts,
      achievedRate: fired / (p.durationMs / 1000),
      schedLag: summarize(this.lags),
      ackLatency: summarize(this.acks),
      convergence,
      retireProblems: this.retireProblems,
      actionErrors: this.actionErrors,
      liveCarts: this.carts.length,
      liveDevices: this.carts.reduce((n, c) => n + c.devices.length, 0),
      generatorRss: process.memoryUsage().rss,
    };
  }

  async closeAll(): Promise<number> {
    const devices = this.carts.flatMap((c) => c.devices);
    this.carts = [];
    await Promise.allSettled(devices.map((d) => d.conn.close()));
    return devices.length;
  }

  // -------------------------------------------------------------------------------------------
  // Edits

  private async editLoop(p: SoakParams, start: number, end: number): Promise<number> {
    const meanGap = 1000 / p.rate;
    let next = start + exponential(meanGap);
    let fired = 0;
    // A cart not edited for a third of its TTL gets an edit anyway, so no live cart expires.
    const keepAliveMs = (p.cartTtlSeconds * 1000) / 3;
    let lastKeepAlive = start;
    while (next < end) {
      const t = now();
      if (t < next) {
        await sleep(Math.min(next - t, 50));
        continue;
      }
      const cart = pick(this.carts.filter((c) => !c.retiring && c.devices.length > 0));
      if (cart) {
        this.edit(cart, next);
        fired += 1;
        if (cart.edits >= p.cartEdits && this.retirable(cart)) this.track(this.retire(cart, p).catch((err: unknown) => this.actionErrors.push(err instanceof Error ? err.message : String(err))));
      }
      next += exponential(meanGap);
      if (t - lastKeepAlive > 1000) {
        lastKeepAlive = t;
        for (const c of this.carts) if (!c.retiring && c.devices.length > 0 && t - c.lastEditAt > keepAliveMs) this.edit(c, t);
      }
    }
    return fired;
  }

  private edit(cart: SoakCart, intended: number): void {
    const device = pick(cart.devices);
    if (!device) return;
    const sku = BENCH_SKUS[device.slot]!;
    const q = ((cart.expected.get(sku) ?? 0) % MAX_Q) + 1;
    const t0 = now();
    this.lags.push(t0 - intended);
    try {
      device.handle.setQuantity(sku, q);
    } catch (err) {
      this.noteError(`${cart.cartId} ${device.name}: setQuantity: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    cart.expected.set(sku, q);
    cart.lastEditAt = t0;
    cart.edits += 1;
    this.counts.edits += 1;
    if (device.offline) this.counts.offlineEdits += 1;
    else if (this.counts.edits % 10 === 0) {
      this.track(device.handle.whenSaved().then(
        () => this.acks.push(now() - t0),
        (err: unknown) => this.noteError(`${cart.cartId} ${device.name}: whenSaved: ${err instanceof Error ? err.message : String(err)}`),
      ));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Churn: one action per tick, in rotation

  private async churnLoop(p: SoakParams, end: number): Promise<void> {
    const actions = [() => this.join(), () => this.goOffline(p), () => this.leave(), () => this.replaceCart(p)];
    for (let k = 0; now() + p.churnMs < end; k++) {
      await sleep(p.churnMs);
      this.track(actions[k % actions.length]!().catch((err: unknown) => this.actionErrors.push(err instanceof Error ? err.message : String(err))));
      await this.checkExpiry(p, false);
    }
  }

  private track(task: Promise<unknown>): void {
    this.inflight.add(task);
    void task.finally(() => this.inflight.delete(task));
  }

  private idle(): SoakCart[] {
    return this.carts.filter((c) => !c.retiring && !c.busy);
  }

  private async join(): Promise<void> {
    const cart = pick(this.idle().filter((c) => c.taken.size < SLOTS));
    if (!cart) return;
    const slot = [...Array(SLOTS).keys()].find((s) => !cart.taken.has(s))!;
    cart.taken.add(slot);
    cart.busy = true;
    try {
      const d = await this.openDevice(cart, slot, Math.random() < 0.5 ? 0 : 1);
      const sku = BENCH_SKUS[slot]!;
      if (!d.handle.view.lines.some((l) => l.lineId === sku)) {
        d.handle.add({ sku, quantity: 1 });
        cart.expected.set(sku, 1);
      }
      cart.devices.push(d);
      this.counts.joins += 1;
    } catch (err) {
      cart.taken.delete(slot);
      throw err;
    } finally {
      cart.busy = false;
    }
  }

  private async leave(): Promise<void> {
    const cart = pick(this.idle().filter((c) => c.devices.filter((d) => !d.offline).length >= 2));
    const device = cart && pick(cart.devices.filter((d) => !d.offline));
    if (!cart || !device) return;
    cart.devices.splice(cart.devices.indexOf(device), 1);
    cart.busy = true;
    try {
      await device.handle.whenSaved();
      await device.conn.close();
      cart.taken.delete(device.slot);
      this.counts.leaves += 1;
    } finally {
      cart.busy = false;
    }
  }

  private async goOffline(p: SoakParams): Promise<void> {
    const cart = pick(this.idle().filter((c) => c.devices.length >= 1 && c.devices.every((d) => !d.offline)));
    const device = cart && pick(cart.devices);
    if (!cart || !device) return;
    device.offline = true;
    socketOf(device.conn).disconnect();
    this.counts.offlines += 1;
    const [min, max] = p.offlineMs;
    await sleep(min + Math.random() * (max - min));
    this.reconnect(device);
  }

  private reconnect(device: SoakDevice): void {
    if (!device.offline) return;
    device.offline = false;
    socketOf(device.conn).connect();
  }

  /** Retire one cart (every device saved, checked, closed) and create one in its place. */
  private async replaceCart(p: SoakParams): Promise<void> {
    const cart = pick(this.idle().filter((c) => this.retirable(c)));
    if (cart) await this.retire(cart, p);
  }

  private retirable(cart: SoakCart): boolean {
    return !cart.retiring && !cart.busy && cart.devices.every((d) => !d.offline);
  }

  private async retire(cart: SoakCart, p: SoakParams): Promise<void> {
    cart.retiring = true;
    const check = await this.converge([cart], p.convergeMs);
    if (!check.ok) this.retireProblems.push(...(check.problems.length > 0 ? check.problems : [`${cart.cartId}: ${check.unsaved} devices unsaved`]));
    this.carts.splice(this.carts.indexOf(cart), 1);
    await Promise.allSettled(cart.devices.map((d) => d.conn.close()));
    // The worker may still re-price the last edit: its write restarts the TTL, so count from now.
    this.retired.push({ cartId: cart.cartId, token: cart.token, from: cart.from, at: now(), node: this.counts.cartsRetired % 2 });
    this.counts.cartsRetired += 1;
    this.carts.push(await this.createCart());
  }

  /** Retired carts whose TTL (plus slack for a late re-pricing and Redis's lazy expiry) has passed must be gone. */
  private async checkExpiry(p: SoakParams, final: boolean): Promise<void> {
    const dueAfter = p.cartTtlSeconds * 1000 + 15_000;
    for (const r of [...this.retired]) {
      if (now() - r.at < dueAfter) {
        if (final) this.counts.cartsExpiryPending += 1;
        continue;
      }
      this.retired.splice(this.retired.indexOf(r), 1);
      const res: RestGet = await restGet(`${this.init.urls[r.node]}/v1/carts/${r.cartId}`, r.token, r.from);
      if (res.status === 404) this.counts.cartsExpired += 1;
      else this.counts.cartsNotExpired += 1;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Carts and devices

  private async createCart(): Promise<SoakCart> {
    const index = this.nextCartNode++;
    const node = index % 2;
    // Every cart (its REST calls) and every device from its own loopback address: shoppers, not one IP.
    const from = shopperAddress(index);
    const res = await http(`${this.init.urls[node]}/v1/carts`, { method: 'POST', from });
    const body = res.json as { cartId?: string; token?: string } | null;
    if (res.status !== 201 || !body?.cartId || !body.token) throw new Error(`POST /v1/carts: ${res.status} ${res.text.slice(0, 200)}`);
    const cart: SoakCart = { cartId: body.cartId, token: body.token, from, devices: [], taken: new Set([0, 1]), expected: new Map(), lastEditAt: now(), edits: 0, retiring: false, busy: false };
    // Device A on node 1, device B on node 2: both nodes host every cart.
    for (const slot of [0, 1]) {
      const d = await this.openDevice(cart, slot, slot);
      d.handle.add({ sku: BENCH_SKUS[slot]!, quantity: 1 });
      cart.expected.set(BENCH_SKUS[slot]!, 1);
      cart.devices.push(d);
    }
    this.counts.cartsCreated += 1;
    return cart;
  }

  private async openDevice(cart: SoakCart, slot: number, node: number): Promise<SoakDevice> {
    const n = this.nextDevice++;
    const name = `d${n}`;
    const syncCheckMs = this.init.syncCheckMs;
    const socketOptions = { localAddress: shopperAddress(25_000 + n) } as Record<string, unknown>;
    const conn = new LiveCartConnection({ url: this.init.urls[node]!, token: cart.token, device: name, socketOptions, ...(syncCheckMs === null ? {} : { syncCheckMs }) });
    try {
      const handle = await conn.open(cart.cartId);
      await handle.whenSynced();
      handle.on('rejected', (e) => this.noteError(`${cart.cartId} ${name}: rejected ${e.code} ${e.detail ?? ''}`));
      handle.on('error', (e) => this.noteError(`${cart.cartId} ${name}: error ${e.code} ${e.detail ?? ''}`));
      return { name, slot, conn, handle, offline: false };
    } catch (err) {
      await conn.close();
      throw err;
    }
  }

  private noteError(msg: string): void {
    if (this.clientErrors.length < 50) this.clientErrors.push(msg);
  }

  // -------------------------------------------------------------------------------------------
  // The gate

  private converge(list: SoakCart[], timeoutMs: number): Promise<Convergence> {
    return converge(list.map((c, i) => ({ ...c, url: `${this.init.urls[i % 2]}/v1/carts/${c.cartId}` })), timeoutMs);
  }

}
