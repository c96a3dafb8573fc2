/**
 * Cluster-wide rate limits, counted in Redis with rate-limiter-flexible (fixed windows, one key
 * per limiter and client, expiring with its window): REST calls per IP and per token subject,
 * cart creation per IP (a burst and an hourly rate), failed admin authentications per IP, and
 * bytes of changes per cart and per subject (the write budget), bytes of large sync answers per
 * subject.
 *
 * When Redis cannot answer, the limits let requests through: the request then meets the outage on
 * its own path (a typed E_STORAGE_UNAVAILABLE) instead of a limiter's error.
 */
import type { NextFunction, Request, Response } from 'express';
import type { RedisClient } from '../../core/redis/connect.ts';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { CartError, type ErrorCode } from '../../protocol/index.ts';
import type { AbuseConfig } from '../../core/config.ts';
import { Keys } from '../../core/keys.ts';
import type { Logger } from '../../core/log.ts';
import type { Metrics } from '../../core/metrics.ts';
import type { Auth } from '../auth.ts';
import { sendError } from '../rest/http-errors.ts';

/** Refused REST requests held (answered after AbuseConfig.refusalDelayMs) at once, per node. */
export const MAX_HELD_REFUSALS = 1000;

/** A refusal a client may retry after `retryAfterSeconds` (REST sends it as `Retry-After`). */
export class RetryLaterError extends CartError {
  constructor(
    code: ErrorCode,
    readonly retryAfterSeconds: number,
  ) {
    super(code, `retry after ${retryAfterSeconds} s`);
  }
}

/** POST /v1/auth/exchange: anonymous like POST /v1/carts, and each call may fetch the IdP's keys and write two carts. */
const SIGN_IN_PATH = '/v1/auth/exchange';

/** Sign-ins (or share-code redeems) per client IP per window (core/config.ts IdpConfig). */
export interface SignInRate {
  perIp: number;
  windowSeconds: number;
}

/** POST /v1/shares/:code/redeem: a share code is short, so guessing one must be slow. */
const REDEEM_PATH = /^\/v1\/shares\/[^/]+\/redeem$/;

/** Routes that take the admin token: their failed authentications are guesses to slow down. */
export function isAdminRoute(method: string, path: string): boolean {
  // A sign-in presents an IdP token, not the admin token: it has its own limit (below).
  if (path === SIGN_IN_PATH) return false;
  if (path.startsWith('/v1/auth/') || path.startsWith('/v1/pricing/')) return true;
  return path.startsWith('/v1/catalog/') && method !== 'GET' && method !== 'HEAD';
}

export class RateLimits {
  private readonly restIp: RateLimiterRedis;
  private readonly restSubject: RateLimiterRedis;
  private readonly createBurst: RateLimiterRedis;
  private readonly createHourly: RateLimiterRedis;
  private readonly adminFailures: RateLimiterRedis;
  private readonly writeCart: RateLimiterRedis;
  private readonly writeSubject: RateLimiterRedis;
  private readonly answerSubject: RateLimiterRedis;
  private readonly signIn: RateLimiterRedis;
  private readonly redeem: RateLimiterRedis;
  private readonly refused: (labels: Record<string, string>) => void;
  private held = 0;
  private readonly adminFailed: () => void;

  constructor(
    redis: RedisClient,
    keyPrefix: string,
    private readonly config: AbuseConfig,
    private readonly log: Logger,
    metrics: Metrics,
    signIn: SignInRate = { perIp: 600, windowSeconds: 60 },
    redeem: SignInRate = { perIp: 10, windowSeconds: 60 },
  ) {
    const keys = new Keys(keyPrefix);
    // ioredis is rate-limiter-flexible's default client: `storeClient` alone (no `useRedisPackage`).
    // A spent key is then remembered in this process until its window ends (`inMemoryBlockOnConsumed`),
    // so a flood past a limit is refused without a Redis round trip per request. Admin failures are
    // charged up front and refunded on success: a burst of honest calls must not block the address.
    const limiter = (name: string, points: number, duration: number, blockInMemory = true): RateLimiterRedis =>
      new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: keys.rateLimit(name),
        points,
        duration,
        rejectIfRedisNotReady: true,
        ...(blockInMemory ? { inMemoryBlockOnConsumed: points } : {}),
      });
    this.restIp = limiter('rest-ip', config.restPerIp, config.restWindowSeconds);
    this.restSubject = limiter('rest-sub', config.restPerSubject, config.restWindowSeconds);
    this.createBurst = limiter('create-burst', config.cartCreateBurst, config.cartCreateBurstSeconds);
    this.createHourly = limiter('create-hour', config.cartCreatePerHour, 3600);
    this.adminFailures = limiter('admin-fail', config.adminFailures, config.adminFailureSeconds, false);
    this.writeCart = limiter('write-cart', config.writeBudgetCartBytes, config.writeBudgetSeconds);
    this.writeSubject = limiter('write-sub', config.writeBudgetSubjectBytes, config.writeBudgetSeconds);
    this.answerSubject = limiter('answer-sub', config.answerBudgetSubjectBytes, config.answerBudgetSeconds);
    this.signIn = limiter('sign-in', signIn.perIp, signIn.windowSeconds);
    this.redeem = limiter('share-redeem', redeem.perIp, redeem.windowSeconds);
    this.refused = metrics.counter('livecart_rate_limited_total', 'Requests and writes refused by a rate limit or budget, by limit.');
    const adminFailures = metrics.counter('livecart_admin_auth_failures_total', 'Failed authentications on admin routes (wrong or missing admin token).');
    this.adminFailed = () => adminFailures();
  }

  /**
   * Consume `points` from each `[limiter, key]`; throws RetryLaterError(code) with the longest
   * wait when any is exhausted. A limiter Redis cannot reach is skipped.
   */
  private async consume(limit: string, code: ErrorCode, pairs: Array<[RateLimiterRedis, string]>, points = 1): Promise<void> {
    let waitMs = 0;
    await Promise.all(
      pairs.map(async ([limiter, key]) => {
        try {
          await limiter.consume(key, points);
        } catch (err) {
          if (err instanceof RateLimiterRes) waitMs = Math.max(waitMs, err.msBeforeNext);
          else this.log.debug('rate limit not checked: RedisClient did not answer', { limit, err: err instanceof Error ? err : String(err) });
        }
      }),
    );
    if (waitMs > 0) {
      this.refused({ limit });
      throw new RetryLaterError(code, Math.max(1, Math.ceil(waitMs / 1000)));
    }
  }

  /**
   * Express middleware for every REST route: per IP and per subject, cart creation, admin
   * guesses. `req.ip` follows express `trust proxy` (set from `trustProxyHops`).
   */
  rest(auth: Auth): (req: Request, res: Response, next: NextFunction) => void {
    return (req, res, next) => {
      void this.checkRest(auth, req, res).then(
        (ok) => {
          if (ok) next();
        },
        (err: unknown) => next(err),
      );
    };
  }

  private async checkRest(auth: Auth, req: Request, res: Response): Promise<boolean> {
    const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
    // A guess presents a token; a call without one is a client bug, answered but not counted.
    const guess = isAdminRoute(req.method, req.path) && req.headers.authorization !== undefined;
    try {
      // Charged up front and refunded on success: concurrent guesses cannot overrun the budget.
      if (guess) await this.consume('admin-auth', 'E_RATE_LIMITED', [[this.adminFailures, ip]]);
      const pairs: Array<[RateLimiterRedis, string]> = [[this.restIp, ip]];
      const subject = await this.subjectOf(auth, req.headers.authorization);
      if (subject !== null) pairs.push([this.restSubject, subject]);
      await this.consume('rest', 'E_RATE_LIMITED', pairs);
      if (req.method === 'POST' && req.path === '/v1/carts') {
        await this.consume('cart-create', 'E_RATE_LIMITED', [
          [this.createBurst, ip],
          [this.createHourly, ip],
        ]);
      }
      if (req.method === 'POST' && req.path === SIGN_IN_PATH) await this.consume('sign-in', 'E_RATE_LIMITED', [[this.signIn, ip]]);
      // Every redeem counts, won or not: counting only failures would let a guesser interleave wins.
      if (req.method === 'POST' && REDEEM_PATH.test(req.path)) await this.consume('share-redeem', 'E_RATE_LIMITED', [[this.redeem, ip]]);
    } catch (err) {
      if (!(err instanceof RetryLaterError)) throw err;
      await this.hold(res);
      if (!res.headersSent && !res.destroyed) sendError(res, err);
      return false;
    }
    if (guess) {
      res.once('finish', () => {
        if (res.statusCode === 401 || res.statusCode === 403) this.adminFailed();
        else this.adminFailures.reward(ip, 1).catch(() => undefined);
      });
    }
    return true;
  }

  /** Wait `refusalDelayMs` before a refusal goes out (unless too many are held, or the client left). */
  private async hold(res: Response): Promise<void> {
    const delay = this.config.refusalDelayMs;
    if (delay === 0 || this.held >= MAX_HELD_REFUSALS) return;
    this.held += 1;
    try {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        res.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    } finally {
      this.held -= 1;
    }
  }

  /** The subject of a valid bearer token, or null (no token, or one that does not verify). */
  private async subjectOf(auth: Auth, header: string | undefined): Promise<string | null> {
    const m = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!m) return null;
    try {
      return (await auth.verifySignature(m[1])).subject;
    } catch {
      return null;
    }
  }

  /**
   * Charge `bytes` of a change to the cart's and the subject's write budgets, before it is
   * appended. Throws RetryLaterError(E_WRITE_BUDGET_EXCEEDED) when either is spent.
   */
  chargeWrite(cartId: string, subject: string | null, bytes: number): Promise<void> {
    const pairs: Array<[RateLimiterRedis, string]> = [[this.writeCart, cartId]];
    if (subject !== null) pairs.push([this.writeSubject, subject]);
    return this.consume('write-budget', 'E_WRITE_BUDGET_EXCEEDED', pairs, bytes);
  }

  /**
   * Charge a sync step 1 answer of `bytes` to `subject`'s answer budget, before it is sent.
   * Throws RetryLaterError(E_RATE_LIMITED) when it is spent.
   */
  chargeAnswer(subject: string, bytes: number): Promise<void> {
    return this.consume('sync-answers', 'E_RATE_LIMITED', [[this.answerSubject, subject]], bytes);
  }
}
