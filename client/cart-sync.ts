/**
 * The sync engine of one open cart: join, the two-way sync step 1 / step 2 exchange (offline edits
 * flow up, missed changes flow down), live updates acknowledged once durable, retries with backoff,
 * gap detection, presence frames, and the reactions to `cart-closed`. It owns no document: it works
 * on whatever document its host (the CartHandle) holds, which a rejection replaces.
 *
 * Every callback belongs to a session (one join of one socket connection); a callback of an ended
 * session is ignored, so a late acknowledgement never changes the state of a newer session.
 */
import * as Y from 'yjs';
import type { Socket } from 'socket.io-client';
import { type Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness';
import {
  type CartClosed,
  type CartLimits,
  type ChangeMeta,
  type ClientToServerEvents,
  DEFAULT_LIMITS,
  type ErrorCode,
  type JoinResult,
  type ServerToClientEvents,
  type WireError,
  decodeSyncFrame,
  wireError,
  writeSyncStep1,
  writeSyncStep2,
  writeSyncUpdate,
} from '../protocol/index.ts';
import { toBytes } from './bytes.ts';
import { SERVER_ORIGIN } from './origin.ts';
import { Backoff, reactionToClose, reactionToError } from './policy.ts';
import { VersionTracker } from './version-tracker.ts';

export type CartSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
export type JoinOk = Extract<JoinResult, { ok: true }>;
export type SaveState = 'saved' | 'saving' | 'unsaved';

/** What the engine needs from the cart it syncs. */
export interface SyncHost {
  readonly cartId: string;
  readonly device: string;
  /** The current document and its presence (both replaced after a rejection). */
  readonly doc: Y.Doc;
  readonly awareness: Awareness;
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

type Phase = 'offline' | 'joining' | 'joined' | 'stopped' | 'closed';

/** One step 1 / step 2 exchange; `pushed` starts true when the exchange only pulls. */
interface Exchange {
  pulled: boolean;
  pushed: boolean;
  announce: boolean;
}

type Timer = ReturnType<typeof setTimeout>;

const CLOSE_ERROR: Record<string, ErrorCode> = {
  forbidden: 'E_AUTH_FORBIDDEN',
  unauthorized: 'E_AUTH_INVALID',
  rejected: 'E_UPDATE_INVALID_VALUE',
};

export class CartSync {
  /** Gap detection on the cart's log version. */
  readonly versions = new VersionTracker();
  private phase: Phase = 'offline';
  private session = 0;
  /** Messages carrying local edits whose acknowledgement is awaited. */
  private inflight = 0;
  /** Local edits exist that no message in flight carries: the next push must. */
  private needsPush = false;
  private pushedThisSession = false;
  /** A state vector the server is known to have reached; pushes send what lies beyond it. */
  private pushBase: Uint8Array | null = null;
  /** Set when a remote update could not be fully integrated (missing dependencies). */
  private suspect = false;
  private current: Exchange | null = null;
  private limits: CartLimits = DEFAULT_LIMITS;
  private readonly backoff: Backoff;
  private retryTimer: Timer | null = null;
  private step1Timer: Timer | null = null;
  private gapTimer: Timer | null = null;
  private checkTimer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly socket: CartSocket,
    private readonly host: SyncHost,
    private readonly timing: SyncTiming,
  ) {
    this.backoff = new Backoff(timing.retryMinMs, timing.retryMaxMs);
  }

  /** Joined to the cart in the current session. */
  get online(): boolean {
    return this.phase === 'joined';
  }

  /** False once stopped or closed: the engine sends nothing any more. */
  get active(): boolean {
    return this.phase !== 'stopped' && this.phase !== 'closed';
  }

  get saveState(): SaveState {
    if (!this.needsPush && this.inflight === 0) return 'saved';
    return this.phase === 'joined' && this.retryTimer === null ? 'saving' : 'unsaved';
  }

  /** Local state was restored that the server may lack: the next exchange pushes it. */
  markDirty(): void {
    this.needsPush = true;
  }

  /** Join now if the socket is up (otherwise the connection calls `onConnect`). */
  start(): void {
    if (this.socket.connected) this.join(false);
  }

  onConnect(): void {
    if (this.active) this.join(false);
  }

  onDisconnect(): void {
    if (!this.active) return;
    this.endSession();
    this.host.statusChanged();
  }

  /** A local change: send it, or leave it to the next push when it cannot go now. */
  localUpdate(update: Uint8Array): void {
    if (this.phase === 'closed') return;
    if (this.phase !== 'joined' || !this.pushedThisSession || this.needsPush || this.retryTimer !== null) {
      this.needsPush = true;
      return;
    }
    if (update.byteLength > this.limits.maxUpdateBytes) {
      // Too big for a live update; a sync step 2 has the larger limit.
      this.needsPush = true;
      this.push(this.pushBase, null);
      return;
    }
    this.send(writeSyncUpdate(update), true, (version) => {
      // The server appended this change right after `version - 1` (SyncAck carries no `prev`).
      if (this.versions.note(version - 1, version)) this.armGapCheck();
    });
  }

  /** Send this device's presence (after a local presence change and after joining). */
  sendAwareness(): void {
    if (this.phase !== 'joined') return;
    const awareness = this.host.awareness;
    this.socket.emit('awareness', this.host.cartId, encodeAwarenessUpdate(awareness, [awareness.clientID]));
  }

  onServerSync(frame: unknown, meta: ChangeMeta | null): void {
    if (!this.active) return;
    const bytes = toBytes(frame);
    let msg: ReturnType<typeof decodeSyncFrame>;
    try {
      if (!bytes) throw new Error('not binary');
      msg = decodeSyncFrame(bytes);
    } catch {
      // Unreadable frame: drop it, and pull in case it carried a change.
      this.suspect = true;
      this.armGapCheck();
      return;
    }
    switch (msg.kind) {
      case 'step1':
        if (this.phase !== 'joined') return;
        this.clearTimer('step1Timer');
        this.push(msg.stateVector, this.current && !this.current.pushed ? this.current : null);
        return;
      case 'step2':
      case 'update':
        this.applyRemote(msg.update);
        if (meta && typeof meta.version === 'number' && typeof meta.prev === 'number' && this.versions.note(meta.prev, meta.version)) {
          this.armGapCheck();
        }
        return;
    }
  }

  onServerAwareness(frame: unknown): void {
    const bytes = toBytes(frame);
    if (!this.active || !bytes) return;
    try {
      applyAwarenessUpdate(this.host.awareness, bytes, SERVER_ORIGIN);
    } catch {
      // A malformed presence frame only loses presence; drop it.
    }
  }

  onCartClosed(closed: CartClosed): void {
    if (!this.active || typeof closed !== 'object' || closed === null) return;
    const error = closed.error ?? wireError(CLOSE_ERROR[closed.reason] ?? 'E_INTERNAL', `cart closed: ${closed.reason}`);
    switch (reactionToClose(closed.reason)) {
      case 'stop':
        return this.stop(error);
      case 'reject':
        return this.host.rejected(error);
      default:
        if (closed.reason === 'too-large' || closed.reason === 'malformed') this.host.report(error);
        this.endSession();
        this.scheduleJoin();
        this.host.statusChanged();
    }
  }

  /** Stop syncing for good and report `error` (auth or grant failures). Local edits stay local. */
  stop(error: WireError): void {
    if (!this.active) return;
    const wasJoined = this.phase === 'joined' || this.phase === 'joining';
    this.endSession();
    this.phase = 'stopped';
    if (wasJoined && this.socket.connected) this.socket.emit('leave', this.host.cartId, () => undefined);
    this.host.stopped(error);
  }

  /** After the host replaced a rejected document: forget everything about the old one and rejoin. */
  restart(): void {
    if (!this.active) return;
    this.endSession();
    this.needsPush = false;
    this.pushBase = null;
    this.suspect = false;
    this.versions.reset();
    this.join(true);
    this.host.statusChanged();
  }

  /** Leave the cart and stop. */
  close(): void {
    if (this.phase === 'closed') return;
    const wasJoined = this.phase === 'joined' || this.phase === 'joining';
    this.endSession();
    this.phase = 'closed';
    if (wasJoined && this.socket.connected) this.socket.emit('leave', this.host.cartId, () => undefined);
  }

  private join(leaveFirst: boolean): void {
    if (!this.active) return;
    this.clearTimers();
    if (!this.socket.connected) {
      this.phase = 'offline';
      return;
    }
    const session = ++this.session;
    this.phase = 'joining';
    // A fresh join: the server answers a repeated join without a step 1, so leave first.
    if (leaveFirst) this.socket.emit('leave', this.host.cartId, () => undefined);
    this.socket.timeout(this.timing.ackTimeoutMs).emit('join', this.host.cartId, { device: this.host.device }, (err, res) => {
      if (session !== this.session) return;
      if (err || !res) return this.joinFailed(null);
      if (!res.ok) return this.joinFailed(res.error);
      this.joined(session, res);
    });
  }

  private joinFailed(error: WireError | null): void {
    const reaction = error ? reactionToError(error) : 'retry';
    if (error && (reaction === 'stop' || reaction === 'reject')) return this.stop(error);
    this.host.unreachable();
    this.scheduleJoin();
    this.host.statusChanged();
  }

  private joined(session: number, res: JoinOk): void {
    this.phase = 'joined';
    this.limits = res.limits;
    this.host.joined(res);
    // Pull now; push when the server's step 1 says what it has (or, failing that, after a timeout).
    const exchange: Exchange = { pulled: false, pushed: false, announce: true };
    this.current = exchange;
    this.pull(exchange);
    this.step1Timer = setTimeout(() => {
      this.step1Timer = null;
      if (session === this.session && !this.pushedThisSession) this.push(this.pushBase, exchange);
    }, this.timing.ackTimeoutMs);
    if (this.timing.syncCheckMs > 0) {
      this.checkTimer = setInterval(() => {
        if (this.phase === 'joined' && this.current === null && this.retryTimer === null) this.begin(false);
      }, this.timing.syncCheckMs);
    }
    this.host.statusChanged();
  }

  /** Start an exchange: always pull; push too when `push`. */
  private begin(push: boolean): void {
    const exchange: Exchange = { pulled: false, pushed: !push, announce: push };
    this.current = exchange;
    if (push) this.push(this.pushBase, exchange);
    this.pull(exchange);
  }

  private complete(exchange: Exchange): void {
    if (exchange !== this.current || !exchange.pulled || !exchange.pushed) return;
    this.current = null;
    this.backoff.reset();
    if (exchange.announce) this.host.synced();
  }

  private pull(exchange: Exchange): void {
    this.versions.beginPull();
    this.send(
      writeSyncStep1(Y.encodeStateVector(this.host.doc)),
      false,
      (version) => {
        this.suspect = false;
        if (this.versions.pulled(version)) this.armGapCheck();
        exchange.pulled = true;
        this.complete(exchange);
      },
      () => {
        if (this.versions.abortPull()) this.armGapCheck();
      },
    );
  }

  /** Send everything the server may lack, as a sync step 2 relative to `base` (null: everything). */
  private push(base: Uint8Array | null, exchange: Exchange | null): void {
    const doc = this.host.doc;
    const update = base ? Y.encodeStateAsUpdate(doc, base) : Y.encodeStateAsUpdate(doc);
    const reached = Y.encodeStateVector(doc);
    this.needsPush = false;
    this.pushedThisSession = true;
    // No version bookkeeping: a push that changes nothing is answered with the current version,
    // which says nothing about changes still on their way; the pull beside it covers them.
    this.send(writeSyncStep2(update), true, () => {
      this.pushBase = reached;
      if (exchange) {
        exchange.pushed = true;
        this.complete(exchange);
      }
    });
  }

  /** Emit a sync frame with an acknowledgement; `carries`: the frame holds local edits. */
  private send(frame: Uint8Array, carries: boolean, onOk: (version: number) => void, onFail?: () => void): void {
    const session = this.session;
    if (carries) this.inflight += 1;
    this.host.statusChanged();
    this.socket.timeout(this.timing.ackTimeoutMs).emit('sync', this.host.cartId, frame, (err, res) => {
      if (session !== this.session) return;
      if (carries) this.inflight -= 1;
      if (!err && res?.ok) onOk(res.version);
      else {
        onFail?.();
        this.failed(err || !res || res.ok ? null : res.error, carries);
      }
      this.host.statusChanged();
    });
  }

  /** A sync message failed: `error` null means its acknowledgement was lost. */
  private failed(error: WireError | null, carries: boolean): void {
    if (carries) this.needsPush = true;
    const reaction = error ? reactionToError(error) : 'retry';
    switch (reaction) {
      case 'retry-full':
        this.pushBase = null;
        this.scheduleResync();
        return;
      case 'retry':
        this.scheduleResync();
        return;
      case 'rejoin':
        this.endSession();
        this.scheduleJoin();
        return;
      case 'reject':
        this.host.rejected(error ?? wireError('E_UPDATE_INVALID_VALUE'));
        return;
      case 'stop':
        this.stop(error ?? wireError('E_INTERNAL'));
        return;
    }
  }

  private applyRemote(update: Uint8Array): void {
    const doc = this.host.doc;
    try {
      Y.applyUpdate(doc, update, SERVER_ORIGIN);
    } catch {
      this.suspect = true;
    }
    // Held back for missing dependencies: a change before it was lost on the way.
    if (doc.store.pendingStructs !== null || doc.store.pendingDs !== null) this.suspect = true;
    if (this.suspect) this.armGapCheck();
  }

  private armGapCheck(): void {
    if (this.gapTimer !== null) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = null;
      if (this.phase !== 'joined' || this.retryTimer !== null || !(this.versions.gap || this.suspect)) return;
      // An exchange in progress pulls already; look again once it is done.
      if (this.current !== null) this.armGapCheck();
      else this.begin(false);
    }, this.timing.gapWaitMs);
  }

  /** Redo the exchange (push and pull) after a backoff, within the current session. */
  private scheduleResync(): void {
    if (this.retryTimer !== null || !this.active) return;
    this.host.unreachable();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.phase === 'joined') this.begin(true);
      this.host.statusChanged();
    }, this.backoff.delay());
  }

  /** Join again after a backoff (the current session has ended). */
  private scheduleJoin(): void {
    if (!this.active) return;
    this.clearTimer('retryTimer');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.join(true);
      this.host.statusChanged();
    }, this.backoff.delay());
  }

  /** End the current session: its acknowledgements no longer count, unacknowledged edits are unsaved. */
  private endSession(): void {
    this.session += 1;
    if (this.phase === 'joined' || this.phase === 'joining') this.phase = 'offline';
    if (this.inflight > 0) this.needsPush = true;
    this.inflight = 0;
    this.pushedThisSession = false;
    this.current = null;
    this.clearTimers();
    this.host.dropped();
  }

  private clearTimer(name: 'retryTimer' | 'step1Timer' | 'gapTimer'): void {
    const timer = this[name];
    if (timer !== null) clearTimeout(timer);
    this[name] = null;
  }

  private clearTimers(): void {
    this.clearTimer('retryTimer');
    this.clearTimer('step1Timer');
    this.clearTimer('gapTimer');
    if (this.checkTimer !== null) clearInterval(this.checkTimer);
    this.checkTimer = null;
  }
}
