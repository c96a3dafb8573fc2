/**
 * The atomic steps of a cart's status and ownership in its meta hash (`{cartId}:meta`, which lives
 * and expires with the cart): a merge's claim on a guest cart, and a cart's owner. The statuses
 * and their transitions are protocol/cart-status.ts; the document's status fact is written through
 * the cart's log, by the append that also moves the meta hash (appendUpdate-4.lua).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RedisClient } from './connect.ts';
import { Keys } from '../keys.ts';

const lua = (name: string): string => readFileSync(new URL(`./lua/${name}`, import.meta.url), 'utf8');

const SCRIPTS = {
  claimMerge: { numberOfKeys: 1, lua: lua('claimMerge-1.lua') },
  adoptCart: { numberOfKeys: 1, lua: lua('adoptCart-1.lua') },
} as const;

type Reply = Array<number | string | null>;

interface ScriptedRedis {
  claimMerge(meta: string, target: string, subject: string, lock: string, now: number, leaseMs: number): Promise<Reply>;
  adoptCart(meta: string, subject: string): Promise<Reply>;
}

export type MergeClaim =
  | { kind: 'claimed'; lock: string }
  | { kind: 'gone' }
  | { kind: 'merged'; mergedInto: string }
  | { kind: 'busy'; mergedInto: string }
  | { kind: 'owned' }
  | { kind: 'closed'; status: string };

export type Adoption = { kind: 'adopted' } | { kind: 'gone' } | { kind: 'owned' } | { kind: 'closed'; status: string };

export class CartStatusStore {
  private readonly redis: RedisClient & ScriptedRedis;
  private readonly keys: Keys;

  constructor(redis: RedisClient, prefix: string) {
    const r = redis as RedisClient & Partial<ScriptedRedis>;
    if (typeof r.claimMerge !== 'function') for (const [name, def] of Object.entries(SCRIPTS)) redis.defineCommand(name, def);
    this.redis = redis as RedisClient & ScriptedRedis;
    this.keys = new Keys(prefix);
  }

  /**
   * Claim `cartId` for a merge into `target` by `subject`, for `leaseMs` (see claimMerge-1.lua).
   * Only one exchange at a time holds it, so a guest cart is never merged twice at once.
   */
  async claimMerge(cartId: string, target: string, subject: string, leaseMs: number): Promise<MergeClaim> {
    const lock = randomBytes(12).toString('base64url');
    const [code, value] = await this.redis.claimMerge(this.keys.cart(cartId).meta, target, subject, lock, Date.now(), leaseMs);
    switch (Number(code)) {
      case 1:
        return { kind: 'claimed', lock };
      case 0:
        return { kind: 'gone' };
      case 2:
        return { kind: 'merged', mergedInto: String(value ?? '') };
      case 3:
        return { kind: 'busy', mergedInto: String(value ?? '') };
      case 4:
        return { kind: 'owned' };
      default:
        return { kind: 'closed', status: String(value ?? '') };
    }
  }

  /** Record `subject` as the owner of `cartId` (see adoptCart-1.lua). */
  async adopt(cartId: string, subject: string): Promise<Adoption> {
    const [code, value] = await this.redis.adoptCart(this.keys.cart(cartId).meta, subject);
    switch (Number(code)) {
      case 1:
        return { kind: 'adopted' };
      case 0:
        return { kind: 'gone' };
      case 2:
        return { kind: 'owned' };
      default:
        return { kind: 'closed', status: String(value ?? '') };
    }
  }

  /** The cart's owner (null: nobody's, or no such cart). */
  async owner(cartId: string): Promise<string | null> {
    return this.redis.hget(this.keys.cart(cartId).meta, 'owner');
  }

  /** The cart's status as the meta hash holds it (`open` when it holds none), or null for no such cart. */
  async status(cartId: string): Promise<{ status: string; mergedInto: string | null } | null> {
    const [version, status, mergedInto] = await this.redis.hmget(this.keys.cart(cartId).meta, 'version', 'status', 'mergedInto');
    if (Number(version ?? 0) === 0) return null;
    return { status: status ?? 'open', mergedInto: status === 'merged' ? (mergedInto ?? null) : null };
  }
}
