/**
 * Helpers of priceCart (protocol/pricing.ts): integer rounding, a tiny money formatter, and the
 * promotion and coupon engine. Pure; the rules themselves are described in pricing.ts.
 */
import type { Coupon, PricingInput, PromotionEffect } from './pricing-types.ts';
import type { Warning } from './schema.ts';

/** n / d rounded half up, in integers (n ≥ 0, d > 0): no float ever reaches an output. */
export function divRoundHalfUp(n: number, d: number): number {
  return Math.floor((2 * n + d) / (2 * d));
}

export function percentOf(amount: number, percent: number): number {
  return divRoundHalfUp(amount * percent, 100);
}

/** A non-negative safe integer, or null: prices and amounts that are not are treated as absent. */
export function minorUnits(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null;
}

/** Like minorUnits, but 0 for anything invalid (an effect with a bad amount takes nothing off). */
function count(value: unknown): number {
  return minorUnits(value) ?? 0;
}

/** "$89.99" for USD, "89.99 EUR" otherwise; always two decimals (amount ≥ 0). */
export function formatMoney(amount: number, currency: string): string {
  const text = `${Math.floor(amount / 100)}.${String(amount % 100).padStart(2, '0')}`;
  return currency === 'USD' ? `$${text}` : `${text} ${currency}`;
}

/** A priced line as discounts see it; `discount` grows as effects apply and never exceeds `gross`. */
export interface DiscountLine {
  sku: string;
  category: string;
  unitPrice: number;
  quantity: number;
  gross: number;
  discount: number;
}

export type CouponReason =
  | 'unknown'
  | 'not_started'
  | 'expired'
  | 'usage_limit'
  | 'currency'
  | 'no_matching_items'
  | 'below_threshold';

const REASON_TEXT: Record<CouponReason, string> = {
  unknown: "doesn't exist",
  not_started: "isn't active yet",
  expired: 'has expired',
  usage_limit: 'has reached its usage limit',
  currency: "can't be used with this cart's currency",
  no_matching_items: "doesn't apply to any item in your cart",
  below_threshold: "needs more in your cart before it applies",
};

/** `minimum`: the cartOver threshold a cart fell short of, for a more helpful message. */
function couponWarning(code: string, reason: CouponReason, minimum: string | null): Warning {
  const message = minimum ? `Coupon ${code} applies to orders of ${minimum} or more.` : `Coupon ${code} ${REASON_TEXT[reason]}.`;
  return { code: 'COUPON_NOT_APPLICABLE', message, data: { code, reason } };
}

type Window = { startsAt: number | null; endsAt: number | null };

/** Active on [startsAt, endsAt): a promotion ending at 12:00 is over at 12:00. */
function windowReason(w: Window, now: number): 'not_started' | 'expired' | null {
  if (w.startsAt !== null && now < w.startsAt) return 'not_started';
  if (w.endsAt !== null && now >= w.endsAt) return 'expired';
  return null;
}

function couponBlocker(coupon: Coupon, input: PricingInput): CouponReason | null {
  if (coupon.currency !== input.currency) return 'currency';
  const window = windowReason(coupon, input.now);
  if (window) return window;
  if (coupon.usageLimit !== null && coupon.used >= coupon.usageLimit) return 'usage_limit';
  return null;
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const isCartLevel = (e: PromotionEffect): boolean => e.kind !== 'buy_x_get_y' && 'cartOver' in e.target;

/** Takes up to `amount` off a line, never past its gross. */
function take(line: DiscountLine, amount: number): void {
  line.discount += Math.min(amount, line.gross - line.discount);
}

/**
 * Applies one line-level effect. Returns why it did not apply (a coupon reports it), or null.
 * Percent comes off what is left of the line after earlier effects, so stacking compounds.
 */
function applyLineEffect(effect: PromotionEffect, lines: DiscountLine[]): CouponReason | null {
  if (effect.kind === 'buy_x_get_y') return applyBuyXGetY(effect, lines);
  const target = effect.target;
  const matching = lines.filter((l) => ('sku' in target ? l.sku === target.sku : 'category' in target && l.category === target.category));
  if (matching.length === 0) return 'no_matching_items';
  for (const line of matching) {
    if (effect.kind === 'percent_off') take(line, percentOf(line.gross - line.discount, Math.min(100, count(effect.percent))));
    else take(line, count(effect.amount) * line.quantity);
  }
  return null;
}

type BuyXGetY = Extract<PromotionEffect, { kind: 'buy_x_get_y' }>;

/**
 * Every full `buyQuantity` units of buySku earn `getQuantity` units of getSku at percentOff. With one
 * SKU for both, a unit is either bought or got: groups of buy+get, plus a last partial get. The
 * cheapest get units are discounted first (ties: input order), across every line of getSku.
 */
function applyBuyXGetY(effect: BuyXGetY, lines: DiscountLine[]): CouponReason | null {
  const buy = Math.max(1, count(effect.buyQuantity));
  const get = count(effect.getQuantity);
  const units = (sku: string): number => lines.reduce((n, l) => (l.sku === sku ? n + l.quantity : n), 0);
  const bought = units(effect.buySku);
  const gettable = units(effect.getSku);
  if (bought === 0 || gettable === 0) return 'no_matching_items';
  let free: number;
  if (effect.buySku === effect.getSku) {
    const group = buy + get;
    free = Math.floor(bought / group) * get + Math.max(0, (bought % group) - buy);
  } else {
    free = Math.min(Math.floor(bought / buy) * get, gettable);
  }
  if (free === 0) return 'below_threshold';
  const percent = Math.min(100, count(effect.percentOff));
  // A stable sort keeps input order among equal prices.
  const targets = lines.filter((l) => l.sku === effect.getSku).sort((a, b) => a.unitPrice - b.unitPrice);
  for (const line of targets) {
    const n = Math.min(free, line.quantity);
    take(line, percentOf(n * line.unitPrice, percent));
    free -= n;
    if (free === 0) break;
  }
  return null;
}

/**
 * Applies the active automatic promotions (sorted by id), then the cart's coupons (sorted by code),
 * to the priced lines (mutating their `discount`). Line-level effects all go first; cart-level
 * (`cartOver`) effects then apply once each to what is left, if the cart after line discounts
 * reaches their threshold. Returns the cart-level discount and one warning per coupon that did not
 * apply, in code order.
 */
export function applyOffers(input: PricingInput, lines: DiscountLine[]): { cartDiscount: number; warnings: Warning[] } {
  const offers: Array<{ effect: PromotionEffect; code: string | null }> = input.rules.promotions
    .filter((p) => p.currency === input.currency && windowReason(p, input.now) === null)
    .sort((a, b) => byString(a.id, b.id))
    .map((p) => ({ effect: p.effect, code: null }));
  const failed = new Map<string, { reason: CouponReason; minimum: string | null }>();
  for (const code of [...new Set(input.coupons)].sort(byString)) {
    const coupon = input.rules.coupons.find((c) => c.code.toUpperCase() === code.toUpperCase());
    const reason = coupon ? couponBlocker(coupon, input) : 'unknown';
    if (coupon && reason === null) offers.push({ effect: coupon.effect, code });
    else failed.set(code, { reason: reason ?? 'unknown', minimum: null });
  }

  for (const { effect, code } of offers) {
    if (isCartLevel(effect)) continue;
    const reason = applyLineEffect(effect, lines);
    if (reason && code !== null) failed.set(code, { reason, minimum: null });
  }

  const afterLines = lines.reduce((n, l) => n + l.gross - l.discount, 0);
  let left = afterLines;
  for (const { effect, code } of offers) {
    if (effect.kind === 'buy_x_get_y' || !('cartOver' in effect.target)) continue;
    const threshold = count(effect.target.cartOver);
    if (afterLines < threshold) {
      if (code !== null) failed.set(code, { reason: 'below_threshold', minimum: formatMoney(threshold, input.currency) });
      continue;
    }
    const off = effect.kind === 'percent_off' ? percentOf(left, Math.min(100, count(effect.percent))) : count(effect.amount);
    left -= Math.min(off, left);
  }

  const warnings = [...failed].sort(([a], [b]) => byString(a, b)).map(([code, f]) => couponWarning(code, f.reason, f.minimum));
  return { cartDiscount: afterLines - left, warnings };
}
