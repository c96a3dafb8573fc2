/**
 * The options of a LiveCartConnection, declared once with their defaults, validated when the
 * connection is created: an unknown or bad option throws instead of being silently ignored.
 */
import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import { CartError, isCartId } from '../protocol/index.ts';
import { type CartStorage, MemoryStorage } from './storage.ts';

export interface LiveCartConnectionOptions {
  /**
   * The livecart server's URL (a load balancer's, or one node's), or several nodes' URLs. With
   * several, the connection uses one at a time and, when it cannot connect or loses the connection,
   * moves on to the next (failover without a load balancer). With `affinity`, their order comes
   * from a consistent hash (every device of a cart prefers the same node and fails over to the same
   * next one); without, they are tried in the order given.
   */
  url: string | readonly string[];
  /** The device's access token (a JWT from the shop's backend), sent in the Socket.IO handshake. */
  token: string;
  /**
   * Where a fresh token comes from (the shop's backend). Called `refreshBeforeMs` before the
   * current token expires; the new one is sent on the live connection (`refresh-token`, same
   * subject, the same carts) and used for every later handshake. Without it, a session ends when
   * its token expires (`cart-closed` unauthorized / E_AUTH_EXPIRED); `setToken` does the same by hand.
   */
  getToken?: () => string | Promise<string>;
  /** How long before expiry `getToken` is asked (halfway through a shorter lifetime). Default 60 s. */
  refreshBeforeMs?: number;
  /** Name shown to the cart's other devices ("Ana's phone"), at most 64 characters. Default 'device'. */
  device?: string;
  /** Where carts are kept locally. Default MemoryStorage: offline edits survive closing a cart, not a restart. */
  storage?: CartStorage;
  /**
   * How long an acknowledgement may take before it counts as lost and the change is retried.
   * Default 10 s: above a Redis failover or a cart load, short enough that "saving" does not hang.
   */
  ackTimeoutMs?: number;
  /** How long `open` waits for the first sync before resolving with the local state. Default: ackTimeoutMs. */
  openTimeoutMs?: number;
  /** First retry delay after a retryable failure; doubles up to retryMaxMs. Default 500 ms. */
  retryMinMs?: number;
  /** Longest retry delay. Default 10 s. */
  retryMaxMs?: number;
  /**
   * Interval of the background pull that catches a lost last change (no later change reveals it).
   * Default 30 s; 0 turns it off.
   */
  syncCheckMs?: number;
  /** Delay that batches local saves after a change. Default 50 ms. */
  saveDebounceMs?: number;
  /**
   * The cart this connection is mostly for, sent as `?cart=` on the connection URL so a load
   * balancer hashing on it keeps all devices of a cart on one node (cheap local relays); with
   * several URLs, it also picks which node the connection prefers.
   * Default: none.
   */
  affinity?: string;
  /**
   * Extra socket.io-client options (path, reconnection delays, extraHeaders…). `auth`, `transports`,
   * `reconnection`, `forceNew` and `retries` are set by the library.
   */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

export type ResolvedOptions = Required<Omit<LiveCartConnectionOptions, 'socketOptions' | 'url' | 'getToken'>> & {
  getToken: (() => string | Promise<string>) | null;
  socketOptions: Partial<ManagerOptions & SocketOptions>;
  /** Server URLs in the order they are tried. */
  urls: string[];
  /** Wait after a version gap before pulling (relays of different nodes can be reordered). */
  gapWaitMs: number;
};

const KNOWN = new Set([
  'url',
  'token',
  'device',
  'storage',
  'ackTimeoutMs',
  'openTimeoutMs',
  'retryMinMs',
  'retryMaxMs',
  'syncCheckMs',
  'saveDebounceMs',
  'socketOptions',
  'affinity',
  'getToken',
  'refreshBeforeMs',
]);

const MAX_URLS = 64;

/** FNV-1a, 32 bits: a stable, fast string hash (identical in every browser and Node). */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/**
 * The order to try server URLs in: by rendezvous hashing on the affinity cart id (every device of
 * a cart prefers the same node, and fails over to the same next one; adding or removing a URL only
 * moves the carts that preferred it), else as given.
 */
export function preferenceOrder(urls: readonly string[], affinity: string): string[] {
  if (affinity === '') return [...urls];
  return [...urls].sort((a, b) => fnv1a(`${affinity}|${b}`) - fnv1a(`${affinity}|${a}`) || (a < b ? -1 : 1));
}

function bad(detail: string): never {
  throw new CartError('E_VALIDATION', `LiveCartConnection: ${detail}`);
}

function duration(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) bad(`${name} must be a number >= ${min}`);
  return value;
}

export function resolveOptions(options: LiveCartConnectionOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) bad('options must be an object');
  for (const key of Object.keys(options)) if (!KNOWN.has(key)) bad(`unknown option ${JSON.stringify(key)}`);
  const urls: unknown[] = typeof options.url === 'string' ? [options.url] : Array.isArray(options.url) ? [...(options.url as unknown[])] : [];
  if (urls.length === 0 || urls.length > MAX_URLS || !urls.every((u) => typeof u === 'string' && u.length > 0)) bad(`url must be a URL or 1..${MAX_URLS} URLs`);
  if (new Set(urls).size !== urls.length) bad('url lists a URL twice');
  if (typeof options.token !== 'string' || options.token.length === 0) bad('token is required');
  const device = options.device ?? 'device';
  if (typeof device !== 'string' || device.length === 0 || device.length > 64) bad('device must be 1..64 characters');
  const storage = options.storage ?? new MemoryStorage();
  if (typeof storage.load !== 'function' || typeof storage.save !== 'function' || typeof storage.clear !== 'function') {
    bad('storage must implement load, save and clear');
  }
  const ackTimeoutMs = duration('ackTimeoutMs', options.ackTimeoutMs, 10_000, 1);
  const retryMinMs = duration('retryMinMs', options.retryMinMs, 500, 1);
  const retryMaxMs = duration('retryMaxMs', options.retryMaxMs, 10_000, retryMinMs);
  const affinity = options.affinity ?? '';
  if (typeof affinity !== 'string' || (affinity !== '' && !isCartId(affinity))) bad('affinity must be a cart id');
  if (options.getToken !== undefined && typeof options.getToken !== 'function') bad('getToken must be a function');
  const socketOptions = options.socketOptions ?? {};
  if (typeof socketOptions !== 'object' || socketOptions === null) bad('socketOptions must be an object');
  return {
    urls: preferenceOrder(urls as string[], affinity),
    token: options.token,
    getToken: options.getToken ?? null,
    refreshBeforeMs: duration('refreshBeforeMs', options.refreshBeforeMs, 60_000, 0),
    device,
    storage,
    ackTimeoutMs,
    openTimeoutMs: duration('openTimeoutMs', options.openTimeoutMs, ackTimeoutMs, 0),
    retryMinMs,
    retryMaxMs,
    syncCheckMs: duration('syncCheckMs', options.syncCheckMs, 30_000, 0),
    saveDebounceMs: duration('saveDebounceMs', options.saveDebounceMs, 50, 0),
    socketOptions,
    affinity,
    gapWaitMs: Math.min(1000, ackTimeoutMs),
  };
}
