/**
 * Revalidation: re-price and re-check stock of one cart, and write what changed as a server change
 * through the cart log, so every device sees the corrected prices. The job loads the latest state when it
 * runs, so one job answers for a whole burst of edits; BullMQ deduplication keeps it to one running
 * job per cart. A run on an unchanged cart writes nothing.
 */
import type { Job } from 'bullmq';
import type { RedisClient } from '../core/redis/connect.ts';
import * as Y from 'yjs';
import {
  type CartLimits,
  type LineFacts,
  type PricingInput,
  type PricingRules,
  type ProductFacts,
  captureChange,
  collectLine,
  lineRecordIds,
  liveLineIds,
  pricingBasis,
  readCart,
  roots,
  setQuantity,
  writeCartFacts,
} from '../protocol/index.ts';
import { priceCart } from '../protocol/pricing.ts';
import type { Logger } from '../core/log.ts';
import type { WorkerMetrics } from '../core/metrics.ts';
import type { Queues, RevalidateJob } from '../core/queues.ts';
import type { CartStore } from '../core/redis/cart-store.ts';
import { applyLog, entriesOf, headOf } from '../core/cart/apply-log.ts';
import { appendedAsThisProcess, writeAsThisProcess } from '../core/cart/writer-id.ts';
import { publishCartChanged } from '../core/revalidation/notify.ts';
import type { SkuIndex } from '../core/revalidation/sku-index.ts';

export interface RevalidateDeps {
  store: CartStore;
  redis: RedisClient;
  keyPrefix: string;
  index: SkuIndex;
  queues: Queues;
  /** Product facts (price, stock) for SKUs; entries null for unknown SKUs, parts null when unverified. */
  lookup(skus: string[], currency: string): Promise<ReadonlyMap<string, ProductFacts | null>>;
  rules(): Promise<PricingRules>;
  limits: CartLimits;
  emptyCartTtlMs: number;
  cartTtlMs: number;
  /** How long to wait before re-checking a cart whose facts could not be verified. */
  unverifiedRetryMs: number;
  /** How long a removed line's records are kept (so the removal wins over adds made offline before it) before they are collected. */
  removedLineGraceMs: number;
  metrics: WorkerMetrics;
  log: Logger;
}

export type RevalidationOutcome =
  | { status: 'gone' }
  | { status: 'closed'; version: number }
  | { status: 'unchanged' | 'corrected'; version: number; unverified: boolean; clamped: number };

/** Attempts when the cart changes between reading it and appending the correction. */
const MAX_ATTEMPTS = 8;

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function skusOf(lineIds: Iterable<string>): string[] {
  return [...new Set([...lineIds].map((id) => id.split('?')[0] ?? id))].sort();
}

/** Revalidate `cartId` now. */
export async function revalidateCart(deps: RevalidateDeps, cartId: string, now = Date.now()): Promise<RevalidationOutcome> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const loaded = await deps.store.load(cartId, 0);
    if (loaded.version === 0) {
      await deps.index.forget(cartId);
      return { status: 'gone' };
    }
    // A guid given: Yjs would otherwise draw a uuid, 31 random numbers from the OS, per job.
    const doc = new Y.Doc({ gc: true, guid: cartId });
    try {
      applyLog(doc, entriesOf(loaded), null, (version, err) => deps.log.error('revalidation skipped a log entry that cannot be applied', { cartId, version, err }));
      writeAsThisProcess(doc);
      const r = roots(doc);
      const view = readCart(doc, deps.limits);
      if (view.status !== 'open') {
        await deps.store.markRevalidated(cartId, loaded.version);
        return { status: 'closed', version: loaded.version };
      }
      const previousSkus = skusOf(r.facts.keys());
      const skus = [...new Set(view.lines.map((l) => l.sku))].sort();
      const currency = view.currency ?? 'USD';
      const [products, rules] = await Promise.all([deps.lookup(skus, currency), deps.rules()]);
      const input: PricingInput = {
        currency,
        segment: (r.cart.get('segment') as string | undefined) ?? null,
        // The server's region (a token claim), never a cart attribute: a customer writes those.
        region: (r.cart.get('region') as string | undefined) ?? null,
        now,
        // Raw facts, not the view's: the view hides facts priced for another quantity.
        lines: view.lines.map((l) => {
          const facts = r.facts.get(l.lineId);
          return { lineId: l.lineId, sku: l.sku, quantity: l.quantity, addedPrice: facts?.addedPrice?.amount ?? null, lastUnitPrice: facts?.unitPrice?.amount ?? null };
        }),
        coupons: view.coupons,
        products,
        rules,
      };
      const priced = priceCart(input);

      let clamped = 0;
      const { update } = captureChange(doc, () => {
        const live = new Set(priced.lines.map((l) => l.lineId));
        for (const line of priced.lines) {
          if (line.clampedFrom !== null) {
            setQuantity(doc, line.lineId, line.quantity);
            clamped += 1;
          }
          if (!same(r.facts.get(line.lineId), line.facts)) r.facts.set(line.lineId, line.facts as LineFacts);
        }
        for (const lineId of [...r.facts.keys()]) if (!live.has(lineId)) r.facts.delete(lineId);
        collectRemovedLines(doc, live, now, deps.removedLineGraceMs);
        writeCartFacts(doc, { totals: priced.totals, warnings: priced.warnings, pricedFor: pricingBasis(doc, deps.limits.maxQuantity) });
      });
      const unverified = priced.warnings.some((w) => w.code === 'FACTS_UNVERIFIED');
      let version = loaded.version;
      if (update !== null) {
        const hasLines = liveLineIds(doc, deps.limits.maxQuantity).size > 0;
        const res = await deps.store.append(cartId, headOf(loaded), update, 'worker', hasLines ? deps.cartTtlMs : deps.emptyCartTtlMs);
        // The cart stopped taking changes meanwhile (merged at a sign-in): nothing to price.
        if (!res.appended && res.closed !== undefined) return { status: 'closed', version: res.version };
        // The cart changed while it was being priced: price the latest state instead.
        if (!res.appended) continue;
        appendedAsThisProcess(doc);
        version = res.version;
        await publishCartChanged(deps.redis, deps.keyPrefix, cartId, version);
      }
      await Promise.all([deps.store.markRevalidated(cartId, version), deps.index.update(cartId, skus, previousSkus)]);
      return { status: version === loaded.version ? 'unchanged' : 'corrected', version, unverified, clamped };
    } finally {
      doc.destroy();
    }
  }
  throw new Error(`cart ${cartId} kept changing while it was revalidated (${MAX_ATTEMPTS} attempts)`);
}

/**
 * Notes when each removed line (records, no quantity) was first seen removed, and collects those
 * removed for `graceMs`: their records are deleted, so they stop counting against the limits.
 * Until then a removal still wins over an add made offline before it (SPEC §4).
 */
function collectRemovedLines(doc: Y.Doc, live: ReadonlySet<string>, now: number, graceMs: number): void {
  const { cart } = roots(doc);
  const before = (cart.get('removedLines') as Record<string, number> | undefined) ?? {};
  const kept: Record<string, number> = {};
  for (const lineId of [...lineRecordIds(doc)].sort()) {
    if (live.has(lineId)) continue;
    const since = typeof before[lineId] === 'number' ? before[lineId] : now;
    if (now - since >= graceMs) collectLine(doc, lineId);
    else kept[lineId] = since;
  }
  if (!same(before, kept)) cart.set('removedLines', kept);
}

/** The BullMQ processor: revalidate, record the lag, and re-check later when facts were unverified. */
export function revalidateProcessor(deps: RevalidateDeps): (job: Job<RevalidateJob>) => Promise<RevalidationOutcome> {
  return async (job) => {
    const outcome = await revalidateCart(deps, job.data.cartId);
    if (outcome.status === 'corrected' || outcome.status === 'unchanged') {
      if (!job.data.recheck) deps.metrics.lag(Math.max(0, Date.now() - job.data.since) / 1000);
      if (outcome.status === 'corrected') deps.metrics.corrections();
      if (outcome.unverified) await deps.queues.requestRevalidation(job.data.cartId, Date.now(), deps.unverifiedRetryMs, true);
    }
    return outcome;
  };
}
