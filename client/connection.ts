/**
 * A device's connection to livecart: one Socket.IO connection (websocket transport, reconnecting),
 * any number of open carts on it. Server events name their cart and are routed to its handle;
 * (re)connecting rejoins every open cart, which pushes offline edits up and pulls missed changes.
 * Given several server URLs, it uses one at a time and moves to the next one whenever it cannot
 * connect or loses the connection.
 */
import { io } from 'socket.io-client';
import { type ActivityEntry, type Actor, CartError, type WireError, isCartId, isErrorCode } from '../protocol/index.ts';
import { CartHandle, type HandleWiring } from './cart-handle.ts';
import type { CartSocket, SyncTiming } from './sync-host.ts';
import { TypedEmitter } from './emitter.ts';
import { type LiveCartConnectionOptions, type ResolvedOptions, resolveOptions } from './options.ts';
import { Backoff } from './policy.ts';
import { actorFromToken, cartsFromToken } from './token.ts';
import { TokenKeeper } from './token-keeper.ts';

export type { LiveCartConnectionOptions } from './options.ts';

export interface LiveCartConnectionEvents {
  /** Connected (first time or after a reconnect); open carts rejoin. */
  connect: undefined;
  /** Connection lost; open carts keep working offline and reconnect by themselves. */
  disconnect: undefined;
  /** The server refused the connection (token missing, invalid, expired): nothing more is tried. */
  error: WireError;
  /** A token refresh failed (getToken threw, or the server refused the new token); it is retried. */
  'token-error': unknown;
  /**
   * The server merged `cartId` into `mergedInto` (the customer signed in). Once the connection holds
   * a token granting `mergedInto` (now, or after `setToken`), it opens it: `followed`.
   */
  merged: { cartId: string; mergedInto: string };
  /** The connection opened the cart `from` was merged into. */
  followed: { from: string; handle: CartHandle };
  /** Opening the cart `from` was merged into failed. */
  'follow-error': { from: string; mergedInto: string; error: unknown };
  /**
   * Someone did something to an open cart (added a line, changed a quantity, redeemed or revoked
   * a share code), on any device and any node: the cart's activity feed, live.
   */
  activity: { cartId: string; entry: ActivityEntry };
}

interface Open {
  handle: CartHandle;
  wiring: HandleWiring;
}

function readWireError(err: unknown): WireError | null {
  const data = (err as { data?: unknown } | null)?.data;
  if (typeof data !== 'object' || data === null) return null;
  const { code, message, retryable } = data as Record<string, unknown>;
  if (!isErrorCode(code) || typeof message !== 'string' || typeof retryable !== 'boolean') return null;
  return data as WireError;
}

export class LiveCartConnection {
  private readonly opts: ResolvedOptions;
  private socket: CartSocket;
  /** Index in opts.urls of the URL the current socket connects to. */
  private urlIndex = 0;
  private actor: Actor | null;
  /** Carts merged away, by id, with the cart each went into: opened once a token grants it. */
  private readonly follows = new Map<string, string>();
  private readonly timing: SyncTiming;
  private readonly carts = new Map<string, Open>();
  private readonly opening = new Map<string, Promise<CartHandle>>();
  private readonly events = new TypedEmitter<LiveCartConnectionEvents>();
  private readonly reconnectBackoff: Backoff;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  /** The last connection attempt failed: `open` resolves with local state without waiting. */
  private unreachable = false;
  private denied: WireError | null = null;
  private closed = false;
  private readonly tokens: TokenKeeper;

  /** Connects right away; throws CartError E_VALIDATION on a bad or unknown option. */
  constructor(options: LiveCartConnectionOptions) {
    this.opts = resolveOptions(options);
    this.actor = actorFromToken(this.opts.token);
    const { ackTimeoutMs, retryMinMs, retryMaxMs, gapWaitMs, syncCheckMs } = this.opts;
    this.timing = { ackTimeoutMs, retryMinMs, retryMaxMs, gapWaitMs, syncCheckMs };
    this.reconnectBackoff = new Backoff(retryMinMs, retryMaxMs);
    this.tokens = new TokenKeeper(this.opts.token, this.opts.getToken, this.opts.refreshBeforeMs, (token) => this.sendToken(token), (err) => this.events.emit('token-error', err));
    this.socket = this.connectTo(this.urlIndex);
  }

  private get failsOver(): boolean {
    return this.opts.urls.length > 1;
  }

  private connectTo(index: number): CartSocket {
    const query = { ...(this.opts.socketOptions.query as Record<string, string> | undefined), ...(this.opts.affinity ? { cart: this.opts.affinity } : {}) };
    const url = this.opts.urls[index];
    if (url === undefined) throw new Error(`livecart: no server URL #${index}`);
    const socket: CartSocket = io(url, {
      ...this.opts.socketOptions,
      query,
      // Read at every handshake, so a reconnect uses the latest token.
      auth: (cb) => cb({ token: this.tokens.current }),
      transports: ['websocket'],
      // With several URLs the connection reconnects itself, to the next URL.
      reconnection: !this.failsOver,
      // This connection's carts and token are its own: never share a Manager with another one.
      forceNew: true,
      // Acks and retries are the library's; socket.io's packet retry queue would resend stale frames.
      retries: 0,
    });
    this.listen(socket);
    return socket;
  }

  /** Drop the current socket and connect to the next URL. */
  private failover(): void {
    const old = this.socket;
    old.off();
    old.disconnect();
    this.urlIndex = (this.urlIndex + 1) % this.opts.urls.length;
    this.socket = this.connectTo(this.urlIndex);
  }

  /** The server URL the connection uses now (with several, it changes on failover). */
  get url(): string {
    return this.opts.urls[this.urlIndex] ?? '';
  }

  /** True while the Socket.IO connection is up. */
  get connected(): boolean {
    return this.socket.connected;
  }

  /** Subscribe to a connection event; returns a function that unsubscribes. */
  on<K extends keyof LiveCartConnectionEvents>(event: K, fn: (payload: LiveCartConnectionEvents[K]) => void): () => void {
    return this.events.on(event, fn);
  }

  /**
   * Open a cart: load its local state, join it and sync. Resolves after the first sync, or with the
   * local state as soon as the server turns out unreachable (or after `openTimeoutMs`); the handle
   * keeps syncing in the background. Opening an open cart returns the same handle. Rejects with
   * CartError when the cart id is invalid or the server refuses the token or the cart, and with the
   * storage's error when local state cannot be loaded.
   */
  open(cartId: string): Promise<CartHandle> {
    if (this.closed) return Promise.reject(new CartError('E_CART_CLOSED', 'the connection was closed'));
    if (!isCartId(cartId)) return Promise.reject(new CartError('E_CART_ID_INVALID', String(cartId).slice(0, 80)));
    if (this.denied) return Promise.reject(new CartError(this.denied.code, this.denied.detail));
    const existing = this.opening.get(cartId);
    if (existing) return existing;
    const opening = this.openNew(cartId);
    this.opening.set(cartId, opening);
    opening.catch(() => {
      if (this.opening.get(cartId) === opening) this.opening.delete(cartId);
    });
    return opening;
  }

  /**
   * Use `token` from now on. A token of the same subject is sent on the live connection (it must
   * grant the open carts) and used for every later handshake; rejects with CartError when the
   * server refuses it (the old token stays in force on the live connection). A token of another
   * subject (a guest who signed in) reconnects under it: carts it does not grant stop with an
   * error. Either way, a cart merged into one the token grants is opened (`followed`).
   */
  async setToken(token: string): Promise<void> {
    const before = actorFromToken(this.tokens.current)?.id;
    const after = actorFromToken(token);
    if (after !== null && after.id !== before) {
      this.tokens.replace(token);
      this.actor = after;
      this.denied = null;
      // Also after a refused handshake (denied): the new token may well be accepted.
      if (!this.closed) {
        this.socket.disconnect();
        this.socket.connect();
      }
    } else {
      await this.tokens.set(token);
    }
    this.follow();
  }

  /** Open every cart a merged cart went into that the current token grants. */
  private follow(): void {
    const granted = cartsFromToken(this.tokens.current);
    for (const [from, mergedInto] of [...this.follows]) {
      if (!granted.includes(mergedInto) && !granted.includes('*')) continue;
      this.follows.delete(from);
      this.open(mergedInto).then(
        (handle) => this.events.emit('followed', { from, handle }),
        (error: unknown) => this.events.emit('follow-error', { from, mergedInto, error }),
      );
    }
  }

  private async sendToken(token: string): Promise<void> {
    if (!this.socket.connected) return;
    const res = await this.socket.timeout(this.opts.ackTimeoutMs).emitWithAck('refresh-token', token);
    if (!res.ok) throw new CartError(res.error.code, res.error.detail);
  }

  /** Close every open cart (each saved locally a last time), then the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.tokens.stop();
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    await Promise.allSettled([...this.carts.values()].map(({ handle }) => handle.close()));
    this.socket.disconnect();
    this.events.clear();
  }

  private async openNew(cartId: string): Promise<CartHandle> {
    const initialState = await this.opts.storage.load(cartId);
    if (this.closed) throw new CartError('E_CART_CLOSED', 'the connection was closed');
    let wiring: HandleWiring | null = null;
    const handle = new CartHandle({
      cartId,
      socket: () => this.socket,
      storage: this.opts.storage,
      device: this.opts.device,
      actor: this.actor,
      initialState,
      timing: this.timing,
      saveDebounceMs: this.opts.saveDebounceMs,
      wire: (w) => (wiring = w),
      onClose: () => {
        if (this.carts.get(cartId)?.handle === handle) this.carts.delete(cartId);
        this.opening.delete(cartId);
      },
    });
    if (!wiring) throw new Error('livecart: handle did not wire itself');
    const wired: HandleWiring = wiring;
    this.carts.set(cartId, { handle, wiring: wired });
    wired.sync.start();
    const offline = typeof navigator !== 'undefined' && navigator.onLine === false;
    if (this.unreachable || offline) wired.unreachable();
    const timer = setTimeout(() => wired.unreachable(), this.opts.openTimeoutMs);
    try {
      await wired.ready;
    } catch (err) {
      await handle.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return handle;
  }

  private listen(socket: CartSocket): void {
    socket.on('connect', () => {
      this.unreachable = false;
      this.reconnectBackoff.reset();
      for (const { wiring } of this.carts.values()) wiring.sync.onConnect();
      this.events.emit('connect', undefined);
    });
    socket.on('disconnect', (reason) => {
      for (const { wiring } of this.carts.values()) wiring.sync.onDisconnect();
      this.events.emit('disconnect', undefined);
      // The server ended the connection (a node shutting down): socket.io does not reconnect by
      // itself. With several URLs, nothing reconnects by itself.
      if (reason === 'io server disconnect' || (this.failsOver && reason !== 'io client disconnect')) this.reconnectLater();
    });
    socket.on('connect_error', (err) => {
      const error = readWireError(err);
      // An expired token with a way to get a new one: get it, and connect again.
      if (error?.code === 'E_AUTH_EXPIRED' && this.tokens.canRefresh) {
        void this.tokens.refresh().then((ok) => (ok ? this.reconnectLater() : this.deny(error)));
        return;
      }
      // Not active and not retryable: the server refused the token; retrying cannot help.
      if (!socket.active && error && !error.retryable) return this.deny(error);
      // Transient (network, server down, retryable refusal): carts work offline meanwhile.
      this.unreachable = true;
      for (const { wiring } of this.carts.values()) wiring.unreachable();
      if (!socket.active || this.failsOver) this.reconnectLater();
    });
    socket.on('sync', (cartId, frame, meta) => this.carts.get(cartId)?.wiring.sync.onServerSync(frame, meta));
    socket.on('awareness', (cartId, frame) => this.carts.get(cartId)?.wiring.sync.onServerAwareness(frame));
    socket.on('activity', (cartId, entry) => {
      if (this.carts.has(cartId)) this.events.emit('activity', { cartId, entry });
    });
    socket.on('cart-closed', (cartId, closed) => {
      const open = this.carts.get(cartId);
      const sync = open?.wiring.sync;
      const mergedInto = closed?.reason === 'merged' ? closed.mergedInto : undefined;
      if (open && isCartId(mergedInto)) {
        open.wiring.merged(mergedInto);
        sync?.onCartClosed(closed);
        this.follows.set(cartId, mergedInto);
        this.events.emit('merged', { cartId, mergedInto });
        this.follow();
        return;
      }
      // The token ran out before a refresh got through: refresh, then join again.
      if (sync && closed?.error?.code === 'E_AUTH_EXPIRED' && this.tokens.canRefresh) {
        void this.tokens.refresh().then((ok) => sync.onCartClosed(ok ? { reason: 'normal' } : closed));
        return;
      }
      sync?.onCartClosed(closed);
    });
  }

  /** The server refused this connection's token: stop every cart, report, and try no more. */
  private deny(error: WireError): void {
    this.denied = error;
    for (const { wiring } of this.carts.values()) wiring.sync.stop(error);
    this.events.emit('error', error);
  }

  private reconnectLater(): void {
    if (this.closed || this.reconnectTimer !== null) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.closed || this.socket.connected) return;
      if (this.failsOver) this.failover();
      else if (!this.socket.active) this.socket.connect();
    }, this.reconnectBackoff.delay());
  }
}

