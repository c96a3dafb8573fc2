/**
 * The Socket.IO transport: authenticate on connect, then a codec over one cart session per joined
 * cart (join / leave, sync both ways with acks once durable, presence), and token refresh on the
 * live connection. Bad input is answered with a typed error, counted, and never throws out of a
 * handler.
 */
import { CLOSE, CartError, type ErrorCode, type SyncAck, type WireError, decodeSyncFrame, isCartId } from '../../protocol/index.ts';
import { Auth, type Principal } from '../auth.ts';
import { TokenBucket, syncAnswerBudget } from '../rate-limit.ts';
import { type Close, CartSession, type SessionContext, type SessionPeer, admitMessage } from '../session/cart-session.ts';
import { attachSocketRelays, roomOf } from './socketio-relay.ts';
import { bufferedBytes, cutOff } from './socketio-buffer.ts';
import { type CartServer, type CartSocket, socketPeer } from './socketio-peer.ts';

export { roomOf } from './socketio-relay.ts';
export type { CartServer, InterServerEvents, SocketData } from './socketio-peer.ts';

export interface SocketDeps {
  auth: Auth;
  session: SessionContext;
  /** Other nodes may host the same carts (an adapter connects them). */
  clustered: boolean;
  /** This node's id among them (presence relayed from here is attributed to it). */
  nodeId: string;
  /** The cart `cartId` was merged into, or null (one read of its meta hash; core/redis/cart-status-store.ts). */
  mergedInto?: (cartId: string) => Promise<string | null>;
}

export interface SocketTransport {
  /** Resolve once every message already received has been handled and answered (shutdown). */
  drain(): Promise<void>;
  /** Stop the transport's timers (shutdown). */
  stop(): void;
  /**
   * End every session of this node's connections whose token `revoked` matches (cart-closed
   * `revoked`), then disconnect them: their token opens nothing any more.
   */
  cut(revoked: (principal: Principal) => boolean): void;
  /** Principals of this node's connections (a re-check of revocations after a lost notice). */
  principals(): Principal[];
}

/**
 * How often every socket's unread bytes are checked. Relays this node makes are checked as they
 * are sent; this catches what reaches a socket otherwise (relays from other nodes, sync answers).
 */
const SLOW_SWEEP_MS = 1000;

/**
 * A connection's refusals for rate or budget, less one per accepted message: past this many,
 * sustained over at least REFUSALS_PERSIST_MS, it is cut off with `rate-limited`. A client that
 * backs off on a refusal never gets there, nor does a burst answered all at once; one that keeps
 * sending at several times its rate (the refill lets a few through) stops costing the node a
 * decode and an answer per message.
 */
export const MAX_REFUSALS = 20;
export const REFUSALS_PERSIST_MS = 1000;
const REFUSALS: ReadonlySet<ErrorCode> = new Set(['E_RATE_LIMITED', 'E_WRITE_BUDGET_EXCEEDED']);

function toWire(err: unknown, ctx: SessionContext): WireError {
  if (err instanceof CartError) return err.toWire();
  ctx.log.error('unexpected error in socket handler', { err });
  return new CartError('E_INTERNAL').toWire();
}

const isBinary = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

export function attachSocketTransport(io: CartServer, deps: SocketDeps): SocketTransport {
  const { auth, session: ctx } = deps;
  const { config, metrics } = ctx;
  /** Every socket's sessions by cart: open ones and those still loading. */
  const bySocket = new Map<string, Map<string, CartSession>>();

  io.use((socket, next) => {
    const token: unknown = (socket.handshake.auth as Record<string, unknown> | undefined)?.token;
    auth.verify(token).then(
      (principal) => {
        socket.data.principal = principal;
        next();
      },
      (err: unknown) => {
        const wire = toWire(err, ctx);
        metrics.rejected({ code: wire.code, transport: 'socketio' });
        next(Object.assign(new Error(wire.message), { data: wire }));
      },
    );
  });

  /** End a socket's carts with `close` and cut it off (it does not read, or ignores refusals). */
  const cut = (socket: CartSocket, close: Close): void => {
    for (const session of bySocket.get(socket.id)?.values() ?? []) session.end(close, null);
    cutOff(socket);
  };
  const closeSlow = (socket: CartSocket): void => cut(socket, CLOSE.SLOW_CONSUMER);
  attachSocketRelays(io, {
    ...deps,
    registry: ctx.registry,
    log: ctx.log,
    beforeRelay: (room) => {
      for (const id of io.of('/').adapter.rooms.get(room) ?? []) {
        const socket = io.of('/').sockets.get(id);
        if (socket && bufferedBytes(socket) > config.maxBufferedBytes) closeSlow(socket);
      }
    },
  });

  const sweep = setInterval(() => {
    for (const socket of io.of('/').sockets.values()) if (bufferedBytes(socket) > config.maxBufferedBytes) closeSlow(socket);
  }, SLOW_SWEEP_MS);
  sweep.unref();

  io.on('connection', (socket: CartSocket) => {
    const sessions = new Map<string, CartSession>();
    bySocket.set(socket.id, sessions);
    metrics.devices(1);
    const bucket = new TokenBucket(config.socketRatePerSecond, config.socketBurst);
    const answerBytes = syncAnswerBudget(config);
    const starting = new Map<string, Promise<CartSession | null>>();
    // Refusals for rate or budget less accepted messages, and since when it has been above 0.
    let refusals = 0;
    let refusedSince = 0;
    const counted = (wire: WireError): void => {
      metrics.rejected({ code: wire.code, transport: 'socketio' });
      if (!REFUSALS.has(wire.code) || !socket.connected) return;
      if (refusals === 0) refusedSince = performance.now();
      refusals += 1;
      if (refusals >= MAX_REFUSALS && performance.now() - refusedSince >= REFUSALS_PERSIST_MS) queueMicrotask(() => cut(socket, CLOSE.RATE_LIMITED));
    };
    const accepted = (): void => {
      refusals = Math.max(0, refusals - 1);
    };

    const reject = (err: unknown, ack?: (res: { ok: false; error: WireError }) => void): void => {
      const wire = toWire(err, ctx);
      counted(wire);
      if (ack) ack({ ok: false, error: wire });
    };
    /** The open session of `cartId`, or the error to answer a message for it with. */
    const sessionFor = (cartId: unknown): CartSession | CartError => {
      const session = typeof cartId === 'string' ? sessions.get(cartId) : undefined;
      if (session?.open) return session.admit() ?? session;
      return admitMessage(ctx, bucket, socket.data.principal) ?? new CartError(isCartId(cartId) ? 'E_CART_NOT_JOINED' : 'E_CART_ID_INVALID');
    };

    const peerFor = (cartId: string): SessionPeer => socketPeer(socket, cartId, bucket, answerBytes);

    /**
     * A device that signed in brings a token of her active cart, not of the guest cart it still
     * shows: a join of that guest cart is not granted, but when it was merged into a cart her token
     * grants she is told where it went (cart-closed `merged`), as a device of the guest would be.
     */
    const toldMerged = async (cartId: string, err: unknown, principal: Principal): Promise<boolean> => {
      if (!(err instanceof CartError) || err.code !== 'E_AUTH_FORBIDDEN' || !deps.mergedInto) return false;
      const into = await deps.mergedInto(cartId).catch(() => null);
      if (into === null || !socket.connected) return false;
      try {
        Auth.checkGrant(principal, into);
      } catch {
        return false;
      }
      socket.emit('cart-closed', cartId, { reason: CLOSE.MERGED.name, mergedInto: into, error: new CartError('E_CART_CLOSED', 'status is merged').toWire() });
      return true;
    };

    socket.on('join', (cartId, hello, ack) => {
      if (typeof ack !== 'function') return metrics.dropped({ event: 'join' });
      const denied = admitMessage(ctx, bucket, socket.data.principal) ?? (isCartId(cartId) ? null : new CartError('E_CART_ID_INVALID'));
      if (denied) return reject(denied, ack);
      const principal = socket.data.principal;
      const answer = (session: CartSession): void => {
        accepted();
        ack({ ok: true, version: session.cart!.version, role: principal.role, subject: principal.subject, ...(principal.name === null ? {} : { name: principal.name }), limits: config.limits });
      };
      const already = sessions.get(cartId);
      // Joining again is how a device asks for a fresh sync: answered like a first join. Two joins
      // crossing (a device retrying) share the first one's load.
      if (already?.open) {
        answer(already);
        return already.welcome();
      }
      const pending = starting.get(cartId);
      if (pending) {
        pending.then(
          (session) => {
            if (!session?.open) return;
            answer(session);
            session.welcome();
          },
          (err: unknown) => reject(err, ack),
        );
        return;
      }
      if (sessions.size >= config.maxCartsPerSocket) return reject(new CartError('E_TOO_MANY_CARTS'), ack);
      const device = typeof hello === 'object' && hello !== null && typeof hello.device === 'string' ? hello.device.slice(0, 64) : 'device';
      let session: CartSession;
      try {
        session = new CartSession(ctx, peerFor(cartId), cartId, principal, device);
        sessions.set(cartId, session);
        session.whenEnded(() => {
          if (sessions.get(cartId) === session) sessions.delete(cartId);
        });
        const started = session
          .start((cart) => {
            void socket.join(roomOf(cart.cartId));
            answer(session);
          })
          .then((cart) => (cart ? session : null));
        starting.set(cartId, started);
        void started.finally(() => starting.delete(cartId)).catch(() => undefined);
        started.catch(async (err: unknown) => {
          if (sessions.get(cartId) === session) sessions.delete(cartId);
          if (await toldMerged(cartId, err, principal)) return ack({ ok: false, error: new CartError('E_CART_CLOSED', 'status is merged').toWire() });
          reject(err, ack);
        });
      } catch (err) {
        sessions.delete(cartId);
        return reject(err, ack);
      }
    });

    socket.on('leave', (cartId, ack) => {
      const session = typeof cartId === 'string' ? sessions.get(cartId) : undefined;
      if (session) {
        session.close();
        void socket.leave(roomOf(cartId));
      }
      if (typeof ack === 'function') ack({ ok: true });
    });

    socket.on('sync', (cartId, frame, ack) => {
      if (typeof ack !== 'function') return metrics.dropped({ event: 'sync' });
      const session = sessionFor(cartId);
      if (session instanceof CartError) return reject(session, ack);
      if (!isBinary(frame)) return reject(new CartError('E_MESSAGE_MALFORMED', 'frame must be binary'), ack);
      if (frame.byteLength > config.limits.maxSyncBytes + 16) return reject(new CartError('E_UPDATE_TOO_LARGE'), ack);
      const refused = session.submit(frame.byteLength, async (cart) => {
        let res: SyncAck;
        try {
          const meta = await session.sync(cart, decodeSyncFrame(frame));
          res = { ok: true, ...meta };
          accepted();
        } catch (err) {
          const wire = toWire(err, ctx);
          counted(wire);
          res = { ok: false, error: wire };
        }
        if (socket.connected) ack(res);
      });
      if (refused) reject(refused, ack);
    });

    socket.on('awareness', (cartId, frame) => {
      const session = sessionFor(cartId);
      try {
        if (session instanceof CartError) throw session;
        if (!isBinary(frame)) throw new CartError('E_AWARENESS_INVALID');
        session.awareness(frame);
      } catch (err) {
        reject(err);
      }
    });

    socket.on('refresh-token', (token, ack) => {
      if (typeof ack !== 'function') return metrics.dropped({ event: 'refresh-token' });
      auth
        .verify(token)
        .then((principal) => {
          if (principal.subject !== socket.data.principal.subject) throw new CartError('E_AUTH_FORBIDDEN', 'a refreshed token must have the same subject');
          CartSession.refreshAll(sessions.values(), principal);
          socket.data.principal = principal;
          ack({ ok: true, expiresAt: principal.expiresAt });
        })
        .catch((err: unknown) => reject(err, ack));
    });

    socket.on('disconnect', () => {
      bySocket.delete(socket.id);
      metrics.devices(-1);
      for (const session of [...sessions.values()]) session.close();
    });
  });

  return {
    stop: () => clearInterval(sweep),
    cut(revoked) {
      const error = new CartError('E_AUTH_REVOKED').toWire();
      for (const socket of io.of('/').sockets.values()) {
        if (!revoked(socket.data.principal)) continue;
        for (const session of [...(bySocket.get(socket.id)?.values() ?? [])]) session.end(CLOSE.REVOKED, error);
        // A namespace disconnect is a packet after the cart-closed ones: the device reads them first.
        socket.disconnect();
      }
    },
    principals: () => [...io.of('/').sockets.values()].map((s) => s.data.principal),
    async drain() {
      await Promise.all([...bySocket.values()].flatMap((sessions) => [...sessions.values()].map((s) => s.idle())));
    },
  };
}
