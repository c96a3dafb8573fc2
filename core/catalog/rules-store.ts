/**
 * Pricing rules in Redis: one hash per rule kind (field: the rule's identity, value: its JSON) and a
 * version counter that every change increments in the same MULTI. Readers cache the whole rule set
 * and re-read it only when the version moved (one GET per check instead of six HGETALLs).
 *
 * Keys share the hash tag `{rules}` so the MULTIs stay valid on Redis Cluster.
 */
import { readFileSync } from 'node:fs';
import type { RedisClient } from '../redis/connect.ts';
import { Keys } from '../keys.ts';
import type { Coupon, PriceList, PricingRules, Promotion, ShippingRule, TaxRule, VolumeTier } from '../../protocol/index.ts';

export type RuleKind = keyof PricingRules;
export type RuleOf<K extends RuleKind> = PricingRules[K][number];

export const RULE_KINDS: readonly RuleKind[] = ['priceLists', 'volumeTiers', 'promotions', 'coupons', 'taxRules', 'shipping'];

/** The fields that identify a rule of each kind (a PUT with the same identity replaces it). */
export interface RuleIdentity {
  priceLists: Pick<PriceList, 'segment' | 'currency'>;
  volumeTiers: Pick<VolumeTier, 'sku' | 'currency' | 'minQuantity'>;
  promotions: Pick<Promotion, 'id'>;
  coupons: Pick<Coupon, 'code'>;
  taxRules: Pick<TaxRule, 'region'>;
  shipping: Pick<ShippingRule, 'currency'>;
}

/** Hash field of a rule. Segments, SKUs and currencies never contain ':' (the admin API checks). */
const FIELD_OF: { [K in RuleKind]: (id: RuleIdentity[K]) => string } = {
  priceLists: (r) => `${r.segment}:${r.currency}`,
  volumeTiers: (r) => `${r.sku}:${r.currency}:${r.minQuantity}`,
  promotions: (r) => r.id,
  coupons: (r) => r.code.toUpperCase(),
  taxRules: (r) => r.region,
  shipping: (r) => r.currency,
};

export function ruleField<K extends RuleKind>(kind: K, id: RuleIdentity[K]): string {
  return FIELD_OF[kind](id);
}

export interface VersionedRules {
  version: number;
  rules: PricingRules;
}

export function loadRulesSeed(): Partial<PricingRules> {
  return JSON.parse(readFileSync(new URL('./rules-seed.json', import.meta.url), 'utf8')) as Partial<PricingRules>;
}

function parseHash<T>(pairs: unknown): T[] {
  const entries = Object.entries((pairs ?? {}) as Record<string, string>);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.map(([, json]) => JSON.parse(json) as T);
}

function execResults(replies: Array<[Error | null, unknown]> | null): unknown[] {
  if (replies === null) throw new Error('rules transaction aborted');
  return replies.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

export class RulesStore {
  private readonly keys: Record<RuleKind, string>;
  private readonly versionKey: string;
  private cache: VersionedRules | null = null;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    const keys = new Keys(prefix);
    this.keys = Object.fromEntries(RULE_KINDS.map((k) => [k, keys.rules(k)])) as Record<RuleKind, string>;
    this.versionKey = keys.rulesVersion;
  }

  /** Every rule, sorted by identity within each kind. One round trip. */
  async get(): Promise<PricingRules> {
    return (await this.read()).rules;
  }

  /** The rules and the version they are at, read atomically (MULTI). */
  async read(): Promise<VersionedRules> {
    const multi = this.redis.multi().get(this.versionKey);
    for (const kind of RULE_KINDS) multi.hgetall(this.keys[kind]);
    const [version, ...hashes] = execResults(await multi.exec());
    const rules = Object.fromEntries(RULE_KINDS.map((kind, i) => [kind, parseHash(hashes[i])])) as unknown as PricingRules;
    return { version: Number(version ?? 0), rules };
  }

  async version(): Promise<number> {
    return Number((await this.redis.get(this.versionKey)) ?? 0);
  }

  /**
   * The rules, re-read only when the version moved since the last read: one GET when nothing
   * changed. The returned object is shared between callers: do not mutate it.
   */
  async getCached(): Promise<PricingRules> {
    const cached = this.cache;
    if (cached !== null && (await this.version()) === cached.version) return cached.rules;
    const fresh = await this.read();
    if (this.cache === null || fresh.version >= this.cache.version) this.cache = fresh;
    return fresh.rules;
  }

  /** Create or replace a rule; returns the rule it replaced (null: created). One round trip. */
  async upsert<K extends RuleKind>(kind: K, rule: RuleOf<K>): Promise<RuleOf<K> | null> {
    const stored = kind === 'coupons' ? { ...(rule as Coupon), code: (rule as Coupon).code.toUpperCase() } : rule;
    const field = FIELD_OF[kind](stored as RuleIdentity[K]);
    const [before] = execResults(
      await this.redis.multi().hget(this.keys[kind], field).hset(this.keys[kind], field, JSON.stringify(stored)).incr(this.versionKey).exec(),
    );
    return typeof before === 'string' ? (JSON.parse(before) as RuleOf<K>) : null;
  }

  /** Remove a rule; returns it (null: there was none). One round trip. */
  async remove<K extends RuleKind>(kind: K, id: RuleIdentity[K]): Promise<RuleOf<K> | null> {
    const field = FIELD_OF[kind](id);
    // The version moves even when nothing was removed: a spurious re-read is cheaper than a script.
    const [before] = execResults(await this.redis.multi().hget(this.keys[kind], field).hdel(this.keys[kind], field).incr(this.versionKey).exec());
    return typeof before === 'string' ? (JSON.parse(before) as RuleOf<K>) : null;
  }

  /** The stored rule with this identity, or null. */
  async find<K extends RuleKind>(kind: K, id: RuleIdentity[K]): Promise<RuleOf<K> | null> {
    const raw = await this.redis.hget(this.keys[kind], FIELD_OF[kind](id));
    return raw === null ? null : (JSON.parse(raw) as RuleOf<K>);
  }

  /** Store `rules` only when no rule was ever stored (the version key is absent). */
  async seedIfEmpty(rules: Partial<PricingRules>): Promise<boolean> {
    // SET NX claims the seed, so two nodes starting at once do not both seed.
    const claimed = await this.redis.set(this.versionKey, '0', 'NX');
    if (claimed !== 'OK') return false;
    const multi = this.redis.multi();
    for (const kind of RULE_KINDS) {
      const list = (rules[kind] ?? []) as Array<RuleOf<typeof kind>>;
      if (list.length === 0) continue;
      const normalized = kind === 'coupons' ? (list as Coupon[]).map((c) => ({ ...c, code: c.code.toUpperCase() })) : list;
      multi.hset(this.keys[kind], Object.fromEntries(normalized.map((r) => [FIELD_OF[kind](r as never), JSON.stringify(r)])));
    }
    multi.incr(this.versionKey);
    execResults(await multi.exec());
    return true;
  }
}
