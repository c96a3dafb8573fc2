/**
 * Presence (Yjs awareness) as livecart accepts it: bounded, with the subject, role and name stamped from
 * the token so a device cannot pose as another person, and each awareness client id owned by the one
 * connection that first used it. Shared by the Socket.IO and /yjs transports.
 */
import { applyAwarenessUpdate, encodeAwarenessUpdate, removeAwarenessStates } from 'y-protocols/awareness';
import { CartError, decodeAwarenessEntries, encodeAwarenessEntries, type PresenceState } from '../protocol/index.ts';
import type { Principal } from './auth.ts';
import type { HostedCart } from './cart/hosted-cart.ts';

const MAX_DEVICE_NAME = 64;
const MAX_VIEWING = 200;
/** Entries accepted in one presence frame from another node (its devices of one cart). */
const MAX_RELAYED_ENTRIES = 4096;

/**
 * Who owns which awareness client id, per hosted cart: a connection of this node (its connection
 * id) or another node (`node:<id>`, for presence relayed from there).
 */
const owners = new WeakMap<HostedCart, Map<number, string>>();

const NODE_OWNER = 'node:';
const nodeOwner = (nodeId: string): string => NODE_OWNER + nodeId;

/** True for an awareness change origin that is a device of this node (not a relay, not a timeout). */
export function isLocalPresenceOrigin(origin: unknown): boolean {
  return typeof origin === 'string' && (origin.startsWith('sio:') || origin.startsWith('yws:'));
}

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
    // A device that moved here from another node takes its client id with it (same person only).
    const heldSubject = (cart.awareness.getStates().get(entry.clientId) as PresenceState | undefined)?.subject;
    const movedHere = owner?.startsWith(NODE_OWNER) === true && (heldSubject === undefined || heldSubject === session.principal.subject);
    if (owner !== undefined && owner !== session.connectionId && !movedHere) throw new CartError('E_AWARENESS_INVALID', 'client id belongs to another device');
    if (entry.clientId === cart.doc.clientID) throw new CartError('E_AWARENESS_INVALID', 'client id belongs to the server');
    if (entry.state === null) continue;
    const device = typeof entry.state.device === 'string' ? entry.state.device.slice(0, MAX_DEVICE_NAME) : session.device;
    const viewing = typeof entry.state.viewing === 'string' ? entry.state.viewing.slice(0, MAX_VIEWING) : null;
    const stamped: PresenceState = { ...entry.state, device, viewing, subject: session.principal.subject, role: session.principal.role, name: session.principal.name };
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

/** The presence of this node's own devices of the cart (what it answers another node's query with). */
export function localPresenceSnapshot(cart: HostedCart): Uint8Array | null {
  const map = ownerMap(cart);
  const ids = [...cart.awareness.getStates().keys()].filter((id) => map.get(id)?.startsWith(NODE_OWNER) === false);
  return ids.length === 0 ? null : encodeAwarenessUpdate(cart.awareness, ids);
}

/**
 * Apply presence relayed by node `nodeId` (which validated and stamped it). Entries for client ids
 * a device of this node owns are skipped: that device is here now. Throws E_AWARENESS_INVALID on
 * an unreadable frame.
 */
export function applyRemotePresence(cart: HostedCart, nodeId: string, frame: Uint8Array): void {
  const map = ownerMap(cart);
  const owner = nodeOwner(nodeId);
  // Another node's snapshot holds every one of its devices of the cart (more than one device's 8).
  const entries = decodeAwarenessEntries(frame, MAX_RELAYED_ENTRIES).filter((e) => {
    const current = map.get(e.clientId);
    return current === undefined || current.startsWith(NODE_OWNER);
  });
  if (entries.length === 0) return;
  for (const entry of entries) {
    if (entry.state !== null) map.set(entry.clientId, owner);
    else if (map.get(entry.clientId) === owner) map.delete(entry.clientId);
  }
  applyAwarenessUpdate(cart.awareness, encodeAwarenessEntries(entries), owner);
}

/** The other nodes whose devices' presence this node holds for the cart. */
export function presenceNodes(cart: HostedCart): Set<string> {
  const nodes = new Set<string>();
  for (const owner of ownerMap(cart).values()) if (owner.startsWith(NODE_OWNER)) nodes.add(owner.slice(NODE_OWNER.length));
  return nodes;
}

/** Node `nodeId` is gone: remove its devices' presence (relayed to this node's devices as removals). */
export function dropNodePresence(cart: HostedCart, nodeId: string): void {
  const map = ownerMap(cart);
  const owner = nodeOwner(nodeId);
  const ids = [...map].filter(([, o]) => o === owner).map(([id]) => id);
  for (const id of ids) map.delete(id);
  if (ids.length > 0 && !cart.destroyed) removeAwarenessStates(cart.awareness, ids, 'node-gone');
}
