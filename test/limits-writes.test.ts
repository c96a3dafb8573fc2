/**
 * Write amplification into Redis: every device or REST change is charged to the cart's and the
 * subject's byte budget before it is appended (E_WRITE_BUDGET_EXCEEDED past it, retryable), and a
 * log is compacted once its bytes since the snapshot pass LIVECART_COMPACT_AFTER_BYTES, not only
 * after LIVECART_COMPACT_AFTER_CHANGES entries.
 */
import type { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type * as Y from 'yjs';
import { DEFAULT_CONFIG, type AbuseConfig, type Config } from '../core/config.ts';
import { createLogger } from '../core/log.ts';
import type { SyncAck } from '../protocol/index.ts';
import { startCompactionWorker } from '../workers/compaction.ts';
import { RawDevice } from './helpers/raw-device.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { waitFor } from './helpers/wait.ts';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function nodeWith(abuse: Partial<AbuseConfig>, config: Partial<Config> = {}): Promise<TestNode> {
  const node = await startNode({ ...config, abuse: { ...DEFAULT_CONFIG.abuse, ...abuse } });
  cleanup.push(() => node.close());
  return node;
}

/** One overwrite of 20 cart attributes of 250 characters: about 5 KB, all of it replacing the last. */
function overwrite(round: number): (doc: Y.Doc) => void {
  return (doc) => {
    const attrs = doc.getMap('attrs');
    doc.transact(() => {
      for (let i = 0; i < 20; i++) attrs.set(`gift_msg_${i}`, String(round % 10).repeat(250));
    });
  };
}

async function device(node: TestNode): Promise<{ dev: RawDevice; cartId: string }> {
  const { cartId } = await node.createCart();
  const token = await node.token([cartId], { subject: 'flooder' });
  const dev = await RawDevice.open(node.url, token, cartId);
  cleanup.push(async () => dev.close());
  return { dev, cartId };
}

describe('write budget', () => {
  it('finding 2: past the budget an update is refused before it is decoded: undecodable bytes get E_WRITE_BUDGET_EXCEEDED, not E_UPDATE_MALFORMED', async () => {
    const node = await nodeWith({ writeBudgetCartBytes: 64 * 1024, writeBudgetSubjectBytes: 1024 * 1024 });
    const { dev } = await device(node);
    const garbage = new Uint8Array(20 * 1024).fill(0xff);
    const first = await dev.sendUpdate(garbage);
    expect(first).toMatchObject({ ok: false, error: { code: 'E_UPDATE_MALFORMED' } });
    const acks: SyncAck[] = [];
    for (let i = 0; i < 6; i++) acks.push(await dev.sendUpdate(garbage));
    // Every byte was charged although nothing was stored; once spent, no decoding is paid for.
    expect(acks.at(-1)).toMatchObject({ ok: false, error: { code: 'E_WRITE_BUDGET_EXCEEDED' } });
  });

  it('finding 2: one connection sending repeated large overwrites is refused after the budget, and the log stays within it', async () => {
    const budget = 64 * 1024;
    const node = await nodeWith({ writeBudgetCartBytes: budget, writeBudgetSubjectBytes: 1024 * 1024 });
    const { dev, cartId } = await device(node);
    const acks: SyncAck[] = [];
    for (let round = 0; round < 60; round++) acks.push(await dev.change(overwrite(round)));
    const accepted = acks.filter((a) => a.ok).length;
    const refused = acks.filter((a): a is Extract<SyncAck, { ok: false }> => !a.ok);
    expect(accepted).toBeGreaterThan(5);
    expect(refused.length).toBeGreaterThan(30);
    expect(refused[0]!.error).toMatchObject({ code: 'E_WRITE_BUDGET_EXCEEDED', retryable: true });
    expect(refused[0]!.error.detail).toMatch(/retry after \d+ s/);
    const stored = await node.node.store.logBytes(cartId);
    expect(stored).toBeLessThanOrEqual(budget);
    const logKey = node.node.store.keys(cartId).log;
    // For the report: what the flood left in Redis.
    console.info(`finding 2: ${accepted} of 60 overwrites stored, log ${stored} bytes of updates, MEMORY USAGE ${String(await node.redis.memory('USAGE', logKey))}`);
  });

  it('finding 2: REST changes are charged to the cart budget too', async () => {
    const node = await nodeWith({ writeBudgetCartBytes: 2048 });
    const { cartId, token } = await node.createCart();
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await node.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: `SKU-${i}`, quantity: 1, note: 'n'.repeat(400) } });
      statuses.push(res.status);
      if (res.status === 429) {
        expect(res.body.error.code).toBe('E_WRITE_BUDGET_EXCEEDED');
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        break;
      }
    }
    expect(statuses).toContain(429);
  });
});

describe('compaction by bytes', () => {
  it('finding 2: a log is compacted once its bytes pass compactAfterBytes, long before compactAfterChanges', async () => {
    const node = await nodeWith({ compactAfterBytes: 32 * 1024 }, { compactAfterChanges: 10_000 });
    const connection = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
    const worker: Worker = startCompactionWorker(connection, node.config.keyPrefix, node.node.store, createLogger('error'));
    cleanup.push(async () => {
      await worker.close();
      connection.disconnect();
    });
    await worker.waitUntilReady();
    const { dev, cartId } = await device(node);
    for (let round = 0; round < 12; round++) expect((await dev.change(overwrite(round))).ok).toBe(true);
    const keys = node.node.store.keys(cartId);
    await waitFor(async () => expect(Number(await node.redis.hget(keys.meta, 'snapVersion'))).toBeGreaterThan(0), { timeoutMs: 10_000 });
    await waitFor(async () => expect(await node.node.store.logBytes(cartId)).toBeLessThan(32 * 1024));
  });
});
