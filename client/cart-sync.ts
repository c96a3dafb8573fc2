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
import { applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness';
import {
  type CartClosed,
  type CartLimits,
  type ChangeMeta,
  DEFAULT_LIMITS,
  type WireError,
  decodeSyncFrame,
  wireError,
  writeSyncStep1,
  writeSyncStep2,
  writeSyncUpdate,
} from '../protocol/index.ts';
import { toBytes } from './bytes.ts';
import { SERVER_ORIGIN } from './origin.ts';
import { Backoff, closeError, reactionToClose, reactionToError } from './policy.ts';
import type { CartSocket, JoinOk, SaveState, SyncHost, SyncTiming } from './sync-host.ts';
import { Timers } from './timers.ts';
import { VersionTracker } from './version-tracker.ts';

type Phase = 'offline' | 'joining' | 'joined' | 'stopped' | 'closed';

/** One step 1 / step 2 exchange; `pushed` starts true when the exchange only pulls. */
interface Exchange {
  pulled: boolean;
  pushed: boolean;
  announce: boolean;
}

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
  /** retry: a backoff before a resync or rejoin; step1: waiting for the server's step 1; gap: the
   * wait before pulling after a gap; check: the periodic pull. */
  private readonly timers = new Timers<'retry' | 'step1' | 'gap' | 'check'>();

  constructor(
    /** The connection's current socket (it changes when the connection fails over to another URL). */
    private readonly socket: () => CartSocket,
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
    return this.phase === 'joined' && !this.timers.armed('retry') ? 'saving' : 'unsaved';
  }

  /** Local state was restored that the server may lack: the next exchange pushes it. */
  markDirty(): void {
    this.needsPush = true;
  }

  /** Join now if the socket is up (otherwise the connection calls `onConnect`). */
  start(): void {
    if (this.socket().connected) this.join(false);
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
    if (this.phase !== 'joined' || !this.pushedThisSession || this.needsPush || this.timers.armed('retry')) {
      this.needsPush = true;
      return;
    }
    if (update.byteLength > this.limits.maxUpdateBytes) {
      // Too big for a live update; a sync step 2 has the larger limit.
      this.needsPush = true;
      this.push(this.pushBase, null);
      return;
    }
    this.send(writeSyncUpdate(update), true, (version, prev) => this.noteAppended(prev, version));
  }

  /** Send this device's presence (after a local presence change and after joining). */
  sendAwareness(): void {
    if (this.phase !== 'joined') return;
    const awareness = this.host.awareness();
    this.socket().emit('awareness', this.host.cartId, encodeAwarenessUpdate(awareness, [awareness.clientID]));
  }

  onServerSync(frame: unknown, meta: ChangeMeta | null): void {
    if (!this.active) return;
    let msg: ReturnType<typeof decodeSyncFrame>;
    try {
      msg = decodeSyncFrame(toBytes(frame) ?? new Uint8Array());
    } catch {
      // Unreadable frame: drop it, and pull in case it carried a change.
      this.suspect = true;
      return this.armGapCheck();
    }
    switch (msg.kind) {
      case 'step1':
        if (this.phase !== 'joined') return;
        this.timers.clear('step1');
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
    // A malformed presence frame only loses presence: drop it.
    try {
      applyAwarenessUpdate(this.host.awareness(), bytes, SERVER_ORIGIN);
    } catch {}
  }

  onCartClosed(closed: CartClosed): void {
    if (!this.active || typeof closed !== 'object' || closed === null) return;
    const error = closeError(closed);
    switch (reactionToClose(closed.reason)) {
      case 'stop':
        return this.stop(error);
      case 'reject':
        return this.host.rejected(error);
      default:
        if (closed.reason === 'malformed') this.host.report(error);
        this.endSession();
        this.scheduleJoin();
        this.host.statusChanged();
    }
  }

  /** Stop syncing for good and report `error` (auth or grant failures). Local edits stay local. */
  stop(error: WireError): void {
    if (!this.active) return;
    this.end('stopped');
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
    if (this.phase !== 'closed') this.end('closed');
  }

  private end(phase: 'stopped' | 'closed'): void {
    const wasJoined = this.phase === 'joined' || this.phase === 'joining';
    this.endSession();
    this.phase = phase;
    if (wasJoined && this.socket().connected) this.socket().emit('leave', this.host.cartId, () => undefined);
  }

  private join(leaveFirst: boolean): void {
    if (!this.active) return;
    this.timers.clearAll();
    if (!this.socket().connected) {
      this.phase = 'offline';
      return;
    }
    const session = ++this.session;
    this.phase = 'joining';
    // A fresh join: the server answers a repeated join without a step 1, so leave first.
    if (leaveFirst) this.socket().emit('leave', this.host.cartId, () => undefined);
    this.socket().timeout(this.timing.ackTimeoutMs).emit('join', this.host.cartId, { device: this.host.device }, (err, res) => {
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
    this.timers.set('step1', this.timing.ackTimeoutMs, () => {
      if (session === this.session && !this.pushedThisSession) this.push(this.pushBase, exchange);
    });
    this.armCheck();
    this.host.statusChanged();
  }

  private armCheck(): void {
    if (this.timing.syncCheckMs <= 0) return;
    this.timers.set('check', this.timing.syncCheckMs, () => {
      if (this.phase === 'joined' && this.current === null && !this.timers.armed('retry')) this.begin(false);
      this.armCheck();
    });
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
      writeSyncStep1(Y.encodeStateVector(this.host.doc())),
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
    const doc = this.host.doc();
    const update = base ? Y.encodeStateAsUpdate(doc, base) : Y.encodeStateAsUpdate(doc);
    const reached = Y.encodeStateVector(doc);
    this.needsPush = false;
    this.pushedThisSession = true;
    this.send(writeSyncStep2(update), true, (version, prev) => {
      this.noteAppended(prev, version);
      this.pushBase = reached;
      if (exchange) {
        exchange.pushed = true;
        this.complete(exchange);
      }
    });
  }

  /**
   * Our change was appended between `prev` and `version` (the server does not relay it back to us).
   * `prev === version`: nothing was appended, which says nothing about changes still on their way.
   */
  private noteAppended(prev: number, version: number): void {
    if (prev !== version && this.versions.note(prev, version)) this.armGapCheck();
  }

  /** Emit a sync frame with an acknowledgement; `carries`: the frame holds local edits. */
  private send(frame: Uint8Array, carries: boolean, onOk: (version: number, prev: number) => void, onFail?: () => void): void {
    const session = this.session;
    if (carries) this.inflight += 1;
    this.host.statusChanged();
    this.socket().timeout(this.timing.ackTimeoutMs).emit('sync', this.host.cartId, frame, (err, res) => {
      if (session !== this.session) return;
      if (carries) this.inflight -= 1;
      if (!err && res?.ok) onOk(res.version, res.prev);
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
    if (reaction === 'retry-full') this.pushBase = null;
    if (reaction === 'retry' || reaction === 'retry-full') return this.scheduleResync();
    if (reaction === 'rejoin') {
      this.endSession();
      return this.scheduleJoin();
    }
    const wire = error ?? wireError('E_INTERNAL');
    if (reaction === 'reject') this.host.rejected(wire);
    else this.stop(wire);
  }

  private applyRemote(update: Uint8Array): void {
    const doc = this.host.doc();
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
    if (this.timers.armed('gap')) return;
    this.timers.set('gap', this.timing.gapWaitMs, () => {
      if (this.phase !== 'joined' || this.timers.armed('retry') || !(this.versions.gap || this.suspect)) return;
      // An exchange in progress pulls already; look again once it is done.
      if (this.current !== null) this.armGapCheck();
      else this.begin(false);
    });
  }

  /** Redo the exchange (push and pull) after a backoff, within the current session. */
  private scheduleResync(): void {
    if (this.timers.armed('retry') || !this.active) return;
    this.host.unreachable();
    this.timers.set('retry', this.backoff.delay(), () => {
      if (this.phase === 'joined') this.begin(true);
      this.host.statusChanged();
    });
  }

  /** Join again after a backoff (the current session has ended). */
  private scheduleJoin(): void {
    if (!this.active) return;
    this.timers.set('retry', this.backoff.delay(), () => {
      this.join(true);
      this.host.statusChanged();
    });
  }

  /** End the current session: its acknowledgements no longer count, unacknowledged edits are unsaved. */
  private endSession(): void {
    this.session += 1;
    if (this.phase === 'joined' || this.phase === 'joining') this.phase = 'offline';
    if (this.inflight > 0) this.needsPush = true;
    this.inflight = 0;
    this.pushedThisSession = false;
    this.current = null;
    this.timers.clearAll();
    this.host.dropped();
  }
}
