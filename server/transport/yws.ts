/**
 * The y-websocket endpoint, `/yjs/:cartId?token=...`: any stock Yjs client (y-websocket's
 * WebsocketProvider) syncs a cart over a plain WebSocket, under the same auth and validation as
 * Socket.IO devices. Auth failures refuse the upgrade with an HTTP status; a rejected update closes
 * the socket with a named close code (protocol/close-codes.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import * as Y from 'yjs';
import { encodeAwarenessUpdate } from 'y-protocols/awareness';
import {
  CLOSE,
  CartError,
  ERRORS,
  decodeWsMessage,
  encodeWsAwareness,
  encodeWsSync,
  isCartId,
  writeSyncStep1,
  writeSyncStep2,
  writeSyncUpdate,
} from '../../protocol/index.ts';
import type { Auth, Principal } from '../auth.ts';
import type { CartRegistry } from '../cart/registry.ts';
import type { Config } from '../../core/config.ts';
import type { Logger } from '../../core/log.ts';
import type { ServerMetrics } from '../../core/metrics.ts';
import { type PresenceSession, applyPresence, presenceSnapshot, removePresence } from '../presence.ts';
import { TokenBucket } from '../rate-limit.ts';

export interface YwsDeps {
  registry: CartRegistry;
  auth: Auth;
  config: Config;
  log: Logger;
  metrics: ServerMetrics;
}

const PATH = /^\/yjs\/([^/?]+)$/;
const PING_INTERVAL_MS = 30_000;

export interface YwsEndpoint {
  /** Handle an HTTP upgrade; returns false when the path is not ours (Socket.IO's, say). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Close every connection with `close` (shutdown). */
  closeAll(close: (typeof CLOSE)[keyof typeof CLOSE]): void;
}

function refuse(socket: Duplex, status: number, code: string): void {
  const body = JSON.stringify({ error: { code, message: ERRORS[code as keyof typeof ERRORS]?.message ?? code } });
  socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export function createYwsEndpoint(deps: YwsDeps): YwsEndpoint {
  const { registry, auth, config, log, metrics } = deps;
  // The hard frame cap is Socket.IO's (above maxSyncBytes), so an oversize sync gets the typed 4413
  // close that stops a stock provider; ws's own 1009 close would make it reconnect and resend forever.
  const wss = new WebSocketServer({ noServer: true, maxPayload: Math.max(config.maxHttpBufferSize, config.limits.maxSyncBytes + 1024), perMessageDeflate: false });
  const connections = new Set<WebSocket>();

  const serve = async (ws: WebSocket, cartId: string, principal: Principal): Promise<void> => {
    connections.add(ws);
    const connectionId = `yws:${randomUUID()}`;
    const bucket = new TokenBucket(config.socketRatePerSecond, config.socketBurst);
    const pendingMessages: RawData[] = [];
    let closed = false;
    ws.on('message', (data) => pendingMessages.push(data));
    ws.on('close', () => {
      closed = true;
      connections.delete(ws);
    });
    let cart;
    try {
      cart = await registry.acquire(cartId);
    } catch (err) {
      log.warn('y-websocket: cart load failed', { cartId, err });
      ws.close(CLOSE.UNAVAILABLE.code, CLOSE.UNAVAILABLE.name);
      return;
    }
    if (closed) {
      registry.release(cart);
      return;
    }
    const session: PresenceSession = { connectionId, principal, device: 'yjs-client', clientIds: new Set() };
    const send = (bytes: Uint8Array): void => {
      if (ws.readyState === ws.OPEN) ws.send(bytes);
    };
    const stopChanges = cart.onChange((update, _meta, origin) => {
      if (origin.kind === 'yws' && origin.connectionId === connectionId) return;
      send(encodeWsSync(writeSyncUpdate(update)));
    });
    cart.followers += 1;
    const onAwareness = ({ added, updated, removed }: Record<'added' | 'updated' | 'removed', number[]>, origin: unknown): void => {
      const changed = [...added, ...updated, ...removed];
      if (origin === connectionId || changed.length === 0 || cart.destroyed) return;
      send(encodeWsAwareness(encodeAwarenessUpdate(cart.awareness, changed)));
    };
    cart.awareness.on('update', onAwareness);

    let alive = true;
    ws.on('pong', () => (alive = true));
    const ping = setInterval(() => {
      if (!alive) return ws.terminate();
      alive = false;
      ws.ping();
    }, PING_INTERVAL_MS);
    ping.unref();

    const fail = (err: unknown): void => {
      const wire = err instanceof CartError ? err.toWire() : new CartError('E_INTERNAL').toWire();
      if (!(err instanceof CartError)) log.error('y-websocket handler failed', { cartId, err });
      metrics.rejected({ code: wire.code, transport: 'yws' });
      const close = wire.code.startsWith('E_UPDATE_')
        ? wire.code === 'E_UPDATE_TOO_LARGE' ? CLOSE.TOO_LARGE : CLOSE.REJECTED
        : wire.code === 'E_RATE_LIMITED' || wire.code === 'E_WRITE_BUDGET_EXCEEDED' ? CLOSE.RATE_LIMITED
        : wire.code === 'E_STORAGE_UNAVAILABLE' || wire.code === 'E_SHUTTING_DOWN' ? CLOSE.UNAVAILABLE
        : wire.code === 'E_AUTH_EXPIRED' ? CLOSE.UNAUTHORIZED
        : CLOSE.MALFORMED;
      if (ws.readyState === ws.OPEN) ws.close(close.code, wire.code);
    };

    const handle = async (data: RawData): Promise<void> => {
      if (!bucket.take()) throw new CartError('E_RATE_LIMITED');
      if (principal.expiresAt <= Date.now()) throw new CartError('E_AUTH_EXPIRED');
      const bytes = data instanceof Buffer ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : Array.isArray(data) ? new Uint8Array(Buffer.concat(data)) : new Uint8Array(data);
      const msg = decodeWsMessage(bytes);
      switch (msg.kind) {
        case 'sync': {
          const frame = msg.frame;
          if (frame.kind === 'step1') {
            await cart.catchUp();
            send(encodeWsSync(writeSyncStep2(Y.encodeStateAsUpdate(cart.doc, frame.stateVector))));
          } else {
            const maxBytes = frame.kind === 'step2' ? config.limits.maxSyncBytes : config.limits.maxUpdateBytes;
            await cart.applyClientUpdate(frame.update, { id: principal.subject, role: principal.role }, maxBytes, { kind: 'yws', connectionId }, frame.kind === 'step2');
            metrics.changes({ origin: 'yws' });
          }
          return;
        }
        case 'awareness':
          applyPresence(cart, session, msg.update, config.limits.maxAwarenessBytes);
          return;
        case 'query-awareness': {
          const snapshot = presenceSnapshot(cart);
          if (snapshot) send(encodeWsAwareness(snapshot));
          return;
        }
      }
    };

    // One connection, one queue: messages are handled in arrival order, each after the last.
    let tail = Promise.resolve();
    const enqueue = (data: RawData): void => {
      tail = tail.then(() => (closed ? undefined : handle(data))).catch((err: unknown) => {
        if (err instanceof CartError && err.code === 'E_MESSAGE_UNKNOWN') {
          metrics.dropped({ event: 'yws-unknown' });
          return;
        }
        fail(err);
      });
    };
    ws.removeAllListeners('message');
    ws.on('message', enqueue);
    ws.on('close', () => {
      clearInterval(ping);
      stopChanges();
      cart.followers -= 1;
      cart.awareness.off('update', onAwareness);
      removePresence(cart, session);
      registry.release(cart);
    });
    if (closed) {
      ws.emit('close');
      return;
    }
    send(encodeWsSync(writeSyncStep1(Y.encodeStateVector(cart.doc))));
    cart.stampClaims(principal).catch((err: unknown) => log.warn('could not stamp token claims on the cart', { cartId, err }));
    const snapshot = presenceSnapshot(cart);
    if (snapshot) send(encodeWsAwareness(snapshot));
    for (const data of pendingMessages.splice(0)) enqueue(data);
  };

  return {
    handleUpgrade(req, socket, head) {
      let url: URL;
      let cartId: string;
      try {
        url = new URL(req.url ?? '/', 'http://localhost');
        const match = PATH.exec(url.pathname);
        if (!match) return false;
        cartId = decodeURIComponent(match[1] ?? '');
      } catch {
        // A malformed URL (bad percent-encoding) must never throw out of the upgrade listener.
        if (!(req.url ?? '').startsWith('/yjs/')) return false;
        metrics.rejected({ code: 'E_CART_ID_INVALID', transport: 'yws' });
        refuse(socket, 400, 'E_CART_ID_INVALID');
        return true;
      }
      socket.on('error', () => socket.destroy());
      if (!isCartId(cartId)) {
        metrics.rejected({ code: 'E_CART_ID_INVALID', transport: 'yws' });
        refuse(socket, 400, 'E_CART_ID_INVALID');
        return true;
      }
      auth.authorize(url.searchParams.get('token'), cartId).then(
        (principal) => {
          wss.handleUpgrade(req, socket, head, (ws) => {
            ws.on('error', (err) => log.debug('y-websocket socket error', { err }));
            serve(ws, cartId, principal).catch((err: unknown) => {
              log.error('y-websocket session failed', { cartId, err });
              ws.terminate();
            });
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
    closeAll(close) {
      for (const ws of connections) ws.close(close.code, close.name);
    },
  };
}
