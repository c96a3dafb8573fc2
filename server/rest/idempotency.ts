/**
 * Idempotency-Key for mutating REST calls. The first request with a key runs and its response is
 * kept (at least 24 h); the same key with the same request replays that response; the same key with
 * a different request is 422; a key whose first request is still running is 409 (retryable).
 * Responses with a retryable status (5xx) are not kept, so a retry can succeed.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Keys } from '../../core/keys.ts';
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

const MAX_KEY_LENGTH = 255;
/** How long a key stays 'pending' if its process died mid-request. */
const PENDING_TTL_SECONDS = 60;

export class Idempotency {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
  ) {}

  /**
   * Run `handler` under `key` (the header's value, or undefined: no idempotency). `scope` keeps
   * keys of different carts and callers apart; `request` is what must match for a replay.
   */
  async run(key: string | undefined, scope: { cartId: string; subject: string }, request: unknown, handler: () => Promise<Outcome>): Promise<Outcome & { replayed: boolean }> {
    if (key === undefined) return { ...(await handler()), replayed: false };
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) throw new CartError('E_IDEMPOTENCY_KEY_INVALID');
    const digest = createHash('sha256').update(scope.subject).update('\0').update(key).digest('base64url');
    const redisKey = new Keys(this.prefix).idempotency(scope.cartId, digest);
    const fingerprint = createHash('sha256').update(JSON.stringify(request)).digest('base64url');
    const pending: Stored = { fingerprint, state: 'pending' };
    const claimed = await this.redis.set(redisKey, JSON.stringify(pending), 'EX', PENDING_TTL_SECONDS, 'NX');
    if (claimed === null) {
      const raw = await this.redis.get(redisKey);
      const stored = raw === null ? null : (JSON.parse(raw) as Stored);
      if (stored === null) throw new CartError('E_IDEMPOTENCY_IN_PROGRESS', 'retry');
      if (stored.fingerprint !== fingerprint) throw new CartError('E_IDEMPOTENCY_MISMATCH');
      if (stored.state === 'pending' || !stored.outcome) throw new CartError('E_IDEMPOTENCY_IN_PROGRESS');
      return { ...stored.outcome, replayed: true };
    }
    let outcome: Outcome;
    try {
      outcome = await handler();
    } catch (err) {
      const status = err instanceof CartError ? err.httpStatus : 500;
      if (status >= 500 || (err instanceof CartError && err.toWire().retryable)) {
        await this.redis.del(redisKey).catch(() => undefined);
      } else if (err instanceof CartError) {
        await this.store(redisKey, fingerprint, { status, body: { error: err.toWire() } });
      }
      throw err;
    }
    await this.store(redisKey, fingerprint, outcome);
    return { ...outcome, replayed: false };
  }

  private async store(redisKey: string, fingerprint: string, outcome: Outcome): Promise<void> {
    const done: Stored = { fingerprint, state: 'done', outcome };
    await this.redis.set(redisKey, JSON.stringify(done), 'EX', this.ttlSeconds);
  }
}
