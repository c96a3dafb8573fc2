/**
 * The Socket.IO transport: authenticate on connect, join / leave carts, sync both ways, live
 * updates acknowledged once durable, presence. Messages of one socket for one cart are handled in
 * order even though each step awaits Redis. Bad input is answered with a typed error, counted, and
 * never throws out of a handler.
 */
import type { Server, Socket } from 'socket.io';
import * as Y from 'yjs';
import { encodeAwarenessUpdate } from 'y-protocols/awareness';
import {
  CartError,
  type ClientToServerEvents,
  type JoinResult,
  type ServerToClientEvents,
  type SyncAck,
  type WireError,
  decodeSyncFrame,
  isCartId,
  writeSyncStep1,
  writeSyncStep2,
  writeSyncUpdate,
} from '../../protocol/index.ts';
import { Auth, type Principal } from '../auth.ts';
import type { HostedCart } from '../cart/hosted-cart.ts';
import type { CartRegistry } from '../cart/registry.ts';
import type { Config } from '../../core/config.ts';
import type { Logger } from '../../core/log.ts';
import type { ServerMetrics } from '../../core/metrics.ts';
import {
  type PresenceSession,
  applyPresence,
  applyRemotePresence,
  isLocalPresenceOrigin,
  localPresenceSnapshot,
  presenceSnapshot,
  removePresence,
} from '../presence.ts';
import { TokenBucket } from '../rate-limit.ts';

/** Events between nodes (through the adapter). */
export interface InterServerEvents {
  /** Node `nodeId` just loaded `cartId`: send the presence of your devices of that cart. */
  'presence-query': (cartId: string, nodeId: string) => void;
  /**
   * Presence of node `nodeId`'s devices of `cartId` changed: an awareness frame, already stamped,
   * in base64 (the adapter sends inter-node events as JSON).
   */
  presence: (nodeId: string, cartId: string, frame: string) => void;
}

export type CartServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type CartSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export interface SocketData {
  principal: Principal;
}

export interface SocketDeps {
  registry: CartRegistry;
  auth: Auth;
  config: Config;
  log: Logger;
  metrics: ServerMetrics;
  /** Other nodes may host the same carts (an adapter connects them). */
  clustered: boolean;
  /** This node's id among them (presence relayed from here is attributed to it). */
  nodeId: string;
}

interface Joined {
  cart: HostedCart;
  presence: PresenceSession;
  /** Tail of this socket's in-order queue for this cart. */
  tail: Promise<void>;
}

export const roomOf = (cartId: string): string => `cart:${cartId}`;
const SOCKET_ORIGIN_PREFIX = 'sio:';

function toWire(err: unknown, log: Logger): WireError {
  if (err instanceof CartError) return err.toWire();
  log.error('unexpected error in socket handler', { err });
  return new CartError('E_INTERNAL').toWire();
}

function isBinary(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

export interface SocketTransport {
  /**
   * Stop taking work (joins, changes and presence get E_SHUTTING_DOWN, retryable) and resolve
   * once every change already received has been appended and answered.
   */
  drain(): Promise<void>;
}

export function attachSocketTransport(io: CartServer, deps: SocketDeps): SocketTransport {
  const { registry, auth, config, log, metrics } = deps;
  /** Every socket's joined carts (their task queues are what a drain waits for). */
  const sessions = new Set<Map<string, Joined>>();
  let draining = false;

  io.use((socket, next) => {
    const token: unknown = (socket.handshake.auth as Record<string, unknown> | undefined)?.token;
    auth.verify(token).then(
      (principal) => {
        socket.data.principal = principal;
        next();
      },
      (err: unknown) => {
        const wire = toWire(err, log);
        metrics.rejected({ code: wire.code, transport: 'socketio' });
        next(Object.assign(new Error(wire.message), { data: wire }));
      },
    );
  });

  // Every node hosting a cart holds the presence of all its devices: its own devices' changes are
  // sent to the other nodes, which apply them (attributed to this node, so they can be dropped when
  // it dies) and relay them to their devices. A node that loads a cart asks for the current states.
  const sendPresence = (cartId: string, frame: Uint8Array): void => {
    io.serverSideEmit('presence', deps.nodeId, cartId, Buffer.from(frame).toString('base64'));
  };
  io.on('presence-query', (cartId) => {
    const cart = typeof cartId === 'string' ? registry.peek(cartId) : undefined;
    const frame = cart ? localPresenceSnapshot(cart) : null;
    if (frame) sendPresence(cartId, frame);
  });
  io.on('presence', (nodeId, cartId, frame) => {
    const cart = typeof cartId === 'string' ? registry.peek(cartId) : undefined;
    if (!cart || typeof nodeId !== 'string' || typeof frame !== 'string') return;
    try {
      applyRemotePresence(cart, nodeId, Buffer.from(frame, 'base64'));
    } catch (err) {
      log.warn('unreadable presence from another node', { nodeId, cartId, err });
    }
  });

  registry.onLoad((cart) => {
    const room = roomOf(cart.cartId);
    cart.onChange((update, meta, origin) => {
      // A change this node appended goes to the cart's devices on every node (through the adapter).
      // A change read back from the log (a worker's, or one this node missed) goes to this node's
      // devices only: every node hosting the cart reads it back itself.
      if (origin.kind === 'log' && origin.relayed) return;
      const target = origin.kind === 'log' ? io.local.to(room) : origin.kind === 'client' ? io.to(room).except(origin.socketId) : io.to(room);
      target.emit('sync', cart.cartId, writeSyncUpdate(update), meta);
    });
    cart.awareness.on('update', ({ added, updated, removed }: Record<'added' | 'updated' | 'removed', number[]>, origin: unknown) => {
      const changed = [...added, ...updated, ...removed];
      if (changed.length === 0 || cart.destroyed) return;
      const frame = encodeAwarenessUpdate(cart.awareness, changed);
      const local = typeof origin === 'string' && origin.startsWith(SOCKET_ORIGIN_PREFIX) ? io.local.to(room).except(origin.slice(SOCKET_ORIGIN_PREFIX.length)) : io.local.to(room);
      local.emit('awareness', cart.cartId, frame);
      if (deps.clustered && isLocalPresenceOrigin(origin)) sendPresence(cart.cartId, frame);
    });
    if (deps.clustered) io.serverSideEmit('presence-query', cart.cartId, deps.nodeId);
  });

  io.on('connection', (socket: CartSocket) => {
    const joined = new Map<string, Joined>();
    sessions.add(joined);
    /** Joins waiting for their cart to load, by cart (a device may retry a join meanwhile). */
    const joining = new Map<string, number>();
    const bucket = new TokenBucket(config.socketRatePerSecond, config.socketBurst);

    /** Common checks of every event; returns a WireError to answer with, or null. */
    const admit = (cartId: unknown): WireError | null => {
      if (draining) return new CartError('E_SHUTTING_DOWN').toWire();
      if (!bucket.take()) return new CartError('E_RATE_LIMITED').toWire();
      if (!isCartId(cartId)) return new CartError('E_CART_ID_INVALID').toWire();
      if (socket.data.principal.expiresAt <= Date.now()) return new CartError('E_AUTH_EXPIRED').toWire();
      return null;
    };

    const reject = (wire: WireError, ack?: (res: { ok: false; error: WireError }) => void): void => {
      metrics.rejected({ code: wire.code, transport: 'socketio' });
      if (ack) ack({ ok: false, error: wire });
    };

    /** Queue `task` behind earlier messages of this socket for this cart. */
    const enqueue = (entry: Joined, task: () => Promise<void>): void => {
      entry.tail = entry.tail.then(task).catch((err: unknown) => log.error('socket task failed', { err }));
    };

    const leave = (cartId: string, entry: Joined): void => {
      joined.delete(cartId);
      void socket.leave(roomOf(cartId));
      removePresence(entry.cart, entry.presence);
      registry.release(entry.cart);
    };

    /** Answer a join: the result, then the server's sync step 1 and the cart's current presence. */
    const welcome = (cartId: string, cart: HostedCart, ack: (res: JoinResult) => void): void => {
      ack({ ok: true, version: cart.version, role: socket.data.principal.role, subject: socket.data.principal.subject, limits: config.limits });
      socket.emit('sync', cartId, writeSyncStep1(Y.encodeStateVector(cart.doc)), null);
      const presence = presenceSnapshot(cart);
      if (presence) socket.emit('awareness', cartId, presence);
    };

    socket.on('join', (cartId, hello, ack) => {
      if (typeof ack !== 'function') return metrics.dropped({ event: 'join' });
      const denied = admit(cartId);
      if (denied) return reject(denied, ack);
      const already = joined.get(cartId);
      // Joining again is how a device asks for a fresh sync: answered like a first join.
      if (already) return welcome(cartId, already.cart, ack);
      // Joins still loading their cart count too, or parallel joins could pass the limit together.
      const loadingOthers = [...joining.keys()].filter((id) => !joined.has(id)).length;
      if (!joining.has(cartId) && joined.size + loadingOthers >= config.maxCartsPerSocket) return reject(new CartError('E_TOO_MANY_CARTS').toWire(), ack);
      try {
        Auth.checkGrant(socket.data.principal, cartId);
      } catch (err) {
        return reject(toWire(err, log), ack);
      }
      const device = typeof hello === 'object' && hello !== null && typeof hello.device === 'string' ? hello.device.slice(0, 64) : 'device';
      joining.set(cartId, (joining.get(cartId) ?? 0) + 1);
      const joinDone = (): void => {
        const left = (joining.get(cartId) ?? 1) - 1;
        if (left > 0) joining.set(cartId, left);
        else joining.delete(cartId);
      };
      registry.acquire(cartId).finally(joinDone).then(
        (cart) => {
          if (!socket.connected) return registry.release(cart);
          const concurrent = joined.get(cartId);
          if (concurrent) {
            // Two joins crossed (a device retrying): the first one holds the cart; answer this one too.
            registry.release(cart);
            return welcome(cartId, concurrent.cart, ack);
          }
          const entry: Joined = {
            cart,
            presence: { connectionId: SOCKET_ORIGIN_PREFIX + socket.id, principal: socket.data.principal, device, clientIds: new Set() },
            tail: Promise.resolve(),
          };
          joined.set(cartId, entry);
          void socket.join(roomOf(cartId));
          welcome(cartId, cart, ack);
          cart.stampClaims(socket.data.principal).catch((err: unknown) => log.warn('could not stamp token claims on the cart', { cartId, err }));
        },
        (err: unknown) => reject(toWire(err instanceof CartError ? err : new CartError('E_STORAGE_UNAVAILABLE'), log), ack),
      );
    });

    socket.on('leave', (cartId, ack) => {
      const entry = typeof cartId === 'string' ? joined.get(cartId) : undefined;
      if (entry) leave(cartId, entry);
      if (typeof ack === 'function') ack({ ok: true });
    });

    socket.on('sync', (cartId, frame, ack) => {
      if (typeof ack !== 'function') return metrics.dropped({ event: 'sync' });
      const denied = admit(cartId);
      if (denied) return reject(denied, ack);
      const entry = joined.get(cartId);
      if (!entry) return reject(new CartError('E_CART_NOT_JOINED').toWire(), ack);
      if (!isBinary(frame)) return reject(new CartError('E_MESSAGE_MALFORMED', 'frame must be binary').toWire(), ack);
      if (frame.byteLength > config.limits.maxSyncBytes + 16) return reject(new CartError('E_UPDATE_TOO_LARGE').toWire(), ack);
      enqueue(entry, async () => {
        let res: SyncAck;
        try {
          const msg = decodeSyncFrame(frame);
          if (msg.kind === 'step1') {
            await entry.cart.catchUp();
            socket.emit('sync', cartId, writeSyncStep2(Y.encodeStateAsUpdate(entry.cart.doc, msg.stateVector)), null);
            res = { ok: true, version: entry.cart.version, prev: entry.cart.version };
          } else {
            const maxBytes = msg.kind === 'step2' ? config.limits.maxSyncBytes : config.limits.maxUpdateBytes;
            const actor = { id: socket.data.principal.subject, role: socket.data.principal.role };
            const { version, prev } = await entry.cart.applyClientUpdate(msg.update, actor, maxBytes, { kind: 'client', socketId: socket.id }, msg.kind === 'step2');
            if (prev !== version) metrics.changes({ origin: 'client' });
            res = { ok: true, version, prev };
          }
        } catch (err) {
          const wire = toWire(err, log);
          metrics.rejected({ code: wire.code, transport: 'socketio' });
          res = { ok: false, error: wire };
        }
        if (socket.connected) ack(res);
      });
    });

    socket.on('awareness', (cartId, frame) => {
      const denied = admit(cartId);
      const entry = joined.get(cartId);
      if (denied || !entry || !isBinary(frame)) {
        metrics.rejected({ code: denied?.code ?? (entry ? 'E_AWARENESS_INVALID' : 'E_CART_NOT_JOINED'), transport: 'socketio' });
        return;
      }
      try {
        applyPresence(entry.cart, entry.presence, frame, config.limits.maxAwarenessBytes);
      } catch (err) {
        const wire = toWire(err, log);
        metrics.rejected({ code: wire.code, transport: 'socketio' });
      }
    });

    socket.on('disconnect', () => {
      sessions.delete(joined);
      for (const [cartId, entry] of joined) leave(cartId, entry);
    });
  });

  return {
    async drain() {
      draining = true;
      // No task is queued after this point, so the current tails are the last ones.
      await Promise.all([...sessions].flatMap((joined) => [...joined.values()].map((entry) => entry.tail)));
    },
  };
}
