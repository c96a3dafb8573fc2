/**
 * Relays of a hosted cart to its Socket.IO devices, and presence between nodes. A change this node
 * appended goes to the cart's room on every node through the adapter (one encoded packet shared by
 * every socket of the room); a change read back from the log goes to this node's devices only.
 */
import { encodeAwarenessUpdate } from 'y-protocols/awareness';
import { writeSyncUpdate } from '../../protocol/index.ts';
import type { CartRegistry } from '../cart/registry.ts';
import type { Logger } from '../../core/log.ts';
import { applyRemotePresence, isLocalPresenceOrigin, localPresenceSnapshot } from '../presence.ts';
import type { CartServer } from './socketio-peer.ts';

export const roomOf = (cartId: string): string => `cart:${cartId}`;
export const SOCKET_ORIGIN_PREFIX = 'sio:';

export interface RelayDeps {
  registry: CartRegistry;
  log: Logger;
  clustered: boolean;
  nodeId: string;
  /** Called with the room before each relay (slow readers of it are closed first). */
  beforeRelay: (room: string) => void;
}

export function attachSocketRelays(io: CartServer, deps: RelayDeps): void {
  const { registry, log } = deps;
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
      // The node that appended a change relayed it to every node's devices already.
      if (origin.kind === 'log' && origin.relayed) return;
      deps.beforeRelay(room);
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
}
