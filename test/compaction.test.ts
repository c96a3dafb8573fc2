/**
 * Compaction (workers/compaction.ts): folding a long cart log into one snapshot garbage-collects
 * deleted content, trims the log, loses nothing (also when appends race with it) and loads exactly
 * the same cart; the BullMQ path triggers it automatically after `compactAfterChanges` changes.
 */
import type { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import * as Y from 'yjs';
import { type Actor, addLine, readCart, removeLine, roots, setCoupons, setNote, setQuantity } from '../protocol/index.ts';
import { createLogger } from '../core/log.ts';
import { CartStore } from '../core/redis/cart-store.ts';
import { compactCart, startCompactionWorker } from '../workers/compaction.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { RawDevice } from './helpers/raw-device.ts';
import { waitFor } from './helpers/wait.ts';
import { prng } from './helpers/prng.ts';

const TTL_MS = 24 * 3600_000;
const ACTOR: Actor = { id: 'history-writer', role: 'customer' };
const SKUS = Array.from({ length: 40 }, (_, i) => `SKU-${String(i).padStart(2, '0')}`);

let node: TestNode;
beforeAll(async () => {
  node = await startNode();
});
afterAll(async () => {
  await node.close();
});

/**
 * A writer of cart history: one Y.Doc changed with cart ops (add, set, remove, note and coupon edits),
 * each change captured as one update, the way a device would send it.
 */
class HistoryWriter {
  readonly doc = new Y.Doc();
  private readonly pending: Uint8Array[] = [];
  private readonly rand: () => number;
  constructor(seed: number) {
    this.rand = prng(seed);
    this.doc.on('update', (u: Uint8Array) => this.pending.push(u));
  }

  /** Make `count` changes; returns their updates (one per change), oldest first. */
  edits(count: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    // Bounded: every iteration changes something except a note/set on a missing line, which is rare.
    for (let i = 0; out.length < count && i < count * 4; i++) {
      this.step(i);
      if (this.pending.length > 0) out.push(this.pending.length === 1 ? this.pending[0]! : Y.mergeUpdates(this.pending));
      this.pending.length = 0;
    }
    if (out.length !== count) throw new Error(`only ${out.length} of ${count} edits changed the doc`);
    return out;
  }

  private step(i: number): void {
    const sku = SKUS[Math.floor(this.rand() * SKUS.length)]!;
    const present = roots(this.doc).lines.has(sku);
    const r = this.rand();
    if (!present || r < 0.3) addLine(this.doc, { sku, quantity: 1 + Math.floor(this.rand() * 3) }, ACTOR);
    else if (r < 0.55) setQuantity(this.doc, sku, 1 + Math.floor(this.rand() * 9));
    else if (r < 0.65) removeLine(this.doc, sku);
    else if (r < 0.95) setNote(this.doc, sku, `note ${i} ${'x'.repeat(Math.floor(this.rand() * 40))}`);
    else setCoupons(this.doc, this.rand() < 0.5 ? ['SAVE10'] : ['SAVE10', `C${i % 7}`]);
  }
}

/** Append `updates` from `fromVersion` on, pipelined in batches (the CAS keeps them in order). */
async function appendAll(store: CartStore, cartId: string, fromVersion: number, updates: Uint8Array[], batch = 500): Promise<number> {
  let version = fromVersion;
  for (let start = 0; start < updates.length; start += batch) {
    const slice = updates.slice(start, start + batch);
    const results = await Promise.all(slice.map((u, i) => store.append(cartId, version + i, u, 'client', TTL_MS)));
    for (const [i, res] of results.entries()) {
      if (!res.appended || res.version !== version + i + 1) throw new Error(`append ${version + i + 1} failed: ${JSON.stringify(res)}`);
    }
    version += slice.length;
  }
  return version;
}

async function loadDoc(store: CartStore, cartId: string): Promise<{ doc: Y.Doc; version: number; snapshot: Uint8Array | null; tail: number }> {
  const loaded = await store.load(cartId, 0);
  const doc = new Y.Doc();
  Y.transact(doc, () => {
    if (loaded.snapshot) Y.applyUpdate(doc, loaded.snapshot);
    for (const u of loaded.updates) Y.applyUpdate(doc, u);
  });
  return { doc, version: loaded.version, snapshot: loaded.snapshot, tail: loaded.updates.length };
}

/** Same cart view, same state vector, same raw content of every root. */
function expectSameCart(actual: Y.Doc, expected: Y.Doc): void {
  expect(readCart(actual)).toEqual(readCart(expected));
  expect(Y.encodeStateVector(actual)).toEqual(Y.encodeStateVector(expected));
  expect(actual.toJSON()).toEqual(expected.toJSON());
}

function newCartId(): string {
  return `compact-${Math.random().toString(36).slice(2, 12)}`;
}

describe('compactCart', () => {
  it('folds a 10,000-edit history into a smaller snapshot that loads the same cart', async () => {
    const store = node.node.store;
    const cartId = newCartId();
    const writer = new HistoryWriter(42);
    const updates = writer.edits(10_000);
    const logBytes = updates.reduce((sum, u) => sum + u.byteLength, 0);
    expect(await appendAll(store, cartId, 0, updates)).toBe(10_000);
    expect(await store.logLength(cartId)).toBe(10_000);
    const before = await loadDoc(store, cartId);
    expectSameCart(before.doc, writer.doc);
    expect(readCart(writer.doc).lines.length).toBeGreaterThan(10);

    const result = await compactCart(store, cartId);
    expect(result).toMatchObject({ compacted: true, version: 10_000 });

    const keys = store.keys(cartId);
    const snapshot = await node.redis.getBuffer(keys.snap);
    expect(snapshot?.byteLength).toBe(result.bytes);
    expect(await node.redis.hget(keys.meta, 'snapVersion')).toBe('10000');
    expect(await store.logLength(cartId)).toBe(0);
    expect(await node.redis.pttl(keys.snap)).toBeGreaterThan(0);
    // Deleted content is collected: the snapshot carries only the live values (overwritten map
    // entries stay as empty, content-less items), far smaller than the log or the same state without GC.
    expect(result.bytes).toBeLessThan(logBytes / 4);
    const noGc = new Y.Doc({ gc: false });
    Y.transact(noGc, () => {
      for (const u of updates) Y.applyUpdate(noGc, u);
    });
    expect(result.bytes).toBeLessThan(Y.encodeStateAsUpdate(noGc).byteLength / 4);
    noGc.destroy();
    const liveValues = Object.values(writer.doc.toJSON()).reduce((n, root) => n + Object.keys(root as object).length, 0);
    const withContent = Y.decodeUpdate(new Uint8Array(snapshot!)).structs.filter((s) => s instanceof Y.Item && !(s.content instanceof Y.ContentDeleted));
    expect(withContent).toHaveLength(liveValues);

    const after = await loadDoc(store, cartId);
    expect(after.version).toBe(10_000);
    expect(after.snapshot).not.toBeNull();
    expect(after.tail).toBe(0);
    expectSameCart(after.doc, writer.doc);

    // Compacting again at the same version changes nothing.
    expect(await compactCart(store, cartId)).toMatchObject({ compacted: false, version: 10_000 });

    // A device joining now gets the whole cart from the snapshot.
    const token = await node.token([cartId], { subject: ACTOR.id });
    const device = await RawDevice.open(node.url, token, cartId);
    try {
      expect(readCart(device.doc)).toEqual(readCart(writer.doc));
      expect(Y.encodeStateVector(device.doc)).toEqual(Y.encodeStateVector(writer.doc));
    } finally {
      device.close();
    }

    // Edits after the compaction are kept: load = snapshot + tail.
    const more = writer.edits(25);
    expect(await appendAll(store, cartId, 10_000, more)).toBe(10_025);
    expect(await store.logLength(cartId)).toBe(25);
    const tailed = await loadDoc(store, cartId);
    expect({ version: tailed.version, tail: tailed.tail, hasSnapshot: tailed.snapshot !== null }).toEqual({ version: 10_025, tail: 25, hasSnapshot: true });
    expectSameCart(tailed.doc, writer.doc);
  });

  it('loses nothing when appends race with compactions', async () => {
    // Appends go through their own connection, so they interleave with the compaction's reads and writes.
    const other = new Redis(inject('redisUrl'), { maxRetriesPerRequest: 2 });
    try {
      const appender = new CartStore(other, node.config.keyPrefix);
      const store = node.node.store;
      const cartId = newCartId();
      const writer = new HistoryWriter(7);
      let version = await appendAll(appender, cartId, 0, writer.edits(2_000));
      const racing = writer.edits(400);
      const compactions: number[] = [];
      // Each round starts a compaction and appends 10 changes on the other connection while it runs.
      for (let i = 0; i < racing.length; i += 10) {
        const compaction = compactCart(store, cartId);
        version = await appendAll(appender, cartId, version, racing.slice(i, i + 10));
        const res = await compaction;
        if (res.compacted) compactions.push(res.version);
      }
      expect(version).toBe(2_400);
      expect(compactions.length).toBeGreaterThanOrEqual(20);
      expect(compactions.some((v) => v > 2_000 && v < 2_400)).toBe(true);

      const snapVersion = Number(await node.redis.hget(store.keys(cartId).meta, 'snapVersion'));
      expect(snapVersion).toBe(compactions.at(-1));
      expect(await store.logLength(cartId)).toBe(2_400 - snapVersion);
      const loaded = await loadDoc(store, cartId);
      expect(loaded.version).toBe(2_400);
      expectSameCart(loaded.doc, writer.doc);

      // And after a final compaction.
      expect(await compactCart(store, cartId)).toMatchObject({ compacted: snapVersion < 2_400, version: 2_400 });
      expect(await store.logLength(cartId)).toBe(0);
      expectSameCart((await loadDoc(store, cartId)).doc, writer.doc);
    } finally {
      other.disconnect();
    }
  });

  it('does nothing for a cart that does not exist', async () => {
    const cartId = newCartId();
    expect(await compactCart(node.node.store, cartId)).toEqual({ compacted: false, version: 0, bytes: 0 });
    expect(await node.node.store.exists(cartId)).toBe(false);
  });
});

describe('compaction worker (BullMQ)', () => {
  let small: TestNode;
  let connection: Redis;
  let worker: Worker;
  beforeAll(async () => {
    small = await startNode({ compactAfterChanges: 20 });
    connection = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
    worker = startCompactionWorker(connection, small.config.keyPrefix, small.node.store, createLogger('error'));
    await worker.waitUntilReady();
  });
  afterAll(async () => {
    await worker.close();
    connection.disconnect();
    await small.close();
  });

  it('compacts a cart automatically after compactAfterChanges device edits', async () => {
    const { cartId } = await small.createCart();
    const token = await small.token([cartId], { subject: 'shopper' });
    const actor: Actor = { id: 'shopper', role: 'customer' };
    const device = await RawDevice.open(small.url, token, cartId);
    const meta = small.node.store.keys(cartId).meta;
    try {
      for (let i = 0; i < 50; i++) {
        const sku = SKUS[i % 10]!;
        const ack = await device.change((doc) => (i % 3 === 2 ? setQuantity(doc, sku, 1 + (i % 5)) : addLine(doc, { sku, quantity: 1 }, actor)));
        expect(ack.ok).toBe(true);
      }
      const version = (await small.node.store.load(cartId, 0)).version;
      expect(version).toBe(51);

      const snapVersion = await waitFor(
        async () => {
          const v = Number(await small.redis.hget(meta, 'snapVersion'));
          expect(v).toBeGreaterThan(0);
          return v;
        },
        { timeoutMs: 10_000 },
      );
      // The first request comes once 20 changes piled up; the job folds at least those.
      expect(snapVersion).toBeGreaterThanOrEqual(20);
      expect(snapVersion).toBeLessThanOrEqual(version);
      // The log holds only what came after the snapshot.
      await waitFor(async () => {
        const snap = Number(await small.redis.hget(meta, 'snapVersion'));
        expect(await small.node.store.logLength(cartId)).toBe(version - snap);
      });

      const loaded = await loadDoc(small.node.store, cartId);
      expect(loaded.snapshot).not.toBeNull();
      expect(loaded.version).toBe(version);
      expectSameCart(loaded.doc, device.doc);

      // The hosted cart keeps working on top of the snapshot.
      expect((await device.change((doc) => setQuantity(doc, SKUS[0]!, 9))).ok).toBe(true);
      const latest = await loadDoc(small.node.store, cartId);
      expectSameCart(latest.doc, device.doc);
    } finally {
      device.close();
    }
  });
});
