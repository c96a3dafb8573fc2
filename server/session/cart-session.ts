/**
 * One connection's use of one cart, whatever the transport: acquire the hosted cart → welcome
 * (sync step 1 + presence) → messages admitted on receipt (rate limit, token expiry, queue bound)
 * and handled in order → token expiry ends it → cleanup releases the cart. The Socket.IO and /yjs
 * transports are codecs over it: they decode frames, call it, and encode what it sends back.
 */
import * as Y from 'yjs';
import { CLOSE, CartError, type CartStatus, type ChangeMeta, acceptsChanges, type ChangeOrigin, type SyncFrame, type WireError, writeSyncStep1 } from '../../protocol/index.ts';
import type { Principal } from '../auth.ts';
import type { Revocations } from '../revocations.ts';
import { type ActivityFeed, actorOf } from '../activity.ts';
import type { HostedCart } from '../cart/hosted-cart.ts';
import type { CartRegistry } from '../cart/registry.ts';
import type { Config } from '../../core/config.ts';
import type { Logger } from '../../core/log.ts';
import type { ServerMetrics } from '../../core/metrics.ts';
import { type PresenceSession, applyPresence, presenceSnapshot, removePresence } from '../presence.ts';
import type { TokenBucket } from '../rate-limit.ts';
import type { SessionHooks, SessionInfo } from './hooks.ts';
import type { Step1Answers } from './step1-answers.ts';
import { WorkQueue } from './work-queue.ts';

export type Close = (typeof CLOSE)[keyof typeof CLOSE];
export type SessionEnd = { by: 'peer' } | { by: 'server'; close: Close; error: WireError | null };

/** What a transport gives a session: how to reach its peer. */
export interface SessionPeer {
  readonly transport: 'socketio' | 'yws';
  /** Unique per connection; the origin of its presence changes. */
  readonly connectionId: string;
  /** The origin of the changes this peer sends (relays skip the peer that sent a change). */
  readonly origin: ChangeOrigin;
  /** The connection's message budget (shared by its sessions). */
  readonly bucket: TokenBucket;
  /**
   * The connection's budget of bytes of sync step 1 answers (shared by its sessions): a step 1 from
   * an empty state costs the whole cart to send, so repeating it is how one client would make a
   * node send gigabytes. An honest device asks for a full state once per connection.
   */
  readonly answerBytes: TokenBucket;
  isOpen(): boolean;
  /** Bytes sent to the peer it has not read yet. */
  buffered(): number;
  sendSync(frame: Uint8Array, meta: ChangeMeta | null): void;
  sendAwareness(frame: Uint8Array): void;
  /**
   * The server ended the session: tell the peer why (a `cart-closed`, a WebSocket close);
   * `mergedInto` names the cart to follow when the close is `merged`.
   */
  ended(close: Close, error: WireError | null, mergedInto?: string): void;
}

/** What every session of a node shares. */
export interface SessionContext {
  registry: CartRegistry;
  config: Config;
  log: Logger;
  metrics: ServerMetrics;
  hooks: SessionHooks;
  step1: Step1Answers;
  /** Charge a large sync answer to the subject's budget (every node's); throws E_RATE_LIMITED when spent. */
  chargeAnswer(subject: string, bytes: number): Promise<void>;
  draining(): boolean;
  /** Sign-out everywhere (server/revocations.ts); absent: nothing is ever revoked. */
  revocations?: Pick<Revocations, 'check' | 'revoked'>;
  /** The activity feed (server/activity.ts); absent: changes are not recorded. */
  activity?: Pick<ActivityFeed, 'watch'>;
}

/**
 * Sync step 1 answers this large (a device without the cart: its whole state) are charged to the
 * subject's cluster-wide answer budget; a returning device's catch-up is smaller and costs no
 * Redis round trip.
 */
export const SUBJECT_CHARGED_ANSWER_BYTES = 16 * 1024;

/**
 * The checks every message of a connection passes on receipt, in a session or not yet (a join):
 * the node is not draining, the connection is within its budget, its token has not expired.
 */
export function admitMessage(ctx: Pick<SessionContext, 'draining' | 'revocations'>, bucket: TokenBucket, principal: Principal): CartError | null {
  if (ctx.draining()) return new CartError('E_SHUTTING_DOWN');
  if (!bucket.take()) return new CartError('E_RATE_LIMITED');
  if (principal.expiresAt <= Date.now()) return new CartError('E_AUTH_EXPIRED');
  // A revocation this node heard of (no I/O here: every message passes this check).
  if (ctx.revocations?.revoked(principal) === true) return new CartError('E_AUTH_REVOKED');
  return null;
}

/** setTimeout's longest delay; a token living longer is re-checked when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class CartSession implements SessionInfo {
  /** Set once loaded. */
  cart: HostedCart | null = null;
  private readonly queue: WorkQueue;
  private readonly presence: PresenceSession;
  private expiry: NodeJS.Timeout | null = null;
  private state: 'new' | 'loading' | 'open' | 'ended' = 'new';
  private readonly onEnd = new Set<() => void>();
  private unwatch: (() => void) | null = null;

  constructor(
    private readonly ctx: SessionContext,
    readonly peer: SessionPeer,
    readonly cartId: string,
    private current: Principal,
    device: string,
  ) {
    const { config, metrics, log } = ctx;
    this.presence = { connectionId: peer.connectionId, principal: current, device, clientIds: new Set() };
    this.queue = new WorkQueue(
      {
        maxCount: config.sessionQueueMax,
        maxBytes: config.sessionQueueBytes,
        counted: (outcome) => metrics.sessionWork({ outcome, transport: peer.transport }),
        failed: (err) => log.error('session task failed', { cartId, err }),
        alive: () => this.state === 'open' && this.peer.isOpen(),
      },
      true,
    );
  }

  get transport(): SessionInfo['transport'] {
    return this.peer.transport;
  }

  get principal(): Principal {
    return this.current;
  }

  get open(): boolean {
    return this.state === 'open';
  }

  /** Run `fn` once when the session ends (transports drop their bookkeeping). */
  whenEnded(fn: () => void): void {
    if (this.state === 'ended') fn();
    else this.onEnd.add(fn);
  }

  /**
   * Authenticate, acquire the cart and welcome the peer. Throws CartError (grant refused, storage
   * unavailable); resolves null when the peer went away meanwhile (nothing is held then).
   * `attach` runs before the welcome, so the peer misses no relay sent after it.
   */
  async start(attach: (cart: HostedCart) => void = () => undefined): Promise<HostedCart | null> {
    this.ctx.hooks.authenticate(this);
    this.state = 'loading';
    let cart: HostedCart;
    try {
      // A join is an entry point: the token's revocation is read from Redis, not only from memory.
      await this.ctx.revocations?.check(this.current);
      cart = await this.ctx.registry.acquire(this.cartId);
    } catch (err) {
      this.state = 'ended';
      this.queue.end();
      throw err instanceof CartError ? err : new CartError('E_STORAGE_UNAVAILABLE');
    }
    // The peer may have left while the cart loaded (close() ended the session meanwhile).
    if ((this.state as CartSession['state']) === 'ended' || !this.peer.isOpen()) {
      this.ctx.registry.release(cart);
      this.finish({ by: 'peer' });
      return null;
    }
    this.cart = cart;
    this.state = 'open';
    this.scheduleExpiry();
    this.unwatch = cart.onClosed((status, mergedInto) => this.cartClosed(status, mergedInto));
    attach(cart);
    // A device coming back to a cart merged (or closed) while it was away is told at once.
    if (!acceptsChanges(cart.status)) {
      this.cartClosed(cart.status, cart.mergedInto);
      return cart;
    }
    this.welcome();
    this.ctx.hooks.loaded(this, cart);
    this.queue.resume();
    return cart;
  }

  /** Sync step 1 and the cart's presence (also the answer to a repeated join: a fresh sync). */
  welcome(): void {
    const cart = this.cart;
    if (!cart) return;
    this.peer.sendSync(writeSyncStep1(Y.encodeStateVector(cart.doc)), null);
    const presence = presenceSnapshot(cart);
    if (presence) this.peer.sendAwareness(presence);
  }

  /** Checks of a message on receipt, before anything is queued: the error to answer with, or null. */
  admit(): CartError | null {
    return admitMessage(this.ctx, this.peer.bucket, this.current);
  }

  /**
   * Queue `task` behind the session's earlier messages (it runs with the loaded cart, unless the
   * session ended first). Returns E_RATE_LIMITED when the queue is full.
   */
  submit(bytes: number, task: (cart: HostedCart) => Promise<void>): CartError | null {
    const queued = this.queue.push(bytes, async () => {
      if (this.cart) await task(this.cart);
    });
    return queued ? null : new CartError('E_RATE_LIMITED', 'too many messages waiting');
  }

  /** Handle a sync frame (inside a task). Resolves with the log position; throws CartError. */
  async sync(cart: HostedCart, frame: SyncFrame): Promise<ChangeMeta> {
    const { config, step1, hooks } = this.ctx;
    if (frame.kind === 'step1') {
      // A spent budget is refused before the catch-up's Redis round trip.
      const overBudget = (): CartError => new CartError('E_RATE_LIMITED', "sync answers over the connection's byte budget; retry later");
      if (!this.peer.answerBytes.ready()) throw overBudget();
      await cart.catchUp();
      const answer = step1.answer(cart, frame.stateVector);
      if (!this.peer.answerBytes.spend(answer.byteLength)) throw overBudget();
      if (answer.byteLength >= SUBJECT_CHARGED_ANSWER_BYTES) await this.ctx.chargeAnswer(this.current.subject, answer.byteLength);
      if (this.peer.isOpen()) this.peer.sendSync(answer, null);
      return { version: cart.version, prev: cart.version };
    }
    const maxBytes = frame.kind === 'step2' ? config.limits.maxSyncBytes : config.limits.maxUpdateBytes;
    const { subject, role, name } = this.current;
    const actor = name === null ? { id: subject, role } : { id: subject, role, name };
    const watch = this.ctx.activity?.watch(cart, actorOf(this.current, this.presence.device));
    const meta = await cart.applyClientUpdate(frame.update, actor, maxBytes, this.peer.origin, frame.kind === 'step2', watch);
    hooks.changed(this, meta);
    return meta;
  }

  /** Apply a presence frame of the peer. Throws E_AWARENESS_INVALID. */
  awareness(frame: Uint8Array): void {
    if (!this.cart) throw new CartError('E_CART_NOT_JOINED');
    applyPresence(this.cart, this.presence, frame, this.ctx.config.limits.maxAwarenessBytes);
  }

  /** Every presence state of the cart, for the peer (y-websocket's query-awareness). */
  presenceSnapshot(): Uint8Array | null {
    return this.cart ? presenceSnapshot(this.cart) : null;
  }

  /**
   * Send a frame relayed to this peer alone (the node's other connections get their own copy of
   * the same bytes). A peer that has not read what it was sent before is closed instead.
   */
  deliver(send: () => void): void {
    if (this.state !== 'open' || !this.peer.isOpen()) return;
    if (this.peer.buffered() > this.ctx.config.maxBufferedBytes) return this.end(CLOSE.SLOW_CONSUMER, null);
    send();
  }

  /**
   * The peer brought a new token on a live connection: same subject, still granted this cart.
   * Throws CartError (the session keeps its old token then).
   */
  refresh(principal: Principal): void {
    this.checkRefresh(principal);
    this.current = principal;
    this.presence.principal = principal;
    this.scheduleExpiry();
  }

  /**
   * A connection brought a new token for all its sessions: each must accept it (same subject,
   * still granted) before any takes it. Throws CartError, and then every session keeps its old one.
   */
  static refreshAll(sessions: Iterable<CartSession>, principal: Principal): void {
    const all = [...sessions];
    for (const session of all) session.checkRefresh(principal);
    for (const session of all) session.refresh(principal);
  }

  private checkRefresh(principal: Principal): void {
    if (principal.subject !== this.current.subject) throw new CartError('E_AUTH_FORBIDDEN', 'a refreshed token must have the same subject');
    this.ctx.hooks.authenticate({ cartId: this.cartId, principal, transport: this.transport });
  }

  /** The server ends the session: the peer is told why, the cart released. */
  end(close: Close, error: WireError | null, mergedInto?: string): void {
    if (this.state === 'ended') return;
    this.peer.ended(close, error, mergedInto);
    this.finish({ by: 'server', close, error });
  }

  /** The cart's status left `open`: it takes no more changes, so the session ends (SPEC §10). */
  private cartClosed(status: CartStatus, mergedInto: string | null): void {
    const error = new CartError('E_CART_CLOSED', `status is ${status}`).toWire();
    if (status === 'merged' && mergedInto !== null) this.end(CLOSE.MERGED, error, mergedInto);
    else this.end(CLOSE.CLOSED, error);
  }

  /** The peer left (or its connection closed): release everything, drop its waiting work. */
  close(): void {
    this.finish({ by: 'peer' });
  }

  /** Resolves once no message of this session is being handled or waiting. */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  private finish(end: SessionEnd): void {
    if (this.state === 'ended') return;
    const wasOpen = this.state === 'open';
    // A session still loading is finished by start() once its acquire settles.
    this.state = 'ended';
    this.queue.end();
    if (this.expiry) clearTimeout(this.expiry);
    this.expiry = null;
    this.unwatch?.();
    this.unwatch = null;
    if (wasOpen && this.cart) {
      removePresence(this.cart, this.presence);
      this.ctx.registry.release(this.cart);
    }
    for (const fn of this.onEnd) fn();
    this.onEnd.clear();
    this.ctx.hooks.disconnected(this, end);
  }

  /** End the session when its token expires (not only when its next message shows it). */
  private scheduleExpiry(): void {
    if (this.expiry) clearTimeout(this.expiry);
    const wait = this.current.expiresAt - Date.now();
    this.expiry = setTimeout(() => {
      this.expiry = null;
      if (this.current.expiresAt > Date.now()) return this.scheduleExpiry();
      this.end(CLOSE.UNAUTHORIZED, new CartError('E_AUTH_EXPIRED').toWire());
    }, Math.max(0, Math.min(wait, MAX_TIMER_MS)));
    this.expiry.unref();
  }
}
