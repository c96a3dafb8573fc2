/**
 * One open cart on this device: its Yjs document, the plain view of it, save and online state,
 * presence, and the cart operations (checked against the cart's limits, then applied with the pure
 * operations of protocol/cart-ops.ts). Created by `LiveCartConnection.open`.
 */
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import {
  type Actor,
  type AddLineInput,
  CartError,
  type CartLimits,
  type CartView,
  DEFAULT_LIMITS,
  type PresenceState,
  type WireError,
  addLine,
  applyCoupon,
  readCart,
  removeCoupon,
  setAttribute,
  setNote,
  setQuantity,
  wireError,
} from '../protocol/index.ts';
import { checkAdd, checkAttribute, checkCoupon, checkSetNote, checkSetQuantity, checkViewing } from './checks.ts';
import { CartSync } from './cart-sync.ts';
import { type Waiter, deferred, settleAll } from './deferred.ts';
import { TypedEmitter } from './emitter.ts';
import { LocalSave } from './local-save.ts';
import { STORAGE_ORIGIN, isLocalOrigin } from './origin.ts';
import { forgetOthers, otherDevices } from './presence.ts';
import type { CartStorage } from './storage.ts';
import type { CartSocket, JoinOk, SaveState, SyncHost, SyncTiming } from './sync-host.ts';

export type { SaveState } from './sync-host.ts';

export interface CartHandleStatus {
  saveState: SaveState;
  /** Joined to the cart on the server right now. */
  online: boolean;
}

export interface CartHandleEvents {
  /** The cart changed (a local edit, a remote one, or a server correction). */
  change: CartView;
  status: CartHandleStatus;
  /** The other devices on this cart changed. */
  presence: PresenceState[];
  /** The server refused local changes for good; they were dropped and the cart reloaded from the server. */
  rejected: WireError;
  /** A problem the app may show: sync stopped (auth, grant), local storage failed, a session closed. */
  error: WireError;
  /** A sync with the server completed: local changes went up, missed changes came down. */
  synced: undefined;
  /**
   * The cart was merged into `mergedInto` (the customer signed in): it takes no more changes.
   * The connection opens `mergedInto` once it holds a token granting it (its `followed` event).
   */
  merged: { mergedInto: string };
}

/** How the connection drives a handle; not part of the public API. */
export interface HandleWiring {
  readonly sync: CartSync;
  /** Settles once `open` may resolve: synced, or found unreachable. Rejects when syncing stopped. */
  readonly ready: Promise<void>;
  /** The server cannot be reached now: let `open` resolve with the local state. */
  unreachable(): void;
  /** The server merged the cart into `mergedInto`. */
  merged(mergedInto: string): void;
}

/** What `LiveCartConnection.open` gives a new handle. */
export interface CartHandleInit {
  cartId: string;
  /** The connection's current socket. */
  socket: () => CartSocket;
  storage: CartStorage;
  device: string;
  /** From the token, until a join result says who the device acts as. */
  actor: Actor | null;
  /** State loaded from storage, or null. */
  initialState: Uint8Array | null;
  timing: SyncTiming;
  saveDebounceMs: number;
  wire(wiring: HandleWiring): void;
  onClose(): void;
}

const toCartError = (error: WireError): CartError => new CartError(error.code, error.detail);

export class CartHandle {
  /** The cart's id. */
  readonly cartId: string;
  private _doc!: Y.Doc;
  private awareness!: Awareness;
  private _view!: CartView;
  private _presence: PresenceState[] = [];
  private _limits: CartLimits = DEFAULT_LIMITS;
  private actor: Actor | null;
  private readonly sync: CartSync;
  private readonly events = new TypedEmitter<CartHandleEvents>();
  private readonly device: string;
  private readonly onClose: () => void;
  private readonly local: LocalSave;
  private lastStatus: CartHandleStatus = { saveState: 'saved', online: false };
  private savedWaiters: Waiter[] = [];
  private syncedWaiters: Waiter[] = [];
  private pricedWaiters: Waiter[] = [];
  private syncedNow = false;
  private closed = false;
  private stopped: WireError | null = null;
  private readonly ready = deferred();
  private readonly detachers: Array<() => void> = [];

  /** Use `LiveCartConnection.open` instead. */
  constructor(init: CartHandleInit) {
    this.cartId = init.cartId;
    this.device = init.device;
    this.actor = init.actor;
    this.onClose = init.onClose;
    this.local = new LocalSave(init.storage, init.cartId, init.saveDebounceMs, (err) => {
      if (!this.closed) this.events.emit('error', wireError('E_INTERNAL', `local storage: ${err instanceof Error ? err.message : String(err)}`));
    });
    const doc = new Y.Doc();
    // Stored updates carry earlier sessions' client ids; this doc's own id is new and random.
    if (init.initialState && init.initialState.byteLength > 0) Y.applyUpdate(doc, init.initialState, STORAGE_ORIGIN);
    this.attach(doc);
    this.sync = new CartSync(init.socket, this.syncHost(), init.timing);
    if (init.initialState && init.initialState.byteLength > 0) this.sync.markDirty();
    this.lastStatus = this.status();
    init.wire({
      sync: this.sync,
      ready: this.ready.promise,
      unreachable: () => this.ready.resolve(),
      merged: (mergedInto) => {
        if (!this.closed) this.events.emit('merged', { mergedInto });
      },
    });
  }

  /** The cart as plain data, recomputed on every change. */
  get view(): CartView {
    return this._view;
  }

  /** The cart's Yjs document. Replaced by a new one after a 'rejected' event; destroyed by `close`. */
  get doc(): Y.Doc {
    return this._doc;
  }

  /** The cart's log version this device has every change up to (0 before the first sync). */
  get version(): number {
    return this.sync.versions.version;
  }

  get saveState(): SaveState {
    return this.sync.saveState;
  }

  /** Joined to the cart on the server right now. */
  get online(): boolean {
    return this.sync.online;
  }

  /** The other devices on this cart (subject and role stamped by the server). */
  get presence(): PresenceState[] {
    return this._presence;
  }

  /** The server's limits (from the last join; the protocol defaults before). */
  get limits(): CartLimits {
    return this._limits;
  }

  /** Subscribe to an event; returns a function that unsubscribes. */
  on<K extends keyof CartHandleEvents>(event: K, fn: (payload: CartHandleEvents[K]) => void): () => void {
    return this.events.on(event, fn);
  }

  /** Add `quantity` of a product (merged with the line of the same SKU and options). Returns the lineId. */
  add(input: AddLineInput): string {
    const doc = this.writable();
    checkAdd(doc, input, this._limits);
    const actor = this.actor;
    if (!actor) throw new CartError('E_AUTH_INVALID', 'the token has no readable subject and role');
    const { sku, quantity, options, note } = input;
    return addLine(doc, { sku, quantity, options: options ? { ...options } : undefined, note }, actor, this._limits);
  }

  /** Set a line's quantity (0..limits.maxQuantity; 0 removes the line). Overrides adds it did not see. */
  setQuantity(lineId: string, quantity: number): void {
    const doc = this.writable();
    if (checkSetQuantity(doc, lineId, quantity, this._limits)) setQuantity(doc, lineId, quantity, this.actor ?? undefined);
  }

  /** Remove a line (no-op when it is not in the cart). */
  remove(lineId: string): void {
    this.setQuantity(lineId, 0);
  }

  /** Change a line's note (at most limits.maxNoteLength characters). */
  setNote(lineId: string, note: string): void {
    const doc = this.writable();
    checkSetNote(doc, lineId, note, this._limits);
    setNote(doc, lineId, note);
  }

  /** Apply a coupon code (case-insensitive, stored upper-case). */
  applyCoupon(code: string): void {
    const doc = this.writable();
    checkCoupon(doc, code, this._limits);
    applyCoupon(doc, code);
  }

  removeCoupon(code: string): void {
    const doc = this.writable();
    if (typeof code !== 'string') throw new CartError('E_UPDATE_INVALID_VALUE', 'coupon code must be a string');
    removeCoupon(doc, code);
  }

  /** Set a cart attribute (null deletes it). */
  setAttribute(key: string, value: string | null): void {
    const doc = this.writable();
    checkAttribute(doc, key, value, this._limits);
    setAttribute(doc, key, value);
  }

  /** Tell the other devices what this one is looking at (a lineId, a page), or null. */
  setViewing(viewing: string | null): void {
    this.writable();
    checkViewing(viewing);
    this.awareness.setLocalStateField('viewing', viewing);
  }

  /**
   * Resolves once every local change so far is acknowledged by the server (durable). Rejects with
   * CartError if they never will be: rejected by the server, syncing stopped, or the handle closed.
   */
  whenSaved(): Promise<void> {
    if (this.closed) return Promise.reject(this.endError());
    if (this.sync.saveState === 'saved') return Promise.resolve();
    if (this.stopped) return Promise.reject(this.endError());
    return new Promise((resolve, reject) => this.savedWaiters.push({ resolve, reject }));
  }

  /** Resolves once a sync with the server completed in the current session (now, if it has). */
  whenSynced(): Promise<void> {
    if (this.closed || this.stopped) return Promise.reject(this.endError());
    if (this.syncedNow) return Promise.resolve();
    return new Promise((resolve, reject) => this.syncedWaiters.push({ resolve, reject }));
  }

  /**
   * Resolves with the view once the server has priced the cart as it is now: every line's facts
   * were priced for its current quantity and the totals for the current lines, coupons and claims
   * (`view.priced`; now, if they are). A later change makes the view unpriced again until the
   * server's correction arrives. Rejects with CartError when syncing stopped or the handle closed.
   */
  whenPriced(): Promise<CartView> {
    if (this.closed || this.stopped) return Promise.reject(this.endError());
    if (this._view.priced) return Promise.resolve(this._view);
    return new Promise((resolve, reject) => this.pricedWaiters.push({ resolve: () => resolve(this._view), reject }));
  }

  /** Leave the cart, save the local state a last time, and release everything. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.sync.close();
    this.local.now(this._doc);
    const err = this.endError();
    this.ready.reject(err);
    settleAll(this.savedWaiters, err);
    settleAll(this.syncedWaiters, err);
    settleAll(this.pricedWaiters, err);
    this.detach();
    this.onClose();
    await this.local.idle();
    this.events.clear();
  }

  private endError(): CartError {
    if (this.stopped) return toCartError(this.stopped);
    return new CartError('E_CART_CLOSED', 'the cart handle was closed');
  }

  private writable(): Y.Doc {
    if (this.closed) throw new CartError('E_CART_CLOSED', 'the cart handle was closed');
    return this._doc;
  }

  private status(): CartHandleStatus {
    return { saveState: this.sync.saveState, online: this.sync.online };
  }

  private statusChanged(): void {
    if (this.closed) return;
    const status = this.status();
    if (status.saveState === 'saved') settleAll(this.savedWaiters);
    if (status.saveState === this.lastStatus.saveState && status.online === this.lastStatus.online) return;
    this.lastStatus = status;
    this.events.emit('status', status);
  }

  private attach(doc: Y.Doc): void {
    this._doc = doc;
    const onUpdate = (update: Uint8Array, origin: unknown): void => {
      if (isLocalOrigin(origin)) this.sync.localUpdate(update);
      this.local.schedule(() => this._doc);
      this.refreshView();
      this.statusChanged();
    };
    doc.on('update', onUpdate);
    const awareness = new Awareness(doc);
    awareness.setLocalState({ device: this.device, viewing: null });
    // 'local': this device's state changed or is renewed (every 15 s); the server needs it.
    const onAwarenessUpdate = (_changes: unknown, origin: unknown): void => {
      if (origin === 'local') this.sync.sendAwareness();
    };
    const onAwarenessChange = (): void => {
      this._presence = otherDevices(awareness);
      this.events.emit('presence', this._presence);
    };
    awareness.on('update', onAwarenessUpdate);
    awareness.on('change', onAwarenessChange);
    this.awareness = awareness;
    this.detachers.push(() => {
      doc.off('update', onUpdate);
      awareness.off('update', onAwarenessUpdate);
      awareness.off('change', onAwarenessChange);
      awareness.destroy();
      doc.destroy();
    });
    this._view = readCart(doc, this._limits);
    this._presence = [];
  }

  private detach(): void {
    for (const detach of this.detachers.splice(0)) detach();
  }

  private refreshView(): void {
    this._view = readCart(this._doc, this._limits);
    if (this._view.priced) settleAll(this.pricedWaiters);
    this.events.emit('change', this._view);
  }

  /** The server will never accept the local document: drop it and reload the cart from the server. */
  private onRejected(error: WireError): void {
    this.events.emit('rejected', error);
    settleAll(this.savedWaiters, toCartError(error));
    this.detach();
    this.attach(new Y.Doc());
    this.local.clear();
    this.events.emit('change', this._view);
    this.events.emit('presence', this._presence);
    this.sync.restart();
  }

  private syncHost(): SyncHost {
    return {
      cartId: this.cartId,
      device: this.device,
      doc: () => this._doc,
      awareness: () => this.awareness,
      joined: (res: JoinOk) => {
        this.actor = { id: res.subject, role: res.role, ...(typeof res.name === 'string' ? { name: res.name } : {}) };
        this._limits = res.limits;
        this.refreshView();
        // A new clock: the server keeps the clock of a state it removed and ignores an equal one.
        this.awareness.setLocalState({ ...this.awareness.getLocalState(), device: this.device });
      },
      synced: () => {
        this.syncedNow = true;
        settleAll(this.syncedWaiters);
        this.ready.resolve();
        this.events.emit('synced', undefined);
      },
      statusChanged: () => this.statusChanged(),
      unreachable: () => this.ready.resolve(),
      dropped: () => {
        this.syncedNow = false;
        if (!this.closed) forgetOthers(this.awareness);
      },
      rejected: (error: WireError) => this.onRejected(error),
      stopped: (error: WireError) => {
        this.stopped = error;
        this.ready.reject(toCartError(error));
        settleAll(this.savedWaiters, toCartError(error));
        settleAll(this.syncedWaiters, toCartError(error));
        settleAll(this.pricedWaiters, toCartError(error));
        this.events.emit('error', error);
        this.statusChanged();
      },
      report: (error: WireError) => this.events.emit('error', error),
    };
  }
}
