/**
 * A cart hosted by this node: its Y.Doc kept equal to the cart log, its presence, and the one write
 * path every change takes (validate → append to the log → apply → notify). The doc only ever
 * receives changes that are already in the log, so what devices are shown is always durable.
 */
import * as Y from 'yjs';
import { Awareness } from 'y-protocols/awareness';
import {
  type Actor,
  type CartLimits,
  type ChangeMeta,
  type ChangeOrigin,
  CartError,
  LOG_ORIGIN,
  type CartFacts,
  captureChange,
  writeCartFacts,
  type CartStatus,
  acceptsChanges,
  isCartStatus,
  liveLineIds,
  validateUpdate,
} from '../../protocol/index.ts';
import type { CartStore, HeldClaim, IdempotencyRecord, LoadResult, LogPosition } from '../../core/redis/cart-store.ts';
import { applyLog, entriesOf, headOf, holdsMoreThan } from '../../core/cart/apply-log.ts';
import { newCartFacts, restoredEntry } from '../../core/cart/restore.ts';
import { appendedAsThisProcess, writeAsThisProcess } from '../../core/cart/writer-id.ts';
import type { Logger } from '../../core/log.ts';

export interface HostedCartOptions {
  store: CartStore;
  limits: CartLimits;
  emptyCartTtlMs: number;
  cartTtlMs: number;
  compactAfterChanges: number;
  /** Also fold it once this many bytes of changes piled up since the last snapshot. */
  compactAfterBytes: number;
  /**
   * Charge a device's or REST change of `bytes` to the write budgets of the cart and of `subject`
   * (null: no subject) before it is appended; rejects (CartError, retryable) when spent.
   */
  chargeWrite: (cartId: string, subject: string | null, bytes: number) => Promise<void>;
  /** Called when the log has grown enough since the last snapshot to be worth folding. */
  requestCompaction: (cartId: string) => void;
  /** Called after every accepted intent change (device, stock Yjs client, REST). */
  requestRevalidation: (cartId: string) => void;
  /** Called after every change this node appended: other nodes hosting the cart may catch up. */
  announce: (cartId: string, version: number) => void;
  log: Logger;
}

export type ChangeListener = (update: Uint8Array, meta: ChangeMeta, origin: ChangeOrigin) => void;
/** The cart stopped taking changes (its status fact left `open`); `mergedInto` names the cart it went into. */
export type ClosedListener = (status: CartStatus, mergedInto: string | null) => void;

/** How many times a write retries after losing the compare-and-set to another writer of the log. */
const MAX_APPEND_ATTEMPTS = 8;

/** Origin tags of entries a node appended, and so relayed through the adapter itself. */
const NODE_ORIGIN_TAGS = new Set(['client', 'yws', 'rest', 'claims', 'restore', 'merge']);
const RELAYED: ChangeOrigin = Object.freeze({ kind: 'log', relayed: true });
const UNRELAYED: ChangeOrigin = Object.freeze({ kind: 'log', relayed: false });

/** Why the log refused a change to a cart that takes none (appendUpdate-4.lua). */
function closedError(status: string): CartError {
  return status === 'locked' ? new CartError('E_CART_MERGING') : new CartError('E_CART_CLOSED', `status is ${status}`);
}

function originTag(origin: ChangeOrigin): string {
  return origin.kind;
}

/**
 * Called around one change's append, inside the cart's one-writer-at-a-time section: `before` on
 * the cart as the change finds it, `after` once it is applied, so nothing else lands in between
 * (the activity feed diffs the two: server/activity.ts).
 */
export interface ChangeWatch {
  before(): void;
  after(): void;
}

export class HostedCart {
  readonly doc = new Y.Doc({ gc: true });
  readonly awareness: Awareness;
  /** Version of the log this doc is equal to. */
  version = 0;
  /**
   * Id of the log's entry at `version` ('' when unknown): a log that lost its tail and was written
   * to again by others can be back at the same version with other entries.
   */
  private entryId = '';
  /** Claims of a token that joined while the log was empty: written by the restore, or dropped. */
  private pendingClaims: Partial<CartFacts> = {};
  /** The last version a revalidation saw, as of the last load from the log. */
  revalidated = 0;
  private readonly listeners = new Set<ChangeListener>();
  private readonly closedListeners = new Set<ClosedListener>();
  private tail: Promise<unknown> = Promise.resolve();
  /**
   * Connections that see only the changes this node applies (stock /yjs clients, which the adapter
   * does not reach): changes other nodes append are caught up for them at once. Kept by the /yjs
   * fan-out (server/transport/yws-fanout.ts).
   */
  followers = 0;
  /** Devices and connections using this cart on this node (for idle unload). */
  users = 0;
  unloadTimer: NodeJS.Timeout | null = null;
  destroyed = false;

  constructor(
    readonly cartId: string,
    private readonly opts: HostedCartOptions,
  ) {
    this.awareness = new Awareness(this.doc);
    this.awareness.setLocalState(null);
    // Whoever wrote it (this node, another node, a sign-in elsewhere), a status that leaves `open`
    // reaches this doc through the log, and this node's sessions of the cart end here.
    this.doc.getMap('cart').observe((event) => {
      if (!event.keysChanged.has('status') || acceptsChanges(this.status)) return;
      for (const listener of this.closedListeners) {
        try {
          listener(this.status, this.mergedInto);
        } catch (err) {
          this.opts.log.error('closed listener failed', { cartId: this.cartId, err });
        }
      }
    });
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called when the cart's status leaves `open` (sessions end with it). */
  onClosed(listener: ClosedListener): () => void {
    this.closedListeners.add(listener);
    return () => this.closedListeners.delete(listener);
  }

  /** The cart's status fact (`open` for a cart that has none yet). */
  get status(): CartStatus {
    const status = this.doc.getMap('cart').get('status');
    return isCartStatus(status) ? status : 'open';
  }

  /** The cart this one was merged into, once its status is `merged`. */
  get mergedInto(): string | null {
    const into = this.doc.getMap('cart').get('mergedInto');
    return typeof into === 'string' ? into : null;
  }

  /** Run `task` after every earlier write of this cart on this node: one writer at a time per cart. */
  private serialize<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task, task);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Resolves when every write queued on this cart so far has finished (shutdown drains them). */
  settled(): Promise<void> {
    return this.tail.then(() => undefined);
  }

  /** Bring the doc to the log's current version. One Redis round trip. */
  catchUp(): Promise<void> {
    return this.serialize(() => this.catchUpNow());
  }

  /**
   * Apply what the log has beyond this doc's version, and pass each change on to the listeners
   * (devices on this node) with its log position: changes written elsewhere (a worker, another
   * node) reach devices this way.
   */
  private async catchUpNow(): Promise<void> {
    const from = this.version;
    const loaded = await this.opts.store.load(this.cartId, from);
    if (this.diverged(loaded, from)) {
      await this.reseed();
      return;
    }
    const entries = entriesOf(loaded);
    applyLog(this.doc, entries, LOG_ORIGIN, this.skipped);
    this.version = loaded.version;
    this.entryId = headOf(loaded).entryId;
    this.revalidated = loaded.revalidated;
    let prev = from;
    entries.forEach(({ update, version }, i) => {
      // With a snapshot first, entry i + 1 is updates[i].
      const tag = loaded.snapshot ? (i === 0 ? null : loaded.origins[i - 1]) : loaded.origins[i];
      this.notify(update, { version, prev }, tag != null && NODE_ORIGIN_TAGS.has(tag) ? RELAYED : UNRELAYED);
      prev = version;
    });
  }

  private readonly skipped = (version: number, err: unknown): void => {
    this.opts.log.error('skipped a log entry that cannot be applied', { cartId: this.cartId, version, err });
  };

  /**
   * Whether the log no longer holds the history this doc is equal to: it is behind this doc, or
   * its entry at this doc's version is another one (it lost its tail, then others wrote to it).
   */
  private diverged(loaded: LoadResult, from: number): boolean {
    if (from === 0) return false;
    if (loaded.version < from) return true;
    if (loaded.idAtFrom !== '') return this.entryId !== '' && loaded.idAtFrom !== this.entryId;
    // The entry at our version was folded into a snapshot, which came with the whole log state:
    // judge by content (does this doc hold inserts the log lacks?).
    return this.entryId !== '' && loaded.snapshot !== null && holdsMoreThan(this.doc, loaded, this.skipped);
  }

  /**
   * The log lost changes this doc holds: Redis lost data (a flush, a failover without persistence,
   * the tail of an append-only file). Merge in what the log holds now, then write everything this
   * node knows back as one entry, so no acknowledged change stays lost.
   */
  private async reseed(): Promise<void> {
    this.opts.log.warn('cart log lost changes of the hosted copy; re-seeding it', { cartId: this.cartId, hosted: this.version });
    let loaded = await this.opts.store.load(this.cartId, 0);
    for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
      applyLog(this.doc, entriesOf(loaded), LOG_ORIGIN, this.skipped);
      const update = Y.encodeStateAsUpdate(this.doc);
      const res = await this.opts.store.append(this.cartId, headOf(loaded), update, 'reseed', this.ttlMs(false));
      if (!res.appended && res.closed !== undefined) throw closedError(res.closed);
      if (res.appended) {
        const meta: ChangeMeta = { version: res.version, prev: this.version };
        this.version = res.version;
        this.entryId = res.entryId;
        // This node's devices get what the log's other writers wrote; other nodes catch up.
        this.notify(update, meta, UNRELAYED);
        this.opts.requestRevalidation(this.cartId);
        this.opts.announce(this.cartId, res.version);
        return;
      }
      // Another node re-seeded (or wrote) first: take what the log has now, then write ours on top.
      loaded = await this.opts.store.load(this.cartId, 0);
    }
    throw new CartError('E_STORAGE_UNAVAILABLE', 'could not re-seed the cart log');
  }

  private ttlMs(touchesLines: boolean): number {
    const hasLines = touchesLines || liveLineIds(this.doc, this.opts.limits.maxQuantity).size > 0;
    return hasLines ? this.opts.cartTtlMs : this.opts.emptyCartTtlMs;
  }

  /**
   * Validate a device's update against the cart, append it to the log, apply it and notify.
   * Resolves once the change is durable with its log position (`prev === version`: nothing new,
   * nothing appended); rejects with CartError.
   */
  applyClientUpdate(update: Uint8Array, actor: Actor, maxBytes: number, origin: ChangeOrigin, isSyncStep2 = false, watch?: ChangeWatch): Promise<ChangeMeta> {
    return this.serialize(async () => {
      // Charged before validation: an update over the budget is refused without being decoded.
      await this.opts.chargeWrite(this.cartId, actor.id, update.byteLength);
      for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
        // An empty log and a device's whole copy coming up: a restore (protocol/SPEC.md §5).
        const restoring = isSyncStep2 && this.version === 0;
        const summary = validateUpdate(this.doc, update, { limits: this.opts.limits, actor, maxBytes, restoring });
        if (summary.insertedItems === 0 && summary.newDeletes === 0) return { version: this.version, prev: this.version };
        const prev = this.version;
        watch?.before();
        if (restoring ? await this.restore(update, actor, summary.touchesLines) : await this.appendAndApply(update, origin, summary.touchesLines)) {
          watch?.after();
          return { version: this.version, prev };
        }
        await this.catchUpNow();
      }
      throw new CartError('E_STORAGE_UNAVAILABLE', 'too much contention on the cart log');
    });
  }

  /**
   * Store a restore: the device's intent, its facts deleted, and the server's facts of a new cart
   * (plus the claims of a token that joined meanwhile). See core/cart/restore.ts.
   */
  private async restore(update: Uint8Array, actor: Actor, touchesLines: boolean): Promise<boolean> {
    const { entry, scratch } = restoredEntry(this.cartId, this.doc, update, { ...newCartFacts(), ...this.pendingClaims });
    try {
      const appended = await this.appendAndApply(entry, { kind: 'restore', subject: actor.id }, touchesLines);
      if (appended) {
        appendedAsThisProcess(scratch);
        this.pendingClaims = {};
      }
      return appended;
    } finally {
      scratch.destroy();
    }
  }

  /**
   * Make a server-side change (REST, worker): `change` runs on a scratch copy under this process's
   * writer id, and the resulting update takes the same append path. `record`, when given, turns
   * the change's result (on the changed scratch, at the version it would get) into an
   * Idempotency-Key record stored by the same script as the change: the two cannot be separated.
   * Returns the change's result, the version, and whether the record was stored. `claim`: a
   * claim this caller holds on the cart (a merge: core/redis/cart-status-store.ts), which lets it
   * write while others may not, and the status the cart takes with this entry.
   */
  applyServerChange<T>(
    change: (doc: Y.Doc) => T,
    origin: ChangeOrigin,
    record?: (doc: Y.Doc, result: T, version: number) => IdempotencyRecord,
    claim?: HeldClaim,
    watch?: ChangeWatch,
  ): Promise<{ result: T; version: number; recorded: boolean }> {
    return this.serialize(async () => {
      await this.catchUpNow();
      for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
        const scratch = new Y.Doc({ gc: true, guid: this.cartId });
        try {
          Y.applyUpdate(scratch, Y.encodeStateAsUpdate(this.doc));
          writeAsThisProcess(scratch);
          const { result, update } = captureChange(scratch, change);
          if (update === null) return { result, version: this.version, recorded: false };
          // REST callers' own rate is limited per subject at the door; their bytes count against the cart.
          if (attempt === 0 && origin.kind === 'rest') await this.opts.chargeWrite(this.cartId, null, update.byteLength);
          const hasLines = liveLineIds(scratch, this.opts.limits.maxQuantity).size > 0;
          const stored = record?.(scratch, result, this.version + 1);
          watch?.before();
          if (await this.appendAndApply(update, origin, hasLines, stored, claim)) {
            appendedAsThisProcess(scratch);
            watch?.after();
            return { result, version: this.version, recorded: stored !== undefined };
          }
        } finally {
          scratch.destroy();
        }
        await this.catchUpNow();
      }
      throw new CartError('E_STORAGE_UNAVAILABLE', 'too much contention on the cart log');
    });
  }

  private position(): LogPosition {
    return { version: this.version, entryId: this.entryId };
  }

  private async appendAndApply(update: Uint8Array, origin: ChangeOrigin, touchesLines: boolean, record?: IdempotencyRecord, claim?: HeldClaim): Promise<boolean> {
    let res;
    try {
      res = await this.opts.store.append(this.cartId, this.position(), update, originTag(origin), this.ttlMs(touchesLines), record, claim);
    } catch (err) {
      this.opts.log.warn('append failed', { cartId: this.cartId, err });
      throw new CartError('E_STORAGE_UNAVAILABLE');
    }
    if (!res.appended && res.closed !== undefined) throw closedError(res.closed);
    // Not appended: the caller catches up (which re-seeds when the log diverged) and retries.
    if (!res.appended) return false;
    const meta: ChangeMeta = { version: res.version, prev: this.version };
    Y.applyUpdate(this.doc, update, origin);
    this.version = res.version;
    this.entryId = res.entryId;
    this.notify(update, meta, origin);
    if (origin.kind !== 'worker' && origin.kind !== 'log') this.opts.requestRevalidation(this.cartId);
    this.opts.announce(this.cartId, res.version);
    if (res.version - res.snapVersion >= this.opts.compactAfterChanges || res.logBytes >= this.opts.compactAfterBytes) this.opts.requestCompaction(this.cartId);
    return true;
  }

  private notify(update: Uint8Array, meta: ChangeMeta, origin: ChangeOrigin): void {
    for (const listener of this.listeners) {
      try {
        listener(update, meta, origin);
      } catch (err) {
        this.opts.log.error('change listener failed', { cartId: this.cartId, err });
      }
    }
  }

  /**
   * Stamp the segment and region claims of `principal` on the cart's facts when they differ, so the
   * worker prices the cart for that customer. Tokens without them change nothing.
   */
  async stampClaims(principal: { subject: string; segment: string | null; region: string | null }): Promise<void> {
    const cart = this.doc.getMap('cart');
    const wanted: Partial<CartFacts> = {};
    if (principal.segment !== null && cart.get('segment') !== principal.segment) wanted.segment = principal.segment;
    if (principal.region !== null && cart.get('region') !== principal.region) wanted.region = principal.region;
    if (Object.keys(wanted).length === 0) return;
    // An empty log: writing now would create the cart before a device restores it. The restore
    // (or the next join once the cart exists) writes them.
    if (this.version === 0) {
      this.pendingClaims = wanted;
      return;
    }
    await this.applyServerChange((doc) => writeCartFacts(doc, wanted), { kind: 'claims', subject: principal.subject });
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.unloadTimer) clearTimeout(this.unloadTimer);
    this.listeners.clear();
    this.awareness.destroy();
    this.doc.destroy();
  }
}
