/**
 * Presence (Yjs awareness) as livecart accepts it: bounded, with the subject and role stamped from
 * the token so a device cannot pose as another person, and each awareness client id owned by the one
 * connection that first used it. Shared by the Socket.IO and /yjs transports.
 */
import { applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import { CartError, decodeAwarenessEntries, encodeAwarenessEntries, type PresenceState } from '../protocol/index.ts';
import type { Principal } from './auth.ts';
import type { HostedCart } from './cart/hosted-cart.ts';

const MAX_DEVICE_NAME = 64;
const MAX_VIEWING = 200;

/** Who owns which awareness client id, per hosted cart. */
const owners = new WeakMap<HostedCart, Map<number, string>>();

function ownerMap(cart: HostedCart): Map<number, string> {
  let map = owners.get(cart);
  if (!map) owners.set(cart, (map = new Map()));
  return map;
}

export interface PresenceSession {
  /** Unique per connection; also the awareness transaction origin. */
  connectionId: string;
  principal: Principal;
  device: string;
  /** Awareness client ids this connection controls in this cart. */
  clientIds: Set<number>;
}

/**
 * Validate, stamp and apply a presence frame from `session`. Throws E_AWARENESS_INVALID; changes
 * nothing unless the whole frame is acceptable.
 */
export function applyPresence(cart: HostedCart, session: PresenceSession, frame: Uint8Array, maxBytes: number): void {
  if (frame.byteLength > maxBytes) throw new CartError('E_AWARENESS_INVALID', `${frame.byteLength} bytes > ${maxBytes}`);
  const entries = decodeAwarenessEntries(frame, 8);
  const map = ownerMap(cart);
  for (const entry of entries) {
    const owner = map.get(entry.clientId);
    if (owner !== undefined && owner !== session.connectionId) throw new CartError('E_AWARENESS_INVALID', 'client id belongs to another device');
    if (entry.clientId === cart.doc.clientID) throw new CartError('E_AWARENESS_INVALID', 'client id belongs to the server');
    if (entry.state === null) continue;
    const device = typeof entry.state.device === 'string' ? entry.state.device.slice(0, MAX_DEVICE_NAME) : session.device;
    const viewing = typeof entry.state.viewing === 'string' ? entry.state.viewing.slice(0, MAX_VIEWING) : null;
    const stamped: PresenceState = { ...entry.state, device, viewing, subject: session.principal.subject, role: session.principal.role };
    entry.state = stamped;
  }
  const encoded = encodeAwarenessEntries(entries);
  if (encoded.byteLength > maxBytes + 256) throw new CartError('E_AWARENESS_INVALID', 'presence state too large');
  for (const entry of entries) {
    map.set(entry.clientId, session.connectionId);
    session.clientIds.add(entry.clientId);
  }
  applyAwarenessUpdate(cart.awareness, encoded, session.connectionId);
}

/** Remove a leaving connection's presence (relayed to the others as removals). */
export function removePresence(cart: HostedCart, session: PresenceSession): void {
  const map = ownerMap(cart);
  const ids = [...session.clientIds].filter((id) => map.get(id) === session.connectionId);
  for (const id of ids) map.delete(id);
  session.clientIds.clear();
  if (ids.length > 0 && !cart.destroyed) removeAwarenessStates(cart.awareness, ids, session.connectionId);
}

/** Every current presence state of the cart, as one awareness frame (null when there is none). */
export function presenceSnapshot(cart: HostedCart): Uint8Array | null {
  const ids = [...cart.awareness.getStates().keys()];
  return ids.length === 0 ? null : encodeAwarenessUpdate(cart.awareness, ids);
}
