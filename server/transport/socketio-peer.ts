/**
 * The Socket.IO side of a cart session: the typed server and socket, and how a session reaches its
 * device (events named by cart on the device's one connection).
 */
import type { Server, Socket } from 'socket.io';
import type { CartClosed, ClientToServerEvents, ServerToClientEvents } from '../../protocol/index.ts';
import type { Principal } from '../auth.ts';
import type { TokenBucket } from '../rate-limit.ts';
import type { SessionPeer } from '../session/cart-session.ts';
import { bufferedBytes } from './socketio-buffer.ts';
import { SOCKET_ORIGIN_PREFIX, roomOf } from './socketio-relay.ts';

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

export interface SocketData {
  principal: Principal;
}

export type CartServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
export type CartSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** The peer of `socket`'s session with `cartId`; `bucket` is the connection's message budget. */
export function socketPeer(socket: CartSocket, cartId: string, bucket: TokenBucket, answerBytes: TokenBucket): SessionPeer {
  return {
    transport: 'socketio',
    connectionId: SOCKET_ORIGIN_PREFIX + socket.id,
    origin: { kind: 'client', socketId: socket.id },
    bucket,
    answerBytes,
    isOpen: () => socket.connected,
    buffered: () => bufferedBytes(socket),
    sendSync: (frame, meta) => socket.emit('sync', cartId, frame, meta),
    sendAwareness: (frame) => socket.emit('awareness', cartId, frame),
    ended: (close, error, mergedInto) => {
      const closed: CartClosed = { reason: close.name };
      if (error) closed.error = error;
      if (mergedInto !== undefined) closed.mergedInto = mergedInto;
      socket.emit('cart-closed', cartId, closed);
      void socket.leave(roomOf(cartId));
    },
  };
}
