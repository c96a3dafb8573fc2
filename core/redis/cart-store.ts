/**
 * The cart log in Redis: append (with compare-and-set on the version), load / catch up, snapshot.
 * Every key of one cart carries the cart id as a hash tag, so the scripts run unchanged on Redis
 * Cluster (all of a cart's keys land in one slot).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RedisClient } from './connect.ts';
import { Keys } from '../keys.ts';

const lua = (name: string): string => readFileSync(new URL(`./lua/${name}`, import.meta.url), 'utf8');

const SCRIPTS = {
  appendUpdate: { numberOfKeys: 4, lua: lua('appendUpdate-4.lua') },
  loadCart: { numberOfKeys: 3, lua: lua('loadCart-3.lua') },
  saveSnapshot: { numberOfKeys: 3, lua: lua('saveSnapshot-3.lua') },
  markRevalidated: { numberOfKeys: 1, lua: lua('markRevalidated-1.lua') },
  claimIdempotency: { numberOfKeys: 2, lua: lua('claimIdempotency-2.lua') },
} as const;

type ScriptReply = Array<number | Buffer | null>;

interface ScriptedRedis {
  appendUpdateBuffer(k1: string, k2: string, k3: string, k4: string, ...args: Array<string | number | Buffer>): Promise<ScriptReply>;
  loadCartBuffer(k1: string, k2: string, k3: string, from: number): Promise<ScriptReply>;
  saveSnapshot(k1: string, k2: string, k3: string, snapshot: Buffer, version: number, id: string): Promise<number>;
  markRevalidated(meta: string, version: number): Promise<number>;
  claimIdempotency(record: string, index: string, pending: string, pendingMs: number, now: number, keepMs: number, max: number): Promise<[number, string?]>;
}

/** Register the scripts on a connection (idempotent). ioredis sends EVALSHA and falls back to EVAL. */
export function defineScripts(redis: RedisClient): void {
  const r = redis as RedisClient & Partial<ScriptedRedis>;
  if (typeof r.appendUpdateBuffer === 'function') return;
  for (const [name, def] of Object.entries(SCRIPTS)) redis.defineCommand(name, def);
}

export interface CartKeys {
  meta: string;
  log: string;
  snap: string;
}

export function cartKeys(prefix: string, cartId: string): CartKeys {
  return new Keys(prefix).cart(cartId);
}

export type AppendResult =
  | { appended: true; version: number; snapVersion: number; entryId: string; logBytes: number }
  /** `diverged`: the log is at the caller's version, but its entry there is not the caller's. */
  | { appended: false; version: number; diverged: boolean; closed?: undefined }
  /**
   * `closed`: the cart takes no changes: its status (`merged`, ...) or `locked` while another
   * writer holds a claim on it (core/redis/cart-status-store.ts).
   */
  | { appended: false; version: number; diverged: false; closed: string };

/** A claim on a cart that lets its holder append while others may not, and the status its entry sets. */
export interface HeldClaim {
  lock: string;
  /** The status the cart takes with the entry ('' or absent: none; the claim stays held). */
  setStatus?: string;
}

/** Where a change stands in the log: its version and the id of the entry at that version. */
export interface LogPosition {
  version: number;
  /** '' when unknown (nothing loaded yet, or entries written before entries had ids). */
  entryId: string;
}

/** An Idempotency-Key record stored by the same script as the entry (see server/rest/idempotency.ts). */
export interface IdempotencyRecord {
  key: string;
  value: string;
  ttlMs: number;
}

export interface LoadResult {
  /** The log's version (0: the cart does not exist in Redis). */
  version: number;
  /** Present when the caller was behind the last snapshot. */
  snapshot: Uint8Array | null;
  /** The version the snapshot includes (whether or not it was returned). */
  snapVersion: number;
  /** Updates after the caller's version (or after the snapshot), oldest first. */
  updates: Uint8Array[];
  /** The version of each of `updates`. */
  versions: number[];
  /** The origin tag each of `updates` was appended with (client, yws, rest, claims, restore, worker, reseed). */
  origins: string[];
  /** The entry id of each of `updates`. */
  ids: string[];
  /** The id of the entry at the caller's version ('' when unknown: see loadCart-3.lua). */
  idAtFrom: string;
  /** The id of the entry the snapshot ends with. */
  snapId: string;
  /** The last version a revalidation saw (0: never). */
  revalidated: number;
}

function text(v: number | Buffer | null | undefined): string {
  return v instanceof Buffer ? v.toString() : '';
}

function toInt(v: number | Buffer | null | undefined): number {
  if (typeof v === 'number') return v;
  if (v instanceof Buffer) return Number(v.toString());
  return 0;
}

/**
 * How many replicas must have an append before `append` resolves, and how long it waits for them
 * (config.redis.waitReplicas / waitTimeoutMs). 0 replicas: resolve once the primary has it.
 */
export interface Durability {
  replicas: number;
  timeoutMs: number;
}

/**
 * The append is in the primary's log but not confirmed on enough replicas (or its confirmation was
 * lost): a failover now could drop it, so it must not be acknowledged. A retry is safe: re-sending
 * a change the log has is a no-op.
 */
export class ReplicationError extends Error {
  override name = 'ReplicationError';
}

export class CartStore {
  private readonly redis: RedisClient & ScriptedRedis;
  constructor(
    redis: RedisClient,
    readonly prefix: string,
    private readonly durability: Durability = { replicas: 0, timeoutMs: 0 },
  ) {
    defineScripts(redis);
    this.redis = redis as RedisClient & ScriptedRedis;
  }

  keys(cartId: string): CartKeys {
    return cartKeys(this.prefix, cartId);
  }

  /**
   * Append `update` if the log is at `expected` (and, when its entry id is known, at that very
   * entry). `record`: an Idempotency-Key outcome stored with the entry, all or nothing. One round trip.
   */
  async append(cartId: string, expected: number | LogPosition, update: Uint8Array, origin: string, ttlMs: number, record?: IdempotencyRecord, claim?: HeldClaim): Promise<AppendResult> {
    const k = this.keys(cartId);
    const at: LogPosition = typeof expected === 'number' ? { version: expected, entryId: '' } : expected;
    const entryId = randomBytes(9).toString('base64url');
    const reply = await this.redis.appendUpdateBuffer(
      k.meta,
      k.log,
      k.snap,
      record?.key ?? k.meta,
      at.version,
      Buffer.from(update.buffer, update.byteOffset, update.byteLength),
      origin,
      ttlMs,
      Date.now(),
      entryId,
      at.entryId,
      record?.value ?? '',
      record?.ttlMs ?? 0,
      claim?.lock ?? '',
      claim?.setStatus ?? '',
    );
    if (toInt(reply[0]) !== 1) {
      if (toInt(reply[2]) === 2) return { appended: false, version: toInt(reply[1]), diverged: false, closed: text(reply[3]) };
      return { appended: false, version: toInt(reply[1]), diverged: toInt(reply[2]) === 1 };
    }
    const version = toInt(reply[1]);
    if (this.durability.replicas > 0) await this.replicated(k, version, entryId);
    return { appended: true, version, snapVersion: toInt(reply[2]), entryId, logBytes: toInt(reply[3]) };
  }

  /**
   * Wait until `durability.replicas` replicas have the entry appended at `version`, or throw
   * ReplicationError. WAIT counts the replicas that acknowledged every write this connection made,
   * so it must run on the connection the append used: it has no key, and a Lua script cannot call
   * it, so a pipeline with the cart's keys carries it to the primary of the cart's slot. The same
   * pipeline reads the entry back: if a failover moved the slot between the append and the WAIT,
   * the new primary's WAIT would count nothing of ours, and only the entry proves it got there.
   */
  private async replicated(k: CartKeys, version: number, entryId: string): Promise<void> {
    const { replicas, timeoutMs } = this.durability;
    let replies: Array<[Error | null, unknown]> | null;
    try {
      replies = await this.redis.pipeline().hget(k.meta, 'snapVersion').xrange(k.log, `0-${version}`, `0-${version}`).wait(replicas, timeoutMs).exec();
    } catch (err) {
      throw new ReplicationError(`could not confirm the append on replicas: ${err instanceof Error ? err.message : String(err)}`);
    }
    const [snap, entry, waited] = replies ?? [];
    if (!snap || !entry || !waited || snap[0] || entry[0] || waited[0]) throw new ReplicationError('could not confirm the append on replicas: ' + String((snap?.[0] ?? entry?.[0] ?? waited?.[0])?.message ?? 'no reply'));
    // The log holds the entry, or a snapshot on this primary folded it in already (compaction).
    const fields = (entry[1] as Array<[string, string[]]>)[0]?.[1] ?? [];
    const held = fields.some((f, i) => i % 2 === 0 && f === 'i' && fields[i + 1] === entryId) || Number(snap[1] ?? 0) >= version;
    if (!held) throw new ReplicationError('the append is not on the primary that now serves the cart (failover)');
    if (Number(waited[1]) < replicas) throw new ReplicationError(`${String(waited[1])} of ${replicas} replicas confirmed the append within ${timeoutMs} ms`);
  }

  /** Everything needed to bring a copy at `fromVersion` (0: empty) to the log's version. One round trip. */
  async load(cartId: string, fromVersion: number): Promise<LoadResult> {
    const k = this.keys(cartId);
    const reply = await this.redis.loadCartBuffer(k.meta, k.log, k.snap, fromVersion);
    const snapshot = reply[1] instanceof Buffer ? new Uint8Array(reply[1]) : null;
    const updates: Uint8Array[] = [];
    const versions: number[] = [];
    const origins: string[] = [];
    const ids: string[] = [];
    for (let i = 6; i + 3 < reply.length; i += 4) {
      const entry = reply[i + 1];
      if (!(entry instanceof Buffer)) continue;
      versions.push(toInt(reply[i]));
      updates.push(new Uint8Array(entry));
      origins.push(text(reply[i + 2]));
      ids.push(text(reply[i + 3]));
    }
    return { version: toInt(reply[0]), snapshot, snapVersion: toInt(reply[2]), revalidated: toInt(reply[3]), idAtFrom: text(reply[4]), snapId: text(reply[5]), updates, versions, origins, ids };
  }

  /** Fold the log up to `at` (the version and entry the snapshot was built from) into `snapshot`. */
  async saveSnapshot(cartId: string, snapshot: Uint8Array, at: LogPosition): Promise<boolean> {
    const k = this.keys(cartId);
    return (await this.redis.saveSnapshot(k.meta, k.log, k.snap, Buffer.from(snapshot), at.version, at.entryId)) === 1;
  }

  /** Claim an Idempotency-Key record (see claimIdempotency-2.lua): null when claimed, else the record held. */
  async claimIdempotency(key: string, index: string, pending: string, pendingMs: number, keepMs: number, max: number): Promise<string | null> {
    const reply = await this.redis.claimIdempotency(key, index, pending, pendingMs, Date.now(), keepMs, max);
    return reply[0] === 1 ? null : String(reply[1] ?? '');
  }

  /** Record that a revalidation saw the cart up to `version` (never moves back; never recreates a gone cart). */
  async markRevalidated(cartId: string, version: number): Promise<void> {
    const k = this.keys(cartId);
    await this.redis.markRevalidated(k.meta, version);
  }

  async exists(cartId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys(cartId).meta)) === 1;
  }

  /** Bytes of updates in the log since the last snapshot, as the append script counts them (tests, metrics). */
  async logBytes(cartId: string): Promise<number> {
    return Number((await this.redis.hget(this.keys(cartId).meta, 'logBytes')) ?? 0);
  }

  /** Number of log entries not yet folded into the snapshot (for tests and metrics). */
  async logLength(cartId: string): Promise<number> {
    return this.redis.xlen(this.keys(cartId).log);
  }
}
