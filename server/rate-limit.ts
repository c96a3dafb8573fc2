import type { Config } from '../core/config.ts';

/** A connection's budget of bytes of sync step 1 answers (SessionPeer.answerBytes). */
export function syncAnswerBudget(config: Pick<Config, 'syncAnswerBytesPerSecond' | 'limits'>): TokenBucket {
  return new TokenBucket(config.syncAnswerBytesPerSecond, 2 * config.limits.maxSyncBytes);
}

/** A token bucket: `ratePerSecond` sustained, `burst` at once. Cheap enough to keep one per socket. */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** Take one token; false when the bucket is empty (the caller rejects the message). */
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /**
   * Spend `amount` (bytes, say) while anything is left: the last spend may overdraw the bucket, so
   * one item larger than the burst still passes, and the next waits until the debt is refilled.
   */
  spend(amount: number): boolean {
    this.refill();
    if (this.tokens <= 0) return false;
    this.tokens -= amount;
    return true;
  }

  /** Whether anything is left to spend (spend() would pass), without spending it. */
  ready(): boolean {
    this.refill();
    return this.tokens > 0;
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
  }
}
