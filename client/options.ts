/**
 * The options of a LiveCartConnection, declared once with their defaults, validated when the
 * connection is created: an unknown or bad option throws instead of being silently ignored.
 */
import type { ManagerOptions, SocketOptions } from 'socket.io-client';
import { CartError, isCartId } from '../protocol/index.ts';
import { type CartStorage, MemoryStorage } from './storage.ts';

export interface LiveCartConnectionOptions {
  /**
   * The livecart server's URL. When a load balancer should route a cart's devices to one node, put
   * the cart id in it (e.g. `?cart=<id>`), as DESIGN.md §6 describes.
   */
  url: string;
  /** The device's access token (a JWT from the shop's backend), sent in the Socket.IO handshake. */
  token: string;
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
   * balancer hashing on it keeps all devices of a cart on one node (cheap local relays).
   * Default: none.
   */
  affinity?: string;
  /**
   * Extra socket.io-client options (path, reconnection delays, extraHeaders…). `auth`, `transports`,
   * `reconnection`, `forceNew` and `retries` are set by the library.
   */
  socketOptions?: Partial<ManagerOptions & SocketOptions>;
}

export type ResolvedOptions = Required<Omit<LiveCartConnectionOptions, 'socketOptions'>> & {
  socketOptions: Partial<ManagerOptions & SocketOptions>;
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
]);

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
  if (typeof options.url !== 'string' || options.url.length === 0) bad('url is required');
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
  const socketOptions = options.socketOptions ?? {};
  if (typeof socketOptions !== 'object' || socketOptions === null) bad('socketOptions must be an object');
  return {
    url: options.url,
    token: options.token,
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
