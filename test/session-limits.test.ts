/**
 * What a client can make a node spend through one cart session is bounded: its queue (count and
 * bytes), work of a client that left (dropped, never run), and repeated sync step 1 on a large
 * cart (answered from a per-version cache).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import * as Y from 'yjs';
import { CLOSE, type SyncAck, encodeWsSync, writeSyncStep1 } from '../protocol/index.ts';
import { DEFAULT_CONFIG } from '../core/config.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { type RawSocket, connectSocket } from './helpers/raw-device.ts';
import { once, waitFor } from './helpers/wait.ts';

let node: TestNode;
beforeAll(async () => {
  // The byte budget of step 1 answers is lifted here (its own test below): these measure the queue.
  node = await startNode({ sessionQueueMax: 16, syncAnswerBytesPerSecond: 1024 * 1024 * 1024 });
});
afterAll(async () => {
  await node.close();
});

const EMPTY_STEP1 = writeSyncStep1(Y.encodeStateVector(new Y.Doc()));
const work = (outcome: string, transport: string): number => node.node.metrics.value('livecart_session_work_total', { outcome, transport });
const encoded = (): number => node.node.metrics.value('livecart_sync_answers_encoded_total');

/** A cart whose document is about `bytes` large (a server-side change, as a big cart's history would be). */
async function bigCart(bytes: number, on = node): Promise<{ cartId: string; token: string }> {
  const created = await on.createCart();
  const cart = await on.node.registry.acquire(created.cartId);
  await cart.applyServerChange((doc) => doc.getMap('cart').set('padding', 'x'.repeat(bytes)), { kind: 'rest', requestId: 'test-padding' });
  on.node.registry.release(cart);
  return created;
}

async function joined(cartId: string, token: string, on = node): Promise<RawSocket> {
  const socket = await connectSocket(on.url, token);
  const res = await socket.emitWithAck('join', cartId, { device: 'flood' });
  if (!res.ok) throw new Error(res.error.code);
  return socket;
}

describe('session limits', () => {
  it('finding 1: sockets that flood sync step 1 on a big cart and leave: their queued work is dropped, not run, and the cart is encoded once per version', async () => {
    const { cartId, token } = await bigCart(270_000);
    const sockets = await Promise.all(Array.from({ length: 10 }, () => joined(cartId, token)));
    const before = { run: work('run', 'socketio'), dropped: work('dropped', 'socketio'), refused: work('refused', 'socketio'), encoded: encoded() };
    const perSocket = 12;
    await Promise.all(
      sockets.map(async (socket) => {
        for (let i = 0; i < perSocket; i++) socket.emit('sync', cartId, EMPTY_STEP1, () => undefined);
        // Answered at once, after the syncs before it were received (and queued): then leave.
        await socket.emitWithAck('leave', 'not-joined-cart');
        socket.close();
      }),
    );
    const sent = sockets.length * perSocket;
    // Every message is accounted for once the sockets are gone: run, dropped unrun, or refused.
    await waitFor(() => expect(work('run', 'socketio') - before.run + work('dropped', 'socketio') - before.dropped + work('refused', 'socketio') - before.refused).toBe(sent));
    expect(work('dropped', 'socketio') - before.dropped).toBeGreaterThan(0);
    expect(work('run', 'socketio') - before.run).toBeLessThan(sent);
    // Same version, same (empty) state vector: one encoding serves every answer.
    expect(encoded() - before.encoded).toBeLessThanOrEqual(1);
  });

  it('finding 1: a session queue holds at most LIVECART_SESSION_QUEUE_MAX messages; the excess gets E_RATE_LIMITED at once', async () => {
    const { cartId, token } = await bigCart(200_000);
    const socket = await joined(cartId, token);
    try {
      const acks = await Promise.all(Array.from({ length: 60 }, () => socket.emitWithAck('sync', cartId, EMPTY_STEP1) as Promise<SyncAck>));
      const limited = acks.filter((a) => !a.ok && a.error.code === 'E_RATE_LIMITED').length;
      expect(limited).toBeGreaterThan(0);
      expect(acks.filter((a) => a.ok).length).toBeGreaterThanOrEqual(16);
      expect(limited + acks.filter((a) => a.ok).length).toBe(60);
    } finally {
      socket.close();
    }
  });

  it('finding 1: a /yjs client flooding sync step 1 is refused on receipt past its queue bound and closed with 4429', async () => {
    const { cartId, token } = await bigCart(200_000);
    const before = { refused: work('refused', 'yws'), encoded: encoded() };
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/yjs/${cartId}?token=${token}`);
    const closed = new Promise<[number, string]>((resolve) => ws.on('close', (code, reason) => resolve([code, reason.toString()])));
    await once(ws, 'open');
    const frame = encodeWsSync(EMPTY_STEP1);
    for (let i = 0; i < 200; i++) ws.send(frame);
    expect(await closed).toEqual([CLOSE.RATE_LIMITED.code, 'E_RATE_LIMITED']);
    expect(work('refused', 'yws') - before.refused).toBeGreaterThan(0);
    expect(encoded() - before.encoded).toBeLessThanOrEqual(1);
  });

  it('finding 1: full-state sync step 1 repeated on one connection is refused past its byte budget, so the node does not send the cart over and over', async () => {
    const defaults = await startNode();
    try {
      const cartBytes = 270_000;
      const { cartId, token } = await bigCart(cartBytes, defaults);
      const socket = await joined(cartId, token, defaults);
      try {
        const acks = await Promise.all(Array.from({ length: 20 }, () => socket.emitWithAck('sync', cartId, EMPTY_STEP1) as Promise<SyncAck>));
        const answered = acks.filter((a) => a.ok).length;
        const limited = acks.filter((a) => !a.ok && a.error.code === 'E_RATE_LIMITED').length;
        expect(answered + limited).toBe(20);
        // The burst (twice maxSyncBytes) and the one answer that overdraws it; the refill while
        // these are handled is a small fraction of one answer.
        const burst = 2 * defaults.config.limits.maxSyncBytes;
        expect(answered).toBeGreaterThanOrEqual(1);
        expect(answered).toBeLessThanOrEqual(Math.ceil(burst / cartBytes) + 1);
        expect(limited).toBeGreaterThan(0);
      } finally {
        socket.close();
      }
    } finally {
      await defaults.close();
    }
  });

  it('finding 1: whole-cart answers are budgeted per token subject across connections, so reconnecting does not reset the budget', async () => {
    const cartBytes = 100_000;
    // Room for one whole-cart answer per subject; the per-connection budget is lifted (its own test above).
    const budgeted = await startNode({ syncAnswerBytesPerSecond: 1024 * 1024 * 1024, abuse: { ...DEFAULT_CONFIG.abuse, answerBudgetSubjectBytes: 150 * 1024 } });
    try {
      const { cartId, token } = await bigCart(cartBytes, budgeted);
      const ask = async (as: string): Promise<SyncAck> => {
        const socket = await joined(cartId, as, budgeted);
        try {
          return (await socket.emitWithAck('sync', cartId, EMPTY_STEP1)) as SyncAck;
        } finally {
          socket.close();
        }
      };
      // One connection after another, each a fresh device: the first is answered, the next are not.
      const first = await ask(token);
      expect(first.ok).toBe(true);
      for (let i = 0; i < 3; i++) {
        const again = await ask(token);
        expect(again.ok).toBe(false);
        if (!again.ok) expect(again.error.code).toBe('E_RATE_LIMITED');
      }
      // Another subject granted the same cart has its own budget.
      const other = await budgeted.token([cartId], { subject: 'other-device-owner' });
      expect((await ask(other)).ok).toBe(true);
      expect(budgeted.node.metrics.value('livecart_rate_limited_total', { limit: 'sync-answers' })).toBe(3);
    } finally {
      await budgeted.close();
    }
  });

  it('finding 1: a Socket.IO connection that keeps sending past its refusals is cut off with rate-limited; one that backs off is not', async () => {
    const limited = await startNode({ socketRatePerSecond: 5, socketBurst: 5 });
    try {
      const { cartId, token } = await limited.createCart();
      const ignoring = await joined(cartId, token, limited);
      const backingOff = await joined(cartId, token, limited);
      try {
        const closed = new Promise<string>((resolve) => ignoring.on('cart-closed', (_id, info) => resolve(info.reason)));
        const disconnected = once(ignoring, 'disconnect');
        // 50 messages a second for at most 3 s, whatever the answers say.
        let sent = 0;
        const flood = setInterval(() => {
          if (ignoring.connected && sent < 150) {
            sent += 1;
            ignoring.emit('sync', cartId, EMPTY_STEP1, () => undefined);
          }
        }, 20);
        try {
          expect(await closed).toBe('rate-limited');
          await disconnected;
        } finally {
          clearInterval(flood);
        }
        expect(sent).toBeLessThan(150);
        // The other device of the cart waits out each refusal and carries on.
        let ok = 0;
        for (let i = 0; i < 12 && ok < 8; i++) {
          const ack = (await backingOff.emitWithAck('sync', cartId, EMPTY_STEP1)) as SyncAck;
          if (ack.ok) ok += 1;
          else await new Promise((resolve) => setTimeout(resolve, 250));
        }
        expect(ok).toBe(8);
        expect(backingOff.connected).toBe(true);
      } finally {
        ignoring.close();
        backingOff.close();
      }
    } finally {
      await limited.close();
    }
  });
});
