/**
 * A consecutive-failure circuit breaker. Closed: requests go out; `failureThreshold` failures in a
 * row open it. Open: requests are refused (the service gets a rest) until `cooldownMs` passed.
 * Half-open: one probe goes out; its success closes the breaker, its failure opens it again.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long an open breaker refuses requests before letting one probe through. */
  cooldownMs: number;
  /** Clock (tests and simulations may inject one). */
  now?: () => number;
}

export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | null = null;
  private probing = false;
  private readonly now: () => number;

  constructor(
    private readonly options: BreakerOptions,
    /** Called on every state change (closed → open, → closed), e.g. to log it. */
    private readonly onChange: (state: BreakerState) => void = () => undefined,
  ) {
    this.now = options.now ?? Date.now;
  }

  state(): BreakerState {
    if (this.openedAt === null) return 'closed';
    return this.now() - this.openedAt >= this.options.cooldownMs ? 'half-open' : 'open';
  }

  /** May a request go out now? In half-open, true once (the probe) until it reports back. */
  tryAcquire(): boolean {
    const state = this.state();
    if (state === 'closed') return true;
    if (state === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  success(): void {
    const wasOpen = this.openedAt !== null;
    this.failures = 0;
    this.openedAt = null;
    this.probing = false;
    if (wasOpen) this.onChange('closed');
  }

  failure(): void {
    if (this.openedAt !== null) {
      // The probe failed (or a request sent before the breaker opened): another full cooldown.
      this.openedAt = this.now();
      this.probing = false;
      return;
    }
    this.failures += 1;
    if (this.failures >= this.options.failureThreshold) {
      this.openedAt = this.now();
      this.onChange('open');
    }
  }
}
