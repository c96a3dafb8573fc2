/**
 * The wire attacks of the abuse run (issue 12's findings 1, 2, 3, 5 and 11 over Socket.IO): each
 * prepares what it needs before the attack window, then plays until the deadline or its count,
 * whichever comes first, and stops by itself. Every attack owns its carts (anonymous POST /v1/carts).
 */
import type { WebSocket } from 'ws';
import * as Y from 'yjs';
import { actorFromToken } from '../../client/token.ts';
import { type Actor, writeSyncStep1, writeSyncStep2, writeSyncUpdate } from '../../protocol/index.ts';
import { Tally, attackerAddress, http, sleep } from './net.ts';
import { HOSTILE_TEXTS, heavyCartUpdates, hostileNoteUpdate, invisibleLinesUpdate, OverwriteFrames } from './payloads.ts';
import { type RawSocket, connectRaw, connectYws, joinRaw, resumeReading, stopReading, syncRaw } from './raw.ts';
import type { Attack, AttackEnv } from './types.ts';

export interface OwnCart {
  cartId: string;
  token: string;
  actor: Actor;
}

export async function ownCart(env: AttackEnv, node: number, from: string): Promise<OwnCart> {
  const res = await http(`${env.urls[node]}/v1/carts`, { method: 'POST', from });
  const body = res.json as { cartId?: string; token?: string } | null;
  if (res.status !== 201 || !body?.cartId || !body.token) throw new Error(`attacker POST /v1/carts: ${res.status} ${res.text.slice(0, 200)}`);
  const actor = actorFromToken(body.token);
  if (!actor) throw new Error('attacker token has no actor');
  return { cartId: body.cartId, token: body.token, actor };
}

async function joined(env: AttackEnv, cart: OwnCart, node: number, from: string, tally: Tally): Promise<RawSocket | null> {
  const socket = await connectRaw(env.urls[node]!, cart.token, from, tally);
  if (!socket) return null;
  if (await joinRaw(socket, cart.cartId, tally)) return socket;
  socket.close();
  return null;
}

/** 1: waves of connections flooding sync step 1 on a heavy cart, then disconnecting. */
export function syncStep1Flood(opts: { conns: number; cartBytes: number; framesPerConn: number; waveMs: number }): Attack {
  const tally = new Tally();
  let cart: OwnCart | null = null;
  const notes: string[] = [];
  return {
    id: 1,
    name: 'sync step 1 flood on a heavy cart',
    tally,
    notes,
    async prepare(env) {
      const from = attackerAddress(1);
      cart = await ownCart(env, 0, from);
      const builder = await joined(env, cart, 0, from, tally);
      if (!builder) throw new Error('attack 1: could not join its own cart');
      const build = new Tally();
      const { updates, lines } = heavyCartUpdates(cart.actor, opts.cartBytes);
      for (const u of updates) await syncRaw(builder, cart.cartId, writeSyncUpdate(u), build);
      builder.close();
      const doc = new Y.Doc();
      for (const u of updates) Y.applyUpdate(doc, u);
      notes.push(`heavy cart: ${lines} lines, state ${(Y.encodeStateAsUpdate(doc).length / 1024).toFixed(0)} KiB in ${updates.length} updates (${build.toString()})`);
      doc.destroy();
    },
    async run(env) {
      if (!cart) return;
      const c = cart;
      const empty = writeSyncStep1(Y.encodeStateVector(new Y.Doc()));
      let wave = 0;
      while (Date.now() + 1000 < env.deadline && wave < 100) {
        wave += 1;
        const sockets = (await Promise.all(Array.from({ length: opts.conns }, (_, k) => joined(env, c, k % 2, attackerAddress(1, k), tally)))).filter((s): s is RawSocket => s !== null);
        const waveEnd = Math.min(env.deadline, Date.now() + opts.waveMs);
        const perTick = Math.max(1, Math.ceil(opts.framesPerConn / (opts.waveMs / 100)));
        let sent = 0;
        while (Date.now() < waveEnd && sent < opts.framesPerConn * sockets.length) {
          // Fire and forget: the flood does not wait for answers (acks are still counted).
          for (const s of sockets) for (let k = 0; k < perTick; k++) void syncRaw(s, c.cartId, empty, tally, opts.waveMs + 2000);
          sent += sockets.length * perTick;
          await sleep(100);
        }
        tally.add('step 1 frames sent', sent);
        for (const s of sockets) s.close();
        await sleep(500);
      }
      notes.push(`${wave} waves of ${opts.conns} connections, ${opts.waveMs} ms each`);
    },
  };
}

/** 2 (and the load of 5): one connection sending large overwriting sync step 2 frames, a few in flight. */
export function overwriteStep2(opts: { frameBytes: number; maxFrames: number; inFlight: number }, target: { cart: OwnCart | null }): Attack {
  const tally = new Tally();
  const notes: string[] = [];
  return {
    id: 2,
    name: 'large overwriting sync step 2 frames',
    tally,
    notes,
    async prepare(env) {
      target.cart = await ownCart(env, 0, attackerAddress(2));
    },
    async run(env) {
      const cart = target.cart;
      if (!cart) return;
      const frames = new OverwriteFrames(cart.actor, opts.frameBytes);
      const socket = await joined(env, cart, 0, attackerAddress(2), tally);
      if (!socket) return;
      let sent = 0;
      let bytes = 0;
      let acceptedBytes = 0;
      const send = async (): Promise<void> => {
        while (Date.now() < env.deadline && sent < opts.maxFrames && socket.connected) {
          sent += 1;
          const frame = writeSyncStep2(frames.next());
          bytes += frame.length;
          const ack = await syncRaw(socket, cart.cartId, frame, tally, 20_000);
          if (ack?.ok) acceptedBytes += frame.length;
        }
      };
      await Promise.all(Array.from({ length: opts.inFlight }, send));
      socket.close();
      notes.push(`${sent} frames, ${(bytes / 1048576).toFixed(1)} MiB sent (${(bytes / Math.max(1, sent) / 1024).toFixed(0)} KiB each), ${(acceptedBytes / 1048576).toFixed(1)} MiB acknowledged`);
    },
  };
}

/** 3: updates made of zero-quantity line records (invisible in the view, kept in the document). */
export function invisibleLines(opts: { updates: number; perUpdate: number }, cartOut: { cart: OwnCart | null }): Attack {
  const tally = new Tally();
  const notes: string[] = [];
  return {
    id: 3,
    name: 'invisible (zero-quantity) lines',
    tally,
    notes,
    async prepare(env) {
      cartOut.cart = await ownCart(env, 1, attackerAddress(3));
    },
    async run(env) {
      const cart = cartOut.cart;
      if (!cart) return;
      const socket = await joined(env, cart, 1, attackerAddress(3), tally);
      if (!socket) return;
      let sent = 0;
      for (let i = 0; i < opts.updates && Date.now() < env.deadline && socket.connected; i++) {
        await syncRaw(socket, cart.cartId, writeSyncUpdate(invisibleLinesUpdate(cart.actor, opts.perUpdate, `u${i}`)), tally);
        sent += 1;
        await sleep(50);
      }
      socket.close();
      notes.push(`${sent} updates of ${opts.perUpdate} zero-quantity line records on cart ${cart.cartId}`);
    },
  };
}

/** 5: /yjs connections on the cart attack 2 writes to, that stop reading. */
export function slowYjsReaders(opts: { conns: number }, target: { cart: OwnCart | null }): Attack {
  const tally = new Tally();
  const notes: string[] = [];
  const sockets: WebSocket[] = [];
  return {
    id: 5,
    name: '/yjs clients that stop reading',
    tally,
    notes,
    async prepare(env) {
      const cart = target.cart;
      if (!cart) throw new Error('attack 5 needs attack 2 prepared first');
      for (let k = 0; k < opts.conns; k++) {
        const base = env.urls[k % 2]!.replace(/^http/, 'ws');
        const ws = await connectYws(`${base}/yjs/${cart.cartId}?token=${encodeURIComponent(cart.token)}`, attackerAddress(5, k), tally);
        if (ws) sockets.push(ws);
      }
      tally.add('connected', sockets.length);
    },
    async run(env) {
      // Stop reading right before the large frames start.
      for (const ws of sockets) stopReading(ws);
      while (Date.now() < env.deadline) await sleep(200);
      // Resume to learn how the server ended each connection, then hang up.
      const open = (): number => sockets.filter((w) => w.readyState === w.OPEN).length;
      for (const ws of sockets) resumeReading(ws);
      const until = Date.now() + 3000;
      while (Date.now() < until) await sleep(100);
      const stillOpen = open();
      tally.add('still open at the end', stillOpen);
      for (const ws of sockets) ws.terminate();
      notes.push(`${sockets.length} readers paused for the whole attack`);
    },
  };
}

/** 11 (wire half): lines with hostile notes sent as device updates. */
export function hostileNotesSocket(): Attack {
  const tally = new Tally();
  const notes: string[] = [];
  let cart: OwnCart | null = null;
  return {
    id: 11,
    name: 'hostile text in notes (Socket.IO)',
    tally,
    notes,
    async prepare(env) {
      cart = await ownCart(env, 1, attackerAddress(11));
    },
    async run(env) {
      if (!cart) return;
      const socket = await joined(env, cart, 1, attackerAddress(11), tally);
      if (!socket) return;
      for (const [i, [label, text]] of HOSTILE_TEXTS.entries()) {
        const t = new Tally();
        await syncRaw(socket, cart.cartId, writeSyncUpdate(hostileNoteUpdate(cart.actor, text, i)), t);
        tally.add(`${label}: ${Object.keys(t.counts)[0] ?? '?'}`);
      }
      socket.close();
    },
  };
}
