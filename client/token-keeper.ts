/**
 * Keeps a connection's token fresh: asks `getToken` for a new one `refreshBeforeMs` before the
 * current one expires (or halfway through a shorter lifetime) and hands it to the connection,
 * which sends it on the live socket (`refresh-token`) and uses it for every later handshake.
 */
import { expiryOfToken } from './token.ts';

export type GetToken = () => string | Promise<string>;

/** setTimeout's longest delay; a longer wait is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Wait before asking again after a failed refresh. */
const RETRY_MS = 5000;

export class TokenKeeper {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(
    private token: string,
    private readonly getToken: GetToken | null,
    private readonly refreshBeforeMs: number,
    /** Give the new token to the server; rejects when the server refuses it. */
    private readonly apply: (token: string) => Promise<void>,
    private readonly failed: (err: unknown) => void,
  ) {
    this.schedule();
  }

  get current(): string {
    return this.token;
  }

  get canRefresh(): boolean {
    return this.getToken !== null;
  }

  /** Use `token` from now on (and on the live connection). */
  async set(token: string): Promise<void> {
    this.token = token;
    this.schedule();
    await this.apply(token);
  }

  /** Use `token` from the next handshake on, without sending it on the live connection (another subject). */
  replace(token: string): void {
    this.token = token;
    this.schedule();
  }

  /** Ask getToken for a new token now and use it; false when there is no getToken or it failed. */
  async refresh(): Promise<boolean> {
    if (!this.getToken || this.stopped) return false;
    try {
      const token = await this.getToken();
      if (typeof token !== 'string' || token.length === 0) throw new Error('getToken() must return a token');
      await this.set(token);
      return true;
    } catch (err) {
      this.failed(err);
      if (!this.stopped) this.arm(RETRY_MS);
      return false;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    const expiresAt = expiryOfToken(this.token);
    if (!this.getToken || expiresAt === null) return;
    const left = expiresAt - Date.now();
    this.arm(Math.max(0, left > 2 * this.refreshBeforeMs ? left - this.refreshBeforeMs : left / 2));
  }

  private arm(ms: number): void {
    if (this.stopped) return;
    if (this.timer !== null) clearTimeout(this.timer);
    const wait = Math.min(ms, MAX_TIMER_MS);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (wait < ms) return this.arm(ms - wait);
      void this.refresh();
    }, wait);
  }
}
