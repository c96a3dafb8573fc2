/**
 * Idempotency-Key for mutating REST calls. The first request with a key runs and its response is
 * kept (at least 24 h); the same key with the same request replays that response; the same key with
 * a different request is 422; a key whose first request is still running is 409 (retryable).
 * Responses with a retryable status (5xx) are not kept, so a retry can succeed.
 *
 * Keys are scoped by caller (the token's subject) and by cart. A request that changes a cart hands
 * its outcome to the change's append, which stores it in the same script as the log entry: the
 * change and its recorded outcome cannot be separated, so a retry never applies a change twice.
 * Each scope keeps at most `maxKeys` records; a new key beyond that evicts the oldest.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from '../../core/redis/connect.ts';
import { Keys } from '../../core/keys.ts';
import { CartStore, type IdempotencyRecord } from '../../core/redis/cart-store.ts';
import { CartError } from '../../protocol/index.ts';

export interface Outcome {
  status: number;
  body: unknown;
}

interface Stored {
  fingerprint: string;
  state: 'pending' | 'done';
  outcome?: Outcome;
}

/** Who is asking and where: `scope` is a cart id, or a scope of the caller's own (see scopeOfCreations). */
export interface IdempotencyScope {
  scope: string;
  subject: string;
}

const MAX_KEY_LENGTH = 255;
/** How long a key stays 'pending' if its process died mid-request. */
const PENDING_TTL_MS = 60_000;

/**
 * A claimed key, given to the request's handler: `record` turns the outcome into the record an
 * append stores with its entry; the handler sets `stored` once such an append succeeded.
 */
export class Claim {
  stored = false;
  constructor(
    private readonly key: string,
    private readonly fingerprint: string,
    private readonly ttlMs: number,
  ) {}

  record(outcome: Outcome): IdempotencyRecord {
    const done: Stored = { fingerprint: this.fingerprint, state: 'done', outcome };
    return { key: this.key, value: JSON.stringify(done), ttlMs: this.ttlMs };
  }
}

/** The scope of one caller's cart creations (its own slot: a creation touches no existing cart). */
export function scopeOfCreations(subject: string): string {
  return `new-${createHash('sha256').update(subject).digest('base64url').slice(0, 22)}`;
}

export class Idempotency {
  private readonly store: CartStore;
  private readonly keys: Keys;
  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly ttlSeconds: number,
    private readonly maxKeys: number,
  ) {
    this.store = new CartStore(redis, prefix);
    this.keys = new Keys(prefix);
  }

  /**
   * Run `handler` under `key` (the header's value, or undefined: no idempotency, and the handler
   * gets no claim). `request` is what must match for a replay.
   */
  async run(key: string | undefined, scope: IdempotencyScope, request: unknown, handler: (claim: Claim | null) => Promise<Outcome>): Promise<Outcome & { replayed: boolean }> {
    if (key === undefined) return { ...(await handler(null)), replayed: false };
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) throw new CartError('E_IDEMPOTENCY_KEY_INVALID');
    const digest = createHash('sha256').update(scope.subject).update('\0').update(key).digest('base64url');
    const redisKey = this.keys.idempotency(scope.scope, digest);
    const fingerprint = createHash('sha256').update(JSON.stringify(request)).digest('base64url');
    const pending: Stored = { fingerprint, state: 'pending' };
    const ttlMs = this.ttlSeconds * 1000;
    const held = await this.store.claimIdempotency(redisKey, this.keys.idempotencyIndex(scope.scope), JSON.stringify(pending), PENDING_TTL_MS, ttlMs, this.maxKeys);
    if (held !== null) {
      const stored = JSON.parse(held) as Stored;
      if (stored.fingerprint !== fingerprint) throw new CartError('E_IDEMPOTENCY_MISMATCH');
      if (stored.state === 'pending' || !stored.outcome) throw new CartError('E_IDEMPOTENCY_IN_PROGRESS');
      return { ...stored.outcome, replayed: true };
    }
    const claim = new Claim(redisKey, fingerprint, ttlMs);
    let outcome: Outcome;
    try {
      outcome = await handler(claim);
    } catch (err) {
      const status = err instanceof CartError ? err.httpStatus : 500;
      if (claim.stored) {
        // The change and its outcome are stored: a retry replays them.
      } else if (status >= 500 || (err instanceof CartError && err.toWire().retryable)) {
        await this.redis.del(redisKey).catch(() => undefined);
      } else if (err instanceof CartError) {
        await this.save(claim, { status, body: { error: err.toWire() } });
      }
      throw err;
    }
    if (!claim.stored) await this.save(claim, outcome);
    return { ...outcome, replayed: false };
  }

  private async save(claim: Claim, outcome: Outcome): Promise<void> {
    const record = claim.record(outcome);
    await this.redis.set(record.key, record.value, 'PX', record.ttlMs);
  }
}
