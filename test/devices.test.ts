/**
 * Devices with the client library against a real node: offline edits on two devices converge per
 * the quantity rules, and a seeded randomized run of 6 devices (random ops, random disconnects and
 * reconnects) ends with every device equal to the server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CartHandle, LiveCartConnection } from '../client/index.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { int, pick, prng } from './helpers/prng.ts';
import { waitFor } from './helpers/wait.ts';

let node: TestNode;
const conns: LiveCartConnection[] = [];
beforeAll(async () => {
  node = await startNode({ socketRatePerSecond: 10_000, socketBurst: 10_000 });
});
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()));
  await node.close();
});

function connect(token: string, device: string): LiveCartConnection {
  const c = new LiveCartConnection({ url: node.url, token, device, retryMinMs: 20, retryMaxMs: 200, ackTimeoutMs: 3000, socketOptions: { reconnectionDelay: 20, reconnectionDelayMax: 100 } });
  conns.push(c);
  return c;
}

type Sock = { disconnect(): void; connect(): void };
const sock = (c: LiveCartConnection): Sock => (c as unknown as { socket: Sock }).socket;
const lines = (h: CartHandle): Array<[string, number]> => h.view.lines.map((l): [string, number] => [l.lineId, l.quantity]).sort();

async function offline(...cs: LiveCartConnection[]): Promise<void> {
  for (const c of cs) sock(c).disconnect();
  await waitFor(() => expect(cs.every((c) => !c.connected)).toBe(true));
}

async function online(handles: CartHandle[], ...cs: LiveCartConnection[]): Promise<void> {
  for (const c of cs) sock(c).connect();
  await Promise.all(handles.map((h) => h.whenSaved()));
  await Promise.all(handles.map((h) => h.whenSynced()));
}

describe('devices editing offline', () => {
  it('converge per the quantity rules: adds sum, a set wins over unseen adds, remove wins over unseen adds', async () => {
    const { cartId, token } = await node.createCart();
    const phoneConn = connect(token, 'phone');
    const laptopConn = connect(token, 'laptop');
    const phone = await phoneConn.open(cartId);
    const laptop = await laptopConn.open(cartId);
    phone.add({ sku: 'SHOE', quantity: 2 });
    await phone.whenSaved();
    await waitFor(() => expect(lines(laptop)).toEqual([['SHOE', 2]]));
    const both = [phone, laptop];
    const converged = async (expected: Array<[string, number]>): Promise<void> => {
      await waitFor(() => {
        expect(lines(phone)).toEqual(expected);
        expect(lines(laptop)).toEqual(expected);
      });
      const res = await node.request('GET', `/v1/carts/${cartId}`, { token });
      expect(res.body.lines.map((l: { lineId: string; quantity: number }) => [l.lineId, l.quantity]).sort()).toEqual(expected);
    };

    await offline(phoneConn, laptopConn);
    phone.add({ sku: 'SHOE', quantity: 3 });
    laptop.add({ sku: 'SHOE', quantity: 4 });
    laptop.add({ sku: 'BELT', quantity: 1 });
    expect(phone.saveState).toBe('unsaved');
    await online(both, phoneConn, laptopConn);
    await converged([['BELT', 1], ['SHOE', 9]]);

    await offline(phoneConn, laptopConn);
    phone.setQuantity('SHOE', 10);
    laptop.add({ sku: 'SHOE', quantity: 1 });
    await online(both, phoneConn, laptopConn);
    await converged([['BELT', 1], ['SHOE', 10]]);

    await offline(phoneConn, laptopConn);
    phone.remove('BELT');
    laptop.add({ sku: 'BELT', quantity: 2 });
    await online(both, phoneConn, laptopConn);
    await converged([['SHOE', 10]]);

    laptop.add({ sku: 'BELT', quantity: 2 });
    await laptop.whenSaved();
    await converged([['BELT', 2], ['SHOE', 10]]);
  });
});

/** Fail with `describe()` (the devices' state) instead of hanging when `promise` takes too long. */
async function within<T>(ms: number, describe: () => string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(describe())), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('randomized convergence with real devices', () => {
  const SKUS = ['SHOE', 'BELT', 'SOCK', 'CAP', 'BAG', 'MUG'];

  async function runSeed(seed: number): Promise<void> {
    const rand = prng(seed);
    const { cartId, token } = await node.createCart();
    const cs = Array.from({ length: 6 }, (_, i) => connect(token, `device-${i}`));
    const hs = await within(20_000, () => `seed ${seed}: open`, Promise.all(cs.map((c) => c.open(cartId))));
    for (let step = 0; step < 80; step++) {
      const i = int(rand, 0, cs.length - 1);
      const h = hs[i]!;
      const c = cs[i]!;
      const r = rand();
      const sku = pick(rand, SKUS);
      const live = h.view.lines.some((l) => l.lineId === sku);
      if (r < 0.4) h.add({ sku, quantity: int(rand, 1, 4) });
      else if (r < 0.55 && live) h.setQuantity(sku, int(rand, 1, 9));
      else if (r < 0.65 && live) h.remove(sku);
      else if (r < 0.7) h.applyCoupon(pick(rand, ['SPRING', 'VIP']));
      else if (r < 0.8) {
        if (c.connected) sock(c).disconnect();
        else sock(c).connect();
      } else if (r < 0.85) {
        // Let the network catch up a little: a tick for relays in flight.
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (step % 10 === 9) await new Promise((resolve) => setTimeout(resolve, int(rand, 0, 15)));
    }
    for (const c of cs) if (!c.connected) sock(c).connect();
    const state = () => JSON.stringify(hs.map((h, i) => ({ i, save: h.saveState, online: h.online, connected: cs[i]!.connected, version: h.version })));
    await within(20_000, () => `seed ${seed}: not all saved: ${state()}`, Promise.all(hs.map((h) => h.whenSaved())));
    await within(20_000, () => `seed ${seed}: not all synced: ${state()}`, Promise.all(hs.map((h) => h.whenSynced())));
    const res = await node.request('GET', `/v1/carts/${cartId}`, { token });
    const server = res.body.lines.map((l: { lineId: string; quantity: number }) => [l.lineId, l.quantity]).sort();
    await waitFor(() => {
      for (const [i, h] of hs.entries()) {
        expect(lines(h), `seed ${seed} device ${i}`).toEqual(server);
        expect(h.view.coupons, `seed ${seed} device ${i} coupons`).toEqual(res.body.coupons);
        expect(h.version, `seed ${seed} device ${i} version`).toBe(res.body.version);
      }
    }, { timeoutMs: 10_000 });
    await within(20_000, () => `seed ${seed}: close`, Promise.all(cs.map((c) => c.close())));
  }

  it('6 devices, random ops and disconnects: every device ends equal to the server (8 seeds)', async () => {
    for (let seed = 1; seed <= 8; seed++) await runSeed(seed);
  }, 120_000);
});
