/**
 * Revocations of two kinds, one mechanism: sign-out everywhere (POST /v1/auth/revoke: every token
 * of a subject issued until now stops working) and a withdrawn share grant (DELETE
 * /v1/carts/:cartId/shares/:grantId: every token carrying that `grant` claim stops working). The revocation is a Redis key per subject holding its time, kept as long as any token
 * issued before it could live, and checked at every entry point (token verification, joins); a
 * pub/sub notice tells every node at once, which cuts the subject's open sessions and remembers the
 * revocation to refuse their messages. A node whose subscription dropped re-checks its sessions
 * against Redis once it is back (notices sent meanwhile are lost).
 */
import type { RedisClient } from '../core/redis/connect.ts';
import { whenResubscribed } from '../core/redis/resubscribe.ts';
import { CartError } from '../protocol/index.ts';
import { Keys } from '../core/keys.ts';
import type { Logger } from '../core/log.ts';

/** The longest a livecart token can live (admin-minted ones): a revocation is kept this long. */
export const MAX_TOKEN_TTL_MS = 366 * 24 * 3600 * 1000;

/** What a revocation looks at in a verified token. */
export interface Revocable {
  subject: string;
  /** When the token was issued (ms since the epoch). */
  issuedAt: number;
  /** The share grant the token carries (associates' tokens), or null. */
  grant: string | null;
}

/** One revocation as announced to every node: of a subject's tokens issued until `at`, or of a grant. */
export type Revocation = { subject: string; at: number } | { grant: string; at: number };

/** Whether `revocation` covers `token`. */
export function covers(revocation: Revocation, token: Revocable): boolean {
  if ('grant' in revocation) return token.grant === revocation.grant;
  return token.subject === revocation.subject && token.issuedAt <= revocation.at;
}

export class Revocations {
  private readonly keys: Keys;
  /** Revocations this node heard of: subject → time. Pruned once no token they cover can be alive. */
  private readonly known = new Map<string, number>();
  /** Grants this node heard were revoked: grant id → until when the revocation matters (ms). */
  private readonly knownGrants = new Map<string, number>();

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
    private readonly log: Logger,
  ) {
    this.keys = new Keys(prefix);
  }

  /** Revoke every token of `subject` issued until now; every node is told. Returns the revocation time. */
  async revoke(subject: string): Promise<number> {
    const at = Date.now();
    await this.redis.set(this.keys.revoked(subject), String(at), 'PX', MAX_TOKEN_TTL_MS);
    this.remember(subject, at);
    await this.redis.publish(this.keys.revokedChannel, JSON.stringify({ subject, at }));
    return at;
  }

  /**
   * Revoke share grant `grantId` (no token carrying it works any more); kept for `keepMs`, as long
   * as a token carrying it can live. Every node is told.
   */
  async revokeGrant(grantId: string, keepMs: number): Promise<number> {
    const at = Date.now();
    await this.redis.set(this.keys.revokedGrant(grantId), String(at), 'PX', keepMs);
    this.rememberGrant(grantId, at + keepMs);
    await this.redis.publish(this.keys.revokedChannel, JSON.stringify({ grant: grantId, at, until: at + keepMs }));
    return at;
  }

  /** Whether grant `grantId` was revoked (one Redis read; a Redis failure throws). */
  async grantRevoked(grantId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.revokedGrant(grantId))) === 1 || this.knownGrants.has(grantId);
  }

  /**
   * Throws E_AUTH_REVOKED when `token` was revoked (one Redis read; two for a grant token). While Redis cannot answer,
   * only the revocations this node heard of count: an outage must not lock every device out (their
   * next entry once Redis is back is checked again, and sessions were cut when the notice came).
   */
  async check(token: Revocable): Promise<void> {
    try {
      if (token.grant === null) {
        const stored = await this.redis.get(this.keys.revoked(token.subject));
        if (stored !== null) this.remember(token.subject, Number(stored));
      } else {
        const [subject, grant] = await Promise.all([this.redis.get(this.keys.revoked(token.subject)), this.redis.pttl(this.keys.revokedGrant(token.grant))]);
        if (subject !== null) this.remember(token.subject, Number(subject));
        if (grant > 0) this.rememberGrant(token.grant, Date.now() + grant);
      }
    } catch (err) {
      this.log.debug('revocation not read: Redis did not answer', { err });
    }
    if (this.revoked(token)) throw new CartError('E_AUTH_REVOKED');
  }

  /** Whether this node knows `token` was revoked (no I/O: checked on every message of a session). */
  revoked(token: Revocable): boolean {
    if (token.grant !== null && this.knownGrants.has(token.grant)) return true;
    const at = this.known.get(token.subject);
    return at !== undefined && token.issuedAt <= at;
  }

  private rememberGrant(grantId: string, until: number): void {
    if (!Number.isFinite(until)) return;
    this.knownGrants.set(grantId, Math.max(until, this.knownGrants.get(grantId) ?? 0));
    const now = Date.now();
    for (const [g, t] of this.knownGrants) if (t < now) this.knownGrants.delete(g);
  }

  private remember(subject: string, at: number): void {
    if (!Number.isFinite(at) || (this.known.get(subject) ?? -1) >= at) return;
    this.known.set(subject, at);
    const old = Date.now() - MAX_TOKEN_TTL_MS;
    for (const [s, t] of this.known) if (t < old) this.known.delete(s);
  }

  /**
   * Listen for revocations on `subscriber` (a connection in subscriber mode). `cut(revocation)`
   * ends the sessions it covers on this node; `recheck()` runs once the subscription is back
   * after a loss, to catch revocations announced meanwhile.
   */
  async subscribe(subscriber: RedisClient, cut: (revocation: Revocation) => void, recheck: () => void): Promise<void> {
    const channel = this.keys.revokedChannel;
    whenResubscribed(subscriber, channel, recheck);
    subscriber.on('message', (ch: string, message: string) => {
      if (ch !== channel) return;
      try {
        const { subject, grant, at, until } = JSON.parse(message) as { subject?: unknown; grant?: unknown; at?: unknown; until?: unknown };
        if (typeof at !== 'number') return;
        if (typeof grant === 'string' && typeof until === 'number') {
          this.rememberGrant(grant, until);
          cut({ grant, at });
        } else if (typeof subject === 'string') {
          this.remember(subject, at);
          cut({ subject, at });
        }
      } catch (err) {
        this.log.warn('malformed revocation notice', { err });
      }
    });
    await subscriber.subscribe(channel);
  }

  /** Which of `grants` were revoked, per Redis (a re-check after a lost notice). */
  async storedGrants(grants: string[]): Promise<string[]> {
    if (grants.length === 0) return [];
    // One command per key: on Redis Cluster the keys live in different slots, and a pipeline
    // must stay within one.
    const ttls = await Promise.all(grants.map((g) => this.redis.pttl(this.keys.revokedGrant(g))));
    return grants.filter((g, i) => {
      const ttl = ttls[i] ?? -2;
      if (ttl > 0) this.rememberGrant(g, Date.now() + ttl);
      return ttl > 0;
    });
  }

  /** Which of `subjects` have a revocation in Redis, with its time. */
  async stored(subjects: string[]): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    if (subjects.length === 0) return found;
    // One GET per subject: on Redis Cluster the keys live in different slots, and a pipeline must
    // stay within one.
    const values = await Promise.all(subjects.map((subject) => this.redis.get(this.keys.revoked(subject))));
    values.forEach((v, i) => {
      const subject = subjects[i];
      if (v !== null && subject !== undefined) {
        this.remember(subject, Number(v));
        found.set(subject, Number(v));
      }
    });
    return found;
  }
}
