/**
 * Pricing: the facts of a cart (line prices, discounts, stock, totals, warnings) from its intent and
 * what the catalog and the pricing rules say. Pure and deterministic: no I/O, no clock (`input.now`),
 * only `Map.get` on the products map, rules sorted where their order could matter.
 *
 * Money is integer minor units of `input.currency`; every Money out carries that currency. Percent
 * and tax math rounds half up in integers. No amount is ever negative: a line's discount never
 * exceeds its gross, the cart's discount never exceeds the subtotal.
 *
 * Per line, in input order (one output line per input line):
 * - Unknown SKU (missing or null product): UNKNOWN_SKU; no prices; not priced.
 * - `prices: null` (provider down): PRICE_UNVERIFIED; the last verified unit price is shown and the
 *   line counts at it (no tiers, no PRICE_CHANGED); without one it is not priced. Cart: FACTS_UNVERIFIED.
 * - No price in the cart's currency (or an invalid one): NO_PRICE; not priced.
 * - listPrice = catalog price; unitPrice = the segment's price list price (the lowest, if several
 *   lists give one; it may be above list), then the cheapest volume tier reached if lower.
 * - Stock (checked for every known product, before tiers, which see the clamped quantity) is the
 *   SKU's, shared by its lines (one per set of options) in input order: each line can have what
 *   the earlier lines of the SKU left (`available`). null → STOCK_UNVERIFIED (+ FACTS_UNVERIFIED),
 *   no clamp, nothing taken; ≤ 0 → OUT_OF_STOCK, quantity kept, not priced (unit price still
 *   shown); nothing left by the earlier lines → OUT_OF_STOCK { available: 0, inOtherLines }, the
 *   same way; less left than the quantity → clamped to it, INSUFFICIENT_STOCK { requested,
 *   available, inOtherLines? } (inOtherLines: units the earlier lines hold, when any).
 * - PRICE_CHANGED when a verified unit price differs from `addedPrice`; facts.addedPrice keeps the
 *   first price (`addedPrice ?? unitPrice`).
 * - A priced line has discount (0 when none) and lineTotal = unitPrice × quantity − its line-level
 *   discounts; other lines have null for both. Cart-level discounts stay in the totals only.
 *
 * Promotions and coupons: see applyOffers (protocol/pricing-rules.ts). Active on [startsAt, endsAt),
 * same currency; coupons also below their usage limit. Line-level effects (sku, category,
 * buy_x_get_y) of promotions (by id) then coupons (by code) apply in turn, percent taking off what
 * is left; then cartOver effects, once each, if the cart after line discounts reaches the threshold.
 * Every cart coupon that did not apply gets one COUPON_NOT_APPLICABLE { code, reason }.
 *
 * Totals: subtotal = Σ gross of priced lines; discount = line + cart discounts; shipping (the
 * currency's first rule) = flat, 0 once subtotal − discount reaches freeOver, 0 without priced lines
 * or rule; tax (the region's first rule): exclusive = (subtotal − discount) × rate, added to the
 * total; inclusive = the part of (subtotal − discount) that is tax, not added.
 * total = subtotal − discount + shipping + exclusive tax.
 *
 * Inputs are assumed validated (quantities integers ≥ 1, as the cart schema enforces); amounts in
 * the rules are kept far below 2^53 / 10^4 so that every product stays a safe integer.
 */
import type { PricedLine, PricingInput, PricingLineInput, PricingResult, ProductFacts } from './pricing-types.ts';
import { type DiscountLine, applyOffers, divRoundHalfUp, formatMoney, minorUnits } from './pricing-rules.ts';
import type { Money, Totals, Warning } from './schema.ts';

/** One line before discounts: what priceCart needs to finish it. */
interface Draft {
  input: PricingLineInput;
  category: string;
  quantity: number;
  clampedFrom: number | null;
  listPrice: number | null;
  unitPrice: number | null;
  available: number | null;
  /** Counts in the totals. */
  priced: boolean;
  /** A provider could not be reached for this line. */
  unverified: boolean;
  /** The line's quantity comes out of the SKU's (verified, positive) stock. */
  takesStock: boolean;
  warnings: Warning[];
  discount: DiscountLine | null;
}

export function priceCart(input: PricingInput): PricingResult {
  const { currency } = input;
  const money = (amount: number): Money => ({ amount, currency });

  /** Units of each SKU taken by the lines drafted so far. */
  const held = new Map<string, number>();
  const drafts = input.lines.map((line) => {
    const draft = draftLine(input, line, held.get(line.sku) ?? 0);
    if (draft.takesStock) held.set(line.sku, (held.get(line.sku) ?? 0) + draft.quantity);
    return draft;
  });
  const discountLines: DiscountLine[] = [];
  for (const d of drafts) {
    if (!d.priced || d.unitPrice === null) continue;
    const gross = d.unitPrice * d.quantity;
    d.discount = { sku: d.input.sku, category: d.category, unitPrice: d.unitPrice, quantity: d.quantity, gross, discount: 0 };
    discountLines.push(d.discount);
  }
  const offers = applyOffers(input, discountLines);

  const lines: PricedLine[] = drafts.map((d) => {
    const added = minorUnits(d.input.addedPrice) ?? d.unitPrice;
    return {
      lineId: d.input.lineId,
      quantity: d.quantity,
      clampedFrom: d.clampedFrom,
      facts: {
        unitPrice: d.unitPrice === null ? null : money(d.unitPrice),
        listPrice: d.listPrice === null ? null : money(d.listPrice),
        discount: d.discount ? money(d.discount.discount) : null,
        lineTotal: d.discount ? money(d.discount.gross - d.discount.discount) : null,
        available: d.available,
        addedPrice: added === null ? null : money(added),
        warnings: d.warnings,
        quantity: d.quantity,
      },
    };
  });

  const warnings: Warning[] = [];
  if (drafts.some((d) => d.unverified)) {
    warnings.push({ code: 'FACTS_UNVERIFIED', message: 'Some prices or stock levels could not be checked just now; they may change.' });
  }
  warnings.push(...offers.warnings);
  return { lines, totals: totalsOf(input, discountLines, offers.cartDiscount), warnings };
}

function totalsOf(input: PricingInput, lines: DiscountLine[], cartDiscount: number): Totals {
  const money = (amount: number): Money => ({ amount, currency: input.currency });
  const subtotal = lines.reduce((n, l) => n + l.gross, 0);
  const discount = lines.reduce((n, l) => n + l.discount, 0) + cartDiscount;
  const net = subtotal - discount;

  const ship = input.rules.shipping.find((r) => r.currency === input.currency);
  const freeOver = ship ? minorUnits(ship.freeOver) : null;
  const shipping = !ship || lines.length === 0 || (freeOver !== null && net >= freeOver) ? 0 : (minorUnits(ship.flat) ?? 0);

  const rule = input.region === null ? undefined : input.rules.taxRules.find((r) => r.region === input.region);
  const rate = rule ? (minorUnits(rule.rateBps) ?? 0) : 0;
  const exclusive = rule !== undefined && !rule.inclusive;
  const tax = !rule ? 0 : exclusive ? divRoundHalfUp(net * rate, 10_000) : net - divRoundHalfUp(net * 10_000, 10_000 + rate);

  return {
    subtotal: money(subtotal),
    discount: money(discount),
    tax: money(tax),
    shipping: money(shipping),
    total: money(net + shipping + (exclusive ? tax : 0)),
  };
}

const warn = (code: string, message: string, data?: Record<string, unknown>): Warning => (data ? { code, message, data } : { code, message });

/** `held`: units of the line's SKU the earlier lines take. */
function draftLine(input: PricingInput, line: PricingLineInput, held: number): Draft {
  const draft: Draft = {
    input: line,
    category: '',
    quantity: line.quantity,
    clampedFrom: null,
    listPrice: null,
    unitPrice: null,
    available: null,
    priced: false,
    unverified: false,
    takesStock: false,
    warnings: [],
    discount: null,
  };
  const product = input.products.get(line.sku) ?? null;
  if (product === null) {
    draft.warnings.push(warn('UNKNOWN_SKU', 'We no longer sell this item.'));
    return draft;
  }

  draft.category = product.category;
  const { warnings } = draft;
  if (product.prices === null) {
    draft.unverified = true;
    draft.unitPrice = minorUnits(line.lastUnitPrice);
    warnings.push(warn('PRICE_UNVERIFIED', "We couldn't check this price just now; it may change."));
  } else {
    draft.listPrice = Object.hasOwn(product.prices, input.currency) ? minorUnits(product.prices[input.currency]) : null;
    if (draft.listPrice === null) {
      warnings.push(warn('NO_PRICE', `This item can't be bought in ${input.currency}.`, { currency: input.currency }));
    }
  }

  const inStock = checkStock(draft, product, held);

  if (draft.listPrice !== null) {
    const unitPrice = unitPriceOf(input, line.sku, draft.quantity, draft.listPrice);
    draft.unitPrice = unitPrice;
    const was = minorUnits(line.addedPrice);
    if (was !== null && was !== unitPrice) {
      const direction = unitPrice < was ? 'down' : 'up';
      const message = `Price went ${direction} from ${formatMoney(was, input.currency)} to ${formatMoney(unitPrice, input.currency)}.`;
      warnings.push(warn('PRICE_CHANGED', message, { was, now: unitPrice, change: unitPrice - was }));
    }
  }
  draft.priced = inStock && draft.unitPrice !== null;
  return draft;
}

/** Applies the stock rules to a draft, `held` units of its SKU being in earlier lines; false when none are left for it. */
function checkStock(draft: Draft, product: ProductFacts, held: number): boolean {
  const stock = product.stock === null || !Number.isFinite(product.stock) ? null : Math.max(0, Math.floor(product.stock));
  if (stock === null) {
    draft.unverified = true;
    draft.warnings.push(warn('STOCK_UNVERIFIED', "We couldn't check stock for this item just now."));
    return true;
  }
  const left = Math.max(0, stock - held);
  draft.available = left;
  if (stock === 0) {
    draft.warnings.push(warn('OUT_OF_STOCK', 'Out of stock.', { available: 0 }));
    return false;
  }
  if (left === 0) {
    const message = stock === 1 ? 'The last one is in another line of your cart.' : `The last ${stock} are in another line of your cart.`;
    draft.warnings.push(warn('OUT_OF_STOCK', message, { available: 0, inOtherLines: held }));
    return false;
  }
  draft.takesStock = true;
  const requested = draft.quantity;
  if (left < requested) {
    draft.quantity = left;
    draft.clampedFrom = requested;
    const message =
      held === 0
        ? `Only ${stock} left; we changed the quantity from ${requested} to ${left}.`
        : `Only ${stock} left and ${held} ${held === 1 ? 'is' : 'are'} in another line of your cart; we changed the quantity from ${requested} to ${left}.`;
    draft.warnings.push(warn('INSUFFICIENT_STOCK', message, held === 0 ? { requested, available: left } : { requested, available: left, inOtherLines: held }));
  }
  return true;
}

/** The segment's price-list price (else list), then the best volume tier reached if lower. */
function unitPriceOf(input: PricingInput, sku: string, quantity: number, listPrice: number): number {
  let segmentPrice: number | null = null;
  if (input.segment !== null) {
    for (const list of input.rules.priceLists) {
      if (list.segment !== input.segment || list.currency !== input.currency || !Object.hasOwn(list.prices, sku)) continue;
      const price = minorUnits(list.prices[sku]);
      if (price !== null && (segmentPrice === null || price < segmentPrice)) segmentPrice = price;
    }
  }
  let unitPrice = segmentPrice ?? listPrice;
  for (const tier of input.rules.volumeTiers) {
    if (tier.sku !== sku || tier.currency !== input.currency || tier.minQuantity > quantity) continue;
    const price = minorUnits(tier.unitPrice);
    if (price !== null && price < unitPrice) unitPrice = price;
  }
  return unitPrice;
}
