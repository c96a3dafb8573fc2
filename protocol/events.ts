/**
 * Typed Socket.IO event maps, shared by server and client (passed as generics to `Server` and
 * `io()`), and the payloads they carry. Binary frames are y-protocols sync / awareness frames
 * (protocol/codec.ts). One socket may join several carts; every event names its cart.
 */
import type { ActivityEntry } from './activity.ts';
import type { CloseName } from './close-codes.ts';
import type { WireError } from './errors.ts';
import type { CartLimits, Role } from './schema.ts';

/** What a device says about itself when it joins a cart. Shown to the cart's other devices. */
export interface JoinHello {
  /** Human-readable device name ("Ana's phone"), at most 64 characters. */
  device?: string;
}

export type JoinResult =
  | {
      ok: true;
      /** The cart's version: the sequence number of the last change in its log (0: empty cart). */
      version: number;
      role: Role;
      subject: string;
      /** The token's display name (stamped by the library on the lines it adds); absent: none. */
      name?: string;
      limits: CartLimits;
    }
  | { ok: false; error: WireError };

/**
 * Answer to a sync frame. For a step 2 or update: `ok` only once the change is in the cart's log.
 * `prev` is the version the change was appended after; `prev === version` when nothing was appended
 * (a step 1, or an update the server already had), which says nothing about versions before it.
 */
export type SyncAck = { ok: true; version: number; prev: number } | { ok: false; error: WireError };

export type LeaveAck = { ok: true } | { ok: false; error: WireError };

/**
 * Answer to `refresh-token`: the connection (and every cart it joined) now runs under the new
 * token, until `expiresAt` (ms since the epoch). Refused: the old token stays in force.
 */
export type RefreshAck = { ok: true; expiresAt: number } | { ok: false; error: WireError };

/** Metadata of a change the server relays: its log position, so gaps can be detected. */
export interface ChangeMeta {
  /** Log sequence number of this change (the cart's version after it). */
  version: number;
  /** Log sequence number of the change before it. */
  prev: number;
}

/** Why the server ended a device's session with one cart (the connection stays up). */
export interface CartClosed {
  reason: CloseName;
  error?: WireError;
  /** With reason `merged`: the cart this one went into (the signed-in customer's active cart). */
  mergedInto?: string;
}

export interface ClientToServerEvents {
  join: (cartId: string, hello: JoinHello, ack: (res: JoinResult) => void) => void;
  leave: (cartId: string, ack: (res: LeaveAck) => void) => void;
  sync: (cartId: string, frame: Uint8Array, ack: (res: SyncAck) => void) => void;
  awareness: (cartId: string, frame: Uint8Array) => void;
  /**
   * A new token for this live connection (before the old one expires): same subject, granting
   * every cart the connection has joined.
   */
  'refresh-token': (token: string, ack: (res: RefreshAck) => void) => void;
}

export interface ServerToClientEvents {
  /** Sync step 1 / step 2 from the server, or a relayed change (with its log position). */
  sync: (cartId: string, frame: Uint8Array, meta: ChangeMeta | null) => void;
  awareness: (cartId: string, frame: Uint8Array) => void;
  'cart-closed': (cartId: string, closed: CartClosed) => void;
  /** Who did what to the cart (protocol/SPEC.md §2 "Activity"), from any device on any node. */
  activity: (cartId: string, entry: ActivityEntry) => void;
}

/** Presence state as livecart stamps it; `subject` and `role` come from the token, not the device. */
export interface PresenceState {
  device: string;
  subject: string;
  role: Role;
  /** The person's display name, stamped by the server from the token's `name` claim; null: none. */
  name: string | null;
  /** What the device is looking at (a SKU, a lineId, a page), set by the device. */
  viewing: string | null;
  [extra: string]: unknown;
}
