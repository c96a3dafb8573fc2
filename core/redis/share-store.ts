/**
 * Share codes and grants (co-browsing, protocol/SPEC.md §2): a code is a key holding its cart and
 * grant, expiring with the code, and redeemed with GETDEL, so of two redeems of one code exactly
 * one gets it. The grant is a key of its own (its cart), kept as long as the code and the token a
 * redeem mints can live, so the customer can revoke it before or after it is redeemed.
 */
import { randomBytes, randomInt } from 'node:crypto';
import type { RedisClient } from './connect.ts';
import { Keys } from '../keys.ts';

/** Characters of a share code: no 0/O, 1/I/L, so a code read out or typed from a screen is not misread. */
export const SHARE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
export const SHARE_CODE_LENGTH = 6;
/** Codes drawn before giving up on a free one (a collision is one in ~9e8 per live code). */
const CODE_ATTEMPTS = 5;

export interface ShareRecord {
  cartId: string;
  grantId: string;
  /** When the code stops being redeemable (ms since the epoch). */
  expiresAt: number;
}

export interface GrantRecord {
  cartId: string;
  code: string;
}

function newCode(): string {
  let code = '';
  for (let i = 0; i < SHARE_CODE_LENGTH; i++) code += SHARE_ALPHABET[randomInt(SHARE_ALPHABET.length)];
  return code;
}

export class ShareStore {
  private readonly keys: Keys;
  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.keys = new Keys(prefix);
  }

  /**
   * A new code for `cartId`, redeemable for `ttlMs`; its grant is kept `ttlMs + grantTtlMs` (until
   * the last token it can mint expires). Throws when no free code was found (never in practice).
   */
  async create(cartId: string, ttlMs: number, grantTtlMs: number): Promise<ShareRecord & { code: string }> {
    const grantId = randomBytes(16).toString('base64url');
    const expiresAt = Date.now() + ttlMs;
    for (let attempt = 0; attempt < CODE_ATTEMPTS; attempt++) {
      const code = newCode();
      const record: ShareRecord = { cartId, grantId, expiresAt };
      const set = await this.redis.set(this.keys.shareCode(code), JSON.stringify(record), 'PX', ttlMs, 'NX');
      if (set !== 'OK') continue;
      await this.redis.set(this.keys.shareGrant(grantId), JSON.stringify({ cartId, code } satisfies GrantRecord), 'PX', ttlMs + grantTtlMs);
      return { ...record, code };
    }
    throw new Error('no free share code');
  }

  /** Take the code (atomically: it is gone once this answers); null when unknown, expired or used. */
  async redeem(code: string): Promise<ShareRecord | null> {
    const raw = await this.redis.getdel(this.keys.shareCode(code));
    if (raw === null) return null;
    const record = JSON.parse(raw) as ShareRecord;
    return record.expiresAt > Date.now() ? record : null;
  }

  /** The grant and how long it is kept still (ms), or null when unknown or expired. */
  async grant(grantId: string): Promise<(GrantRecord & { keepMs: number }) | null> {
    const key = this.keys.shareGrant(grantId);
    const [raw, keepMs] = await Promise.all([this.redis.get(key), this.redis.pttl(key)]);
    if (raw === null || keepMs <= 0) return null;
    return { ...(JSON.parse(raw) as GrantRecord), keepMs };
  }

  /** Drop the grant's code, if not redeemed yet (a revoked grant's code must not be redeemed). */
  async dropCode(code: string): Promise<void> {
    await this.redis.del(this.keys.shareCode(code));
  }
}
