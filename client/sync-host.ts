/**
 * The contract between a cart's sync engine (cart-sync.ts) and the cart it syncs (cart-handle.ts),
 * and the engine's timing settings.
 */
import type * as Y from 'yjs';
import type { Socket } from 'socket.io-client';
import type { Awareness } from 'y-protocols/awareness';
import type { ClientToServerEvents, JoinResult, ServerToClientEvents, WireError } from '../protocol/index.ts';

export type CartSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
export type JoinOk = Extract<JoinResult, { ok: true }>;

/**
 * 'saved': every local change is acknowledged (durable on the server); 'saving': sent, awaiting the
 * acknowledgement; 'unsaved': local changes the server does not have yet (offline, retrying).
 */
export type SaveState = 'saved' | 'saving' | 'unsaved';

/** What the engine needs from the cart it syncs. */
export interface SyncHost {
  readonly cartId: string;
  readonly device: string;
  /** The current document and its presence (both replaced after a rejection). */
  doc(): Y.Doc;
  awareness(): Awareness;
  joined(result: JoinOk): void;
  /** A step 1 / step 2 exchange that pushed local state completed. */
  synced(): void;
  /** Online state, unsaved work or pending retries may have changed. */
  statusChanged(): void;
  /** An attempt to reach the server failed in a way that is retried: the cart is usable offline. */
  unreachable(): void;
  /** The session with the cart ended (disconnect, close, rejoin). */
  dropped(): void;
  /** The server will never accept the local document: replace it, then call `restart()`. */
  rejected(error: WireError): void;
  /** Syncing stopped for good (auth, grant). */
  stopped(error: WireError): void;
  /** A problem worth reporting that the engine recovers from by itself. */
  report(error: WireError): void;
}

export interface SyncTiming {
  /** Wait for an acknowledgement before counting it lost (a lost ack is retried like E_INTERNAL). */
  ackTimeoutMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** Wait after a gap is seen before pulling: relays from different nodes can arrive out of order. */
  gapWaitMs: number;
  /** Interval of the pull that catches a lost last change (no later change reveals that gap). 0: off. */
  syncCheckMs: number;
}
