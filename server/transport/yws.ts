/**
 * The y-websocket endpoint, `/yjs/:cartId?token=...`: any stock Yjs client (y-websocket's
 * WebsocketProvider) syncs a cart over a plain WebSocket. A codec over the cart session: auth
 * failures refuse the upgrade with an HTTP status; the session's errors close the socket with a
 * named close code (protocol/close-codes.ts) and the error code as the reason.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { readUpgrade, refuse } from './yws-upgrade.ts';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { CLOSE, CartError, ERRORS, type WireError, decodeWsMessage, encodeWsAwareness, encodeWsSync } from '../../protocol/index.ts';
import type { Auth, Principal } from '../auth.ts';
import { TokenBucket, syncAnswerBudget } from '../rate-limit.ts';
import { CartSession, type Close, type SessionContext, type SessionPeer } from '../session/cart-session.ts';
import { YwsFanout } from './yws-fanout.ts';

export interface YwsDeps {
  auth: Auth;
  session: SessionContext;
}

const PING_INTERVAL_MS = 30_000;
/** A closed slow reader is cut off this long after its close frame, read or not (frees its buffer). */
const CLOSE_GRACE_MS = 1000;

export interface YwsEndpoint {
  /** Handle an HTTP upgrade; returns false when the path is not ours (Socket.IO's, say). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Stop handling messages and resolve once those being handled are answered (shutdown). */
  drain(): Promise<void>;
  /** Close every connection with `close` (shutdown). */
  closeAll(close: Close): void;
  /** Open connections. */
  readonly size: number;
  /** Close every connection whose token `revoked` matches (4411 `revoked`). */
  cut(revoked: (principal: Principal) => boolean): void;
  /** Principals of this node's connections (a re-check of revocations after a lost notice). */
  principals(): Principal[];
}

/** The close code a session error ends a /yjs connection with. */
function closeFor(code: WireError['code']): Close {
  if (code === 'E_UPDATE_TOO_LARGE') return CLOSE.TOO_LARGE;
  if (code.startsWith('E_UPDATE_')) return CLOSE.REJECTED;
  if (code === 'E_RATE_LIMITED' || code === 'E_WRITE_BUDGET_EXCEEDED') return CLOSE.RATE_LIMITED;
  if (code === 'E_STORAGE_UNAVAILABLE' || code === 'E_SHUTTING_DOWN') return CLOSE.UNAVAILABLE;
  if (code === 'E_AUTH_EXPIRED' || code === 'E_AUTH_INVALID' || code === 'E_AUTH_MISSING') return CLOSE.UNAUTHORIZED;
  if (code === 'E_AUTH_FORBIDDEN') return CLOSE.FORBIDDEN;
  if (code === 'E_AUTH_REVOKED') return CLOSE.REVOKED;
  if (code === 'E_CART_CLOSED') return CLOSE.CLOSED;
  if (code === 'E_CART_MERGING') return CLOSE.UNAVAILABLE;
  return CLOSE.MALFORMED;
}

const toBytes = (data: RawData): Uint8Array =>
  data instanceof Buffer ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : Array.isArray(data) ? new Uint8Array(Buffer.concat(data)) : new Uint8Array(data);

export function createYwsEndpoint(deps: YwsDeps): YwsEndpoint {
  const { auth, session: ctx } = deps;
  const { config, log, metrics } = ctx;
  // The hard frame cap is Socket.IO's (above maxSyncBytes), so an oversize sync gets the typed 4413
  // close that stops a stock provider; ws's own 1009 close would make it reconnect and resend forever.
  const wss = new WebSocketServer({ noServer: true, maxPayload: Math.max(config.maxHttpBufferSize, config.limits.maxSyncBytes + 1024), perMessageDeflate: false });
  const sessions = new Map<WebSocket, CartSession>();
  const fanout = new YwsFanout();

  const serve = (ws: WebSocket, cartId: string, principal: Principal): void => {
    const connectionId = `yws:${randomUUID()}`;
    const closeWith = (close: Close, reason: string): void => {
      if (ws.readyState !== ws.OPEN) return;
      ws.close(close.code, reason);
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
    };
    const send = (bytes: Uint8Array): void => {
      if (ws.readyState === ws.OPEN) ws.send(bytes);
    };
    const peer: SessionPeer = {
      transport: 'yws',
      connectionId,
      origin: { kind: 'yws', connectionId },
      bucket: new TokenBucket(config.socketRatePerSecond, config.socketBurst),
      answerBytes: syncAnswerBudget(config),
      isOpen: () => ws.readyState === ws.OPEN,
      buffered: () => ws.bufferedAmount,
      sendSync: (frame) => send(encodeWsSync(frame)),
      sendAwareness: (frame) => send(encodeWsAwareness(frame)),
      // A stock client shows the reason; ours names the cart to follow (at most 13 + 64 + 13 bytes of the 123 allowed).
      ended: (close, error, mergedInto) => closeWith(close, mergedInto !== undefined ? `${error?.code ?? 'E_CART_CLOSED'} merged-into=${mergedInto}` : (error?.code ?? close.name)),
    };
    const session = new CartSession(ctx, peer, cartId, principal, 'yjs-client');
    sessions.set(ws, session);
    metrics.devices(1);

    const fail = (err: unknown): void => {
      if (err instanceof CartError && err.code === 'E_MESSAGE_UNKNOWN') return metrics.dropped({ event: 'yws-unknown' });
      const wire = err instanceof CartError ? err.toWire() : new CartError('E_INTERNAL').toWire();
      if (!(err instanceof CartError)) log.error('y-websocket handler failed', { cartId, err });
      metrics.rejected({ code: wire.code, transport: 'yws' });
      session.end(closeFor(wire.code), wire);
    };

    const handle = async (bytes: Uint8Array): Promise<void> => {
      try {
        const msg = decodeWsMessage(bytes);
        switch (msg.kind) {
          case 'sync':
            await session.sync(session.cart!, msg.frame);
            return;
          case 'awareness':
            session.awareness(msg.update);
            return;
          case 'query-awareness': {
            const snapshot = session.presenceSnapshot();
            if (snapshot) send(encodeWsAwareness(snapshot));
            return;
          }
        }
      } catch (err) {
        fail(err);
      }
    };

    // Admitted on receipt (also while the cart loads): a flood is refused before it is queued.
    ws.on('message', (data) => {
      const bytes = toBytes(data);
      const refused = session.admit() ?? session.submit(bytes.byteLength, () => handle(bytes));
      if (refused) fail(refused);
    });

    let alive = true;
    ws.on('pong', () => (alive = true));
    const ping = setInterval(() => {
      if (!alive) return ws.terminate();
      alive = false;
      ws.ping();
    }, PING_INTERVAL_MS);
    ping.unref();
    ws.on('close', () => {
      clearInterval(ping);
      sessions.delete(ws);
      metrics.devices(-1);
      session.close();
    });

    session.start((cart) => fanout.follow(cart, session, send)).catch((err: unknown) => {
      log.warn('y-websocket: cart load failed', { cartId, err });
      const wire = err instanceof CartError ? err.toWire() : new CartError('E_STORAGE_UNAVAILABLE').toWire();
      closeWith(closeFor(wire.code), wire.code);
    });
  };

  return {
    handleUpgrade(req, socket, head) {
      const target = readUpgrade(req);
      if (target === null) return false;
      socket.on('error', () => socket.destroy());
      if ('refused' in target) {
        metrics.rejected({ code: target.refused, transport: 'yws' });
        refuse(socket, 400, target.refused);
        return true;
      }
      const { cartId, token } = target;
      auth.authorize(token, cartId).then(
        (principal) => {
          wss.handleUpgrade(req, socket, head, (ws) => {
            ws.on('error', (err) => log.debug('y-websocket socket error', { err }));
            serve(ws, cartId, principal);
          });
        },
        (err: unknown) => {
          const wire = err instanceof CartError ? err.toWire() : new CartError('E_AUTH_INVALID').toWire();
          metrics.rejected({ code: wire.code, transport: 'yws' });
          refuse(socket, ERRORS[wire.code].http, wire.code);
        },
      );
      return true;
    },
    async drain() {
      await Promise.all([...sessions.values()].map((s) => s.idle()));
    },
    closeAll(close) {
      for (const ws of sessions.keys()) ws.close(close.code, close.name);
    },
    get size() {
      return sessions.size;
    },
    cut(revoked) {
      const error = new CartError('E_AUTH_REVOKED').toWire();
      for (const session of [...sessions.values()]) if (revoked(session.principal)) session.end(CLOSE.REVOKED, error);
    },
    principals: () => [...sessions.values()].map((s) => s.principal),
  };
}
