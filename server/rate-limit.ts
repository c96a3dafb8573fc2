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
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
