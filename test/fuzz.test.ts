/**
 * Seeded fuzzing of both wire entry points (guarantee 7): random and mutated sync / awareness frames,
 * and arguments of the wrong type, must each get a typed answer (an ack with a registry code on
 * Socket.IO, a named 44xx close on /yjs), change nothing in the cart log, and leave the node and its
 * other carts working. Also: floods hit the rate limit, oversize frames close only their connection.
 *
 * Set FUZZ_SEED to replay a run; every assertion message names the seed.
 */
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import * as Y from 'yjs';
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness';
import {
  type Actor,
  CLOSE,
  CartError,
  DEFAULT_LIMITS,
  ERRORS,
  type SyncAck,
  addLine,
  applyCoupon,
  decodeAwarenessEntries,
  decodeSyncFrame,
  decodeWsMessage,
  encodeAwarenessEntries,
  encodeWsAwareness,
  encodeWsSync,
  readCart,
  removeCoupon,
  setAttribute,
  setQuantity,
  validateUpdate,
  writeCartFacts,
  writeSyncStep1,
  writeSyncStep2,
  writeSyncUpdate,
} from '../protocol/index.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { RawDevice, connectSocket } from './helpers/raw-device.ts';
import { once, waitFor } from './helpers/wait.ts';
import { prng } from './helpers/prng.ts';

const SEED = process.env.FUZZ_SEED === undefined ? 0x1ca7c0de : Number(process.env.FUZZ_SEED) >>> 0;
const FUZZER: Actor = { id: 'fuzzer', role: 'customer' };


class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One random mutation of one of `corpus` (or plain random bytes); `how` names it for failure messages. */
function mutate(rng: Rng, corpus: readonly Uint8Array[]): { how: string; bytes: Uint8Array } {
  const base = rng.pick(corpus);
  const at = rng.int(base.length + 1);
  switch (rng.int(8)) {
    case 0:
      return { how: 'random', bytes: rng.bytes(rng.int(64)) };
    case 1: {
      const bytes = base.slice();
      const flips = 1 + rng.int(4);
      for (let i = 0; i < flips && bytes.length > 0; i++) bytes[rng.int(bytes.length)]! ^= 1 << rng.int(8);
      return { how: `flip${flips}`, bytes };
    }
    case 2:
      return { how: `truncate@${at}`, bytes: base.slice(0, at) };
    case 3:
      return rng.int(2) === 0 ? { how: 'duplicate', bytes: concat(base, base) } : { how: `repeat@${at}`, bytes: concat(base.slice(0, at), base.slice(at - rng.int(at + 1)), base.slice(at)) };
    case 4: {
      const other = rng.pick(corpus);
      return { how: `splice@${at}`, bytes: concat(base.slice(0, at), other.slice(rng.int(other.length + 1))) };
    }
    case 5: {
      const bytes = base.slice();
      if (bytes.length > 0) bytes[rng.int(bytes.length)] = rng.pick([0x00, 0x7f, 0x80, 0xff, rng.int(256)]);
      return { how: 'set-byte', bytes };
    }
    case 6:
      return { how: `insert@${at}`, bytes: concat(base.slice(0, at), rng.bytes(1 + rng.int(8)), base.slice(at)) };
    default:
      return { how: 'varint-bomb', bytes: concat(base.slice(0, at), new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), base.slice(at)) };
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b.subarray(0, 96)).toString('hex') + (b.length > 96 ? '…' : '');

/** The cart every fuzzed cart starts from: server facts, one line, a coupon, an attribute. Fixed client id: same bytes every run. */
function seedDoc(): Y.Doc {
  const doc = new Y.Doc();
  doc.clientID = 1;
  writeCartFacts(doc, { schema: 1, status: 'open', currency: 'USD', totals: null, warnings: [] });
  addLine(doc, { sku: 'SHOE-1', quantity: 2, note: 'seed' }, FUZZER);
  applyCoupon(doc, 'SAVE10');
  setAttribute(doc, 'gift', 'no');
  return doc;
}

/**
 * A valid change nobody sent (fixed client id), the raw material of the mutations: the whole change,
 * and its tail alone (which depends on the unsent head).
 */
function pendingUpdates(seed: Y.Doc): { pending: Uint8Array; tail: Uint8Array } {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(seed));
  doc.clientID = 202;
  const updates: Uint8Array[] = [];
  doc.on('update', (u: Uint8Array) => updates.push(u));
  addLine(doc, { sku: 'HAT', quantity: 1, options: { size: 'M' } }, FUZZER);
  setQuantity(doc, 'SHOE-1', 5);
  removeCoupon(doc, 'SAVE10');
  applyCoupon(doc, 'NEW');
  setAttribute(doc, 'gift', 'yes');
  return { pending: Y.mergeUpdates(updates), tail: Y.mergeUpdates(updates.slice(1)) };
}

function awarenessFrame(clientID: number, state: Record<string, unknown>): Uint8Array {
  const doc = new Y.Doc();
  doc.clientID = clientID;
  const awareness = new Awareness(doc);
  awareness.setLocalState(state);
  const frame = encodeAwarenessUpdate(awareness, [clientID]);
  awareness.destroy();
  return frame;
}

/** Write the seed document into the cart's log, as the server would have. */
async function seedCart(node: TestNode, cartId: string, seed: Y.Doc): Promise<void> {
  const res = await node.node.store.append(cartId, 0, Y.encodeStateAsUpdate(seed), 'rest', 3_600_000);
  expect(res.appended).toBe(true);
}

const logVersion = async (node: TestNode, cartId: string): Promise<number> => (await node.node.store.load(cartId, 0)).version;

/**
 * What the server must answer to `bytes` sent as a sync frame by FUZZER, judged against a copy of
 * the cart: an error code, 'OK' (step 1 or a no-op), or 'SKIP' (a valid change: not sent, so the log
 * stays as it is).
 */
function expectedSyncAnswer(mirror: Y.Doc, bytes: Uint8Array, limits = DEFAULT_LIMITS): string {
  try {
    const frame = decodeSyncFrame(bytes);
    if (frame.kind === 'step1') return 'OK';
    const maxBytes = frame.kind === 'step2' ? limits.maxSyncBytes : limits.maxUpdateBytes;
    const summary = validateUpdate(mirror, frame.update, { limits, actor: FUZZER, maxBytes });
    return summary.insertedItems === 0 && summary.newDeletes === 0 ? 'OK' : 'SKIP';
  } catch (err) {
    return err instanceof CartError ? err.code : `INTERNAL ${String(err)}`;
  }
}

function closeOf(code: string): string {
  const close = code === 'E_UPDATE_TOO_LARGE' ? CLOSE.TOO_LARGE : code.startsWith('E_UPDATE_') ? CLOSE.REJECTED : code === 'E_RATE_LIMITED' ? CLOSE.RATE_LIMITED : CLOSE.MALFORMED;
  return `close ${close.code} ${code}`;
}

/** What /yjs must do with `bytes`: 'open' (answered or ignored), 'step1' (answered with a step 2), 'SKIP', or `close <code> <reason>`. */
function expectedWsOutcome(mirror: Y.Doc, bytes: Uint8Array, limits = DEFAULT_LIMITS): string {
  try {
    const msg = decodeWsMessage(bytes);
    switch (msg.kind) {
      case 'sync': {
        if (msg.frame.kind === 'step1') return 'step1';
        const maxBytes = msg.frame.kind === 'step2' ? limits.maxSyncBytes : limits.maxUpdateBytes;
        const summary = validateUpdate(mirror, msg.frame.update, { limits, actor: FUZZER, maxBytes });
        return summary.insertedItems === 0 && summary.newDeletes === 0 ? 'open' : 'SKIP';
      }
      case 'awareness':
        if (msg.update.byteLength > limits.maxAwarenessBytes) return closeOf('E_AWARENESS_INVALID');
        decodeAwarenessEntries(msg.update, 8);
        return 'open';
      case 'query-awareness':
        return 'open';
    }
  } catch (err) {
    if (!(err instanceof CartError)) return `INTERNAL ${String(err)}`;
    return err.code === 'E_MESSAGE_UNKNOWN' ? 'open' : closeOf(err.code);
  }
}

/** Two devices on a cart of their own: proof that the node keeps serving other carts. */
async function otherCartPair(node: TestNode): Promise<{ check(round: number): Promise<void>; close(): void }> {
  const { cartId, token } = await node.createCart();
  const a = await RawDevice.open(node.url, token, cartId);
  const b = await RawDevice.open(node.url, token, cartId);
  return {
    async check(round) {
      const ack = await a.change((d) => setAttribute(d, 'round', String(round)));
      expect(ack.ok, `seed ${SEED}`).toBe(true);
      await waitFor(() => expect(b.doc.getMap('attrs').get('round')).toBe(String(round)));
    },
    close() {
      a.close();
      b.close();
    },
  };
}

async function healthy(node: TestNode): Promise<void> {
  expect(await node.request('GET', '/healthz')).toMatchObject({ status: 200, body: { ok: true } });
}

describe(`fuzzing (seed ${SEED})`, () => {
  let node: TestNode;
  const seed = seedDoc();
  const { pending, tail } = pendingUpdates(seed);
  beforeAll(async () => {
    node = await startNode({ socketRatePerSecond: 100_000, socketBurst: 100_000 });
  });
  afterAll(async () => {
    await node.close();
  });

  it('Socket.IO: random and mutated sync and awareness frames get typed errors and change nothing', async () => {
    const rng = new Rng(SEED);
    const cartId = `fuzz-sio-${SEED.toString(16)}`;
    await seedCart(node, cartId, seed);
    const other = await otherCartPair(node);
    const fuzzer = await RawDevice.open(node.url, await node.token([cartId], { subject: FUZZER.id }), cartId);
    const watcher = await RawDevice.open(node.url, await node.token([cartId]), cartId);
    const mirror = new Y.Doc();
    Y.applyUpdate(mirror, Y.encodeStateAsUpdate(seed));
    try {
      const before = await logVersion(node, cartId);
      const frames = [writeSyncStep1(Y.encodeStateVector(seed)), writeSyncUpdate(pending), writeSyncStep2(pending), writeSyncUpdate(tail)];
      const cases: { how: string; bytes: Uint8Array }[] = [];
      for (let i = 0; i < 400; i++) {
        if (i % 2 === 0) {
          cases.push(mutate(rng, frames));
        } else {
          const inner = mutate(rng, [pending, tail]);
          cases.push({ how: `inner-${inner.how}`, bytes: rng.int(2) === 0 ? writeSyncUpdate(inner.bytes) : writeSyncStep2(inner.bytes) });
        }
      }
      const mismatches: string[] = [];
      const codes = new Map<string, number>();
      let sent = 0;
      for (let i = 0; i < cases.length; i += 40) {
        const batch = cases.slice(i, i + 40).map((c) => ({ ...c, expected: expectedSyncAnswer(mirror, c.bytes) })).filter((c) => c.expected !== 'SKIP');
        const acks = await Promise.all(batch.map((c) => fuzzer.socket.timeout(5000).emitWithAck('sync', cartId, c.bytes).catch(() => null)));
        batch.forEach((c, j) => {
          const ack: SyncAck | null = acks[j]!;
          const got = ack === null ? 'NO ACK' : ack.ok ? 'OK' : ack.error.code;
          if (ack && !ack.ok) codes.set(ack.error.code, (codes.get(ack.error.code) ?? 0) + 1);
          if (got !== c.expected || (ack && !ack.ok && !Object.hasOwn(ERRORS, ack.error.code))) mismatches.push(`${c.how} ${hex(c.bytes)}: expected ${c.expected}, got ${got}`);
        });
        sent += batch.length;
      }
      expect(mismatches, `seed ${SEED}`).toEqual([]);
      expect(sent, `seed ${SEED}`).toBeGreaterThan(350);
      const rejected = [...codes.values()].reduce((a, b) => a + b, 0);
      expect(rejected, `seed ${SEED}: ${JSON.stringify([...codes])}`).toBeGreaterThan(300);
      expect(codes.has('E_INTERNAL'), `seed ${SEED}`).toBe(false);
      for (const code of ['E_MESSAGE_MALFORMED', 'E_UPDATE_MALFORMED', 'E_UPDATE_MISSING_DEPENDENCY']) expect(codes.has(code), `seed ${SEED}: ${code} never seen in ${JSON.stringify([...codes])}`).toBe(true);
      expect(codes.has('E_UPDATE_INVALID_VALUE') || codes.has('E_UPDATE_FORBIDDEN_FIELD'), `seed ${SEED}: ${JSON.stringify([...codes])}`).toBe(true);

      const presence = [awarenessFrame(303, { device: 'fuzz', viewing: 'SHOE-1' }), encodeAwarenessEntries([{ clientId: 304, clock: 1, state: { device: 'x'.repeat(100) } }])];
      for (let i = 0; i < 200; i++) fuzzer.socket.emit('awareness', cartId, mutate(rng, presence).bytes);

      await healthy(node);
      expect(await logVersion(node, cartId), `seed ${SEED}`).toBe(before);
      expect(readCart(watcher.doc)).toEqual(readCart(seed));
      await other.check(1);
      // The fuzzing socket itself is still served: presence and changes go through.
      const seen = new Map<number, unknown>();
      watcher.socket.on('awareness', (_id, frame) => {
        try {
          for (const e of decodeAwarenessEntries(new Uint8Array(frame), 64)) seen.set(e.clientId, e.state?.device);
        } catch {
          // Not ours to judge here; the check below looks for one specific entry.
        }
      });
      fuzzer.socket.emit('awareness', cartId, encodeAwarenessEntries([{ clientId: 0x7ffffff0, clock: 0x7ffffff0, state: { device: 'after-fuzz' } }]));
      await waitFor(() => expect(seen.get(0x7ffffff0)).toBe('after-fuzz'));
      expect(await fuzzer.change((d) => setAttribute(d, 'gift', 'after')), `seed ${SEED}`).toEqual({ ok: true, version: before + 1, prev: before });
      await waitFor(() => expect(watcher.doc.getMap('attrs').get('gift')).toBe('after'));
    } finally {
      fuzzer.close();
      watcher.close();
      other.close();
    }
  });

  it('Socket.IO: arguments of the wrong type are answered or dropped, never thrown', async () => {
    const cartId = `fuzz-args-${SEED.toString(16)}`;
    await seedCart(node, cartId, seed);
    const other = await otherCartPair(node);
    const socket = (await connectSocket(node.url, await node.token([cartId], { subject: FUZZER.id }))) as unknown as Socket;
    const ask = (event: string, ...args: unknown[]): Promise<unknown> => socket.timeout(3000).emitWithAck(event, ...args);
    const frame = writeSyncStep1(new Uint8Array([0]));
    try {
      const huge = 'c'.repeat(100_000);
      expect(await ask('join', 12345678, {})).toMatchObject({ ok: false, error: { code: 'E_CART_ID_INVALID' } });
      expect(await ask('join', huge, {})).toMatchObject({ ok: false, error: { code: 'E_CART_ID_INVALID' } });
      expect(await ask('join', { cartId }, {})).toMatchObject({ ok: false, error: { code: 'E_CART_ID_INVALID' } });
      expect(await ask('join', [cartId], {})).toMatchObject({ ok: false, error: { code: 'E_CART_ID_INVALID' } });
      expect(await ask('join', null, null)).toMatchObject({ ok: false, error: { code: 'E_CART_ID_INVALID' } });
      expect(await ask('sync', cartId, frame)).toMatchObject({ ok: false, error: { code: 'E_CART_NOT_JOINED' } });
      socket.emit('join', cartId, {});
      socket.emit('join', cartId);
      expect(await ask('join', cartId, 'not-an-object')).toMatchObject({ ok: true, version: 1 });
      expect(await ask('join', cartId, { device: 42 })).toMatchObject({ ok: true, version: 1 });

      for (const bad of ['a string', 42, { 0: 0, 1: 0 }, [0, 0], null, true, [new Uint8Array([0, 0])], { type: 'Buffer', data: [0, 0] }]) {
        expect(await ask('sync', cartId, bad), JSON.stringify(bad)).toMatchObject({ ok: false, error: { code: 'E_MESSAGE_MALFORMED' } });
      }
      expect(await ask('sync', 42, frame)).toMatchObject({ ok: false, error: { code: 'E_CART_ID_INVALID' } });
      expect(await ask('sync', huge, frame)).toMatchObject({ ok: false, error: { code: 'E_CART_ID_INVALID' } });
      expect(await ask('sync', 'another-cart-0001', frame)).toMatchObject({ ok: false, error: { code: 'E_CART_NOT_JOINED' } });
      socket.emit('sync', cartId, writeSyncUpdate(pending));
      socket.emit('sync', cartId, writeSyncUpdate(pending), 'not-a-function');
      socket.emit('sync');
      for (const args of [[], [42], [cartId], [cartId, 'text'], [cartId, 7], [huge, new Uint8Array(4)], [cartId, [1, 2, 3]], [{}, {}]]) socket.emit('awareness', ...args);
      expect(await ask('leave', 42)).toEqual({ ok: true });
      expect(await ask('leave', huge)).toEqual({ ok: true });
      socket.emit('leave');
      socket.emit('leave', { cartId });
      socket.emit('no-such-event', cartId, 1, 2, 3);

      // Still joined, still served, and nothing reached the log.
      expect(await ask('sync', cartId, frame)).toEqual({ ok: true, version: 1, prev: 1 });
      expect(await logVersion(node, cartId)).toBe(1);
      await healthy(node);
      await other.check(1);

      // A binary placeholder pointing at an attachment that does not exist: the parser refuses the
      // packet and drops this connection only.
      const disconnected = once<string>(socket, 'disconnect');
      socket.emit('sync', cartId, { _placeholder: true, num: 7 }, new Uint8Array([1]), () => undefined);
      expect(await disconnected).toMatch(/transport|server|parse/);
      await healthy(node);
      await other.check(2);
    } finally {
      socket.close();
      other.close();
    }
  });

  it('/yjs: random and mutated messages close with a named 44xx code or are ignored, and change nothing', async () => {
    const rng = new Rng(SEED ^ 0x9e3779b9);
    const cartId = `fuzz-yws-${SEED.toString(16)}`;
    await seedCart(node, cartId, seed);
    const other = await otherCartPair(node);
    const url = `ws://127.0.0.1:${node.port}/yjs/${cartId}?token=${await node.token([cartId], { subject: FUZZER.id })}`;
    const mirror = new Y.Doc();
    Y.applyUpdate(mirror, Y.encodeStateAsUpdate(seed));
    const probe = encodeWsSync(writeSyncStep1(Y.encodeStateVector(new Y.Doc())));

    interface Conn {
      ws: WebSocket;
      step2: number;
      closed: { code: number; reason: string } | null;
    }
    const open = async (): Promise<Conn> => {
      // Earlier connections must be gone from the server: presence ownership outlives them otherwise.
      await waitFor(() => expect(node.node.registry.peek(cartId)?.users ?? 0).toBe(0));
      const ws = new WebSocket(url);
      const conn: Conn = { ws, step2: 0, closed: null };
      ws.on('message', (data: Buffer) => {
        if (data[0] === 0 && data[1] === 1) conn.step2 += 1;
      });
      ws.on('close', (code, reason) => (conn.closed = { code, reason: reason.toString() }));
      await once(ws, 'open');
      return conn;
    };

    try {
      const before = await logVersion(node, cartId);
      const corpus = [
        encodeWsSync(writeSyncStep1(Y.encodeStateVector(seed))),
        encodeWsSync(writeSyncUpdate(pending)),
        encodeWsSync(writeSyncStep2(pending)),
        encodeWsSync(writeSyncUpdate(tail)),
        encodeWsAwareness(awarenessFrame(404, { device: 'fuzz', viewing: null })),
        new Uint8Array([3]),
      ];
      const mismatches: string[] = [];
      const outcomes = new Map<string, number>();
      let conn = await open();
      let step1s = 0;
      for (let i = 0; i < 250; i++) {
        let c: { how: string; bytes: Uint8Array };
        if (i % 3 === 2) {
          const inner = mutate(rng, [pending, tail]);
          c = { how: `inner-${inner.how}`, bytes: encodeWsSync(rng.int(2) === 0 ? writeSyncUpdate(inner.bytes) : writeSyncStep2(inner.bytes)) };
        } else {
          c = mutate(rng, corpus);
        }
        if (c.bytes.length === 0) continue;
        const expected = expectedWsOutcome(mirror, c.bytes);
        if (expected === 'SKIP') continue;
        if (expected === 'step1') step1s += 1;
        conn.ws.send(c.bytes);
        conn.ws.send(probe);
        step1s += 1;
        const current = conn;
        await waitFor(() => expect(current.closed !== null || current.step2 >= step1s).toBe(true), { intervalMs: 2 });
        const got = current.closed ? `close ${current.closed.code} ${current.closed.reason}` : 'open';
        const want = expected === 'step1' ? 'open' : expected;
        outcomes.set(got, (outcomes.get(got) ?? 0) + 1);
        if (got !== want) mismatches.push(`${c.how} ${hex(c.bytes)}: expected ${want}, got ${got}`);
        if (current.closed) {
          expect(current.closed.code, `seed ${SEED}`).toBeGreaterThanOrEqual(4400);
          expect(current.closed.code, `seed ${SEED}`).toBeLessThan(4500);
          conn = await open();
          step1s = 0;
        }
      }
      conn.ws.close();
      expect(mismatches, `seed ${SEED}`).toEqual([]);
      const closes = [...outcomes].filter(([k]) => k.startsWith('close')).reduce((n, [, v]) => n + v, 0);
      expect(closes, `seed ${SEED}: ${JSON.stringify([...outcomes])}`).toBeGreaterThan(50);
      expect(outcomes.get('open') ?? 0, `seed ${SEED}: ${JSON.stringify([...outcomes])}`).toBeGreaterThan(10);
      for (const close of [`close 4400 E_MESSAGE_MALFORMED`, `close 4422 E_UPDATE_MALFORMED`]) expect(outcomes.has(close), `seed ${SEED}: ${JSON.stringify([...outcomes])}`).toBe(true);

      await healthy(node);
      expect(await logVersion(node, cartId), `seed ${SEED}`).toBe(before);
      await other.check(1);
    } finally {
      other.close();
    }
  });
});

describe(`floods and oversize frames (seed ${SEED})`, () => {
  it('Socket.IO: a burst above socketBurst gets E_RATE_LIMITED for the excess; accepted frames are durable; the process survives', async () => {
    const node = await startNode({ socketBurst: 20, socketRatePerSecond: 5 });
    try {
      const { cartId, token } = await node.createCart();
      const device = await RawDevice.open(node.url, token, cartId);
      const before = await logVersion(node, cartId);
      // 100 independent valid changes (each from its own replica), sent at once.
      const updates = Array.from({ length: 100 }, (_, i) => {
        const doc = new Y.Doc();
        Y.applyUpdate(doc, Y.encodeStateAsUpdate(device.doc));
        let update: Uint8Array | null = null;
        doc.on('update', (u: Uint8Array) => (update = u));
        setAttribute(doc, 'flood', `v${i}`);
        return update!;
      });
      const acks = await Promise.all(updates.map((u) => device.socket.timeout(5000).emitWithAck('sync', cartId, writeSyncUpdate(u))));
      const ok = acks.filter((a) => a.ok).length;
      const limited = acks.filter((a) => !a.ok && a.error.code === 'E_RATE_LIMITED');
      expect(ok + limited.length).toBe(100);
      expect(ok).toBeGreaterThan(5);
      expect(ok).toBeLessThanOrEqual(25);
      expect(limited.every((a) => !a.ok && a.error.retryable)).toBe(true);
      expect(acks.slice(0, 10).every((a) => a.ok)).toBe(true);
      expect(await logVersion(node, cartId)).toBe(before + ok);
      await healthy(node);
      // The bucket refills: the device is served again.
      await waitFor(async () => expect(await device.syncFromServer()).toMatchObject({ ok: true }), { timeoutMs: 5000, intervalMs: 100 });
      device.close();
    } finally {
      await node.close();
    }
  });

  it('/yjs: a burst above socketBurst closes that connection with 4429', async () => {
    const node = await startNode({ socketBurst: 20, socketRatePerSecond: 5 });
    try {
      const { cartId, token } = await node.createCart();
      const ws = new WebSocket(`ws://127.0.0.1:${node.port}/yjs/${cartId}?token=${token}`);
      await once(ws, 'open');
      const closed = new Promise<[number, string]>((resolve) => ws.on('close', (code, reason) => resolve([code, reason.toString()])));
      const probe = encodeWsSync(writeSyncStep1(new Uint8Array([0])));
      for (let i = 0; i < 100; i++) ws.send(probe);
      expect(await closed).toEqual([CLOSE.RATE_LIMITED.code, 'E_RATE_LIMITED']);
      await healthy(node);
    } finally {
      await node.close();
    }
  });

  it('Socket.IO: a frame above maxSyncBytes gets E_UPDATE_TOO_LARGE; one above maxHttpBufferSize closes only that connection', async () => {
    const node = await startNode({ maxHttpBufferSize: 64 * 1024, limits: { ...DEFAULT_LIMITS, maxUpdateBytes: 8 * 1024, maxSyncBytes: 16 * 1024 } });
    try {
      const { cartId, token } = await node.createCart();
      const big = await RawDevice.open(node.url, token, cartId);
      const bystander = await RawDevice.open(node.url, token, cartId);
      const other = await otherCartPair(node);
      const before = await logVersion(node, cartId);
      expect(await big.sendFrame(writeSyncUpdate(new Uint8Array(20 * 1024)))).toMatchObject({ ok: false, error: { code: 'E_UPDATE_TOO_LARGE' } });
      expect(big.socket.connected).toBe(true);
      const disconnected = once<string>(big.socket, 'disconnect');
      big.socket.emit('sync', cartId, writeSyncUpdate(new Uint8Array(100 * 1024)), () => undefined);
      expect(await disconnected).toMatch(/transport (close|error)/);
      expect(await logVersion(node, cartId)).toBe(before);
      expect(bystander.socket.connected).toBe(true);
      expect(await bystander.change((d) => setAttribute(d, 'still', 'here'))).toEqual({ ok: true, version: before + 1, prev: before });
      await other.check(1);
      await healthy(node);
      big.close();
      bystander.close();
      other.close();
    } finally {
      await node.close();
    }
  });
});
