/**
 * The pricing contract: what the pure pricing code (protocol/pricing.ts) takes and returns, and the
 * shapes of the rules the admin API manages. All money is integer minor units in one currency per
 * cart; percentages are whole percent (0..100); tax rates are basis points (825 = 8.25 %).
 */
import type { LineFacts, Totals, Warning } from './schema.ts';

/** A product as the catalog (or a shop's own pricing/inventory service) knows it. */
export interface CatalogProduct {
  sku: string;
  name: string;
  /** Price per ISO 4217 currency, integer minor units. */
  prices: Record<string, number>;
  /** Units available to sell. */
  stock: number;
  category: string;
  imageUrl: string | null;
}

/** Segment prices ("vip", "staff", "b2b"): override the catalog price of listed SKUs. */
export interface PriceList {
  segment: string;
  currency: string;
  prices: Record<string, number>;
}

/** Volume tier: from `minQuantity` units of `sku`, each unit costs `unitPrice`. The best tier applies. */
export interface VolumeTier {
  sku: string;
  currency: string;
  minQuantity: number;
  unitPrice: number;
}

/** What a promotion or coupon discounts. */
export type PromotionTarget = { sku: string } | { category: string } | { cartOver: number };

export type PromotionEffect =
  /** Percent off the matching lines (sku / category), or off the whole cart once its subtotal reaches `cartOver`. */
  | { kind: 'percent_off'; percent: number; target: PromotionTarget }
  /** Amount off each matching unit (sku / category), or once off the cart (cartOver). Never below zero. */
  | { kind: 'amount_off'; amount: number; target: PromotionTarget }
  /** For every `buyQuantity` units of `buySku`, `getQuantity` units of `getSku` get `percentOff` % off (100: free). */
  | { kind: 'buy_x_get_y'; buySku: string; buyQuantity: number; getSku: string; getQuantity: number; percentOff: number };

/** An automatic promotion: applies to every cart it matches while active. */
export interface Promotion {
  id: string;
  name: string;
  currency: string;
  effect: PromotionEffect;
  /** Active window, milliseconds since the epoch; null: open-ended. */
  startsAt: number | null;
  endsAt: number | null;
}

/** A coupon: a promotion that applies only to carts holding its code. */
export interface Coupon {
  code: string;
  name: string;
  currency: string;
  effect: PromotionEffect;
  startsAt: number | null;
  endsAt: number | null;
  /** Orders that may use it; null: unlimited. `used` counts orders placed with it. */
  usageLimit: number | null;
  used: number;
}

/** Tax for a region: exclusive (added on top) or inclusive (already in the prices). */
export interface TaxRule {
  region: string;
  rateBps: number;
  inclusive: boolean;
}

/** Shipping estimate per currency: flat, free once the discounted subtotal reaches `freeOver`. */
export interface ShippingRule {
  currency: string;
  flat: number;
  freeOver: number | null;
}

export interface PricingRules {
  priceLists: PriceList[];
  volumeTiers: VolumeTier[];
  promotions: Promotion[];
  coupons: Coupon[];
  taxRules: TaxRule[];
  shipping: ShippingRule[];
}

export const EMPTY_RULES: PricingRules = { priceLists: [], volumeTiers: [], promotions: [], coupons: [], taxRules: [], shipping: [] };

/**
 * What pricing knows of one SKU. `null` for the whole entry: unknown SKU. `prices: null`: the
 * pricing provider could not be reached (price unverified); `stock: null`: inventory unverified.
 */
export interface ProductFacts {
  name: string;
  category: string;
  prices: Record<string, number> | null;
  stock: number | null;
}

export interface PricingLineInput {
  lineId: string;
  sku: string;
  quantity: number;
  /** Unit price the line had when it was first priced (kept in its facts), for PRICE_CHANGED. */
  addedPrice: number | null;
  /** Last verified unit price (from its facts), shown while the price is unverified. */
  lastUnitPrice: number | null;
}

export interface PricingInput {
  currency: string;
  segment: string | null;
  region: string | null;
  now: number;
  lines: PricingLineInput[];
  /** Coupon codes in the cart (upper case). */
  coupons: string[];
  products: ReadonlyMap<string, ProductFacts | null>;
  rules: PricingRules;
}

export interface PricedLine {
  lineId: string;
  /** The quantity to keep: lower than the input when stock forced a clamp. */
  quantity: number;
  /** The quantity before clamping, when clamped; else null. */
  clampedFrom: number | null;
  facts: LineFacts;
}

export interface PricingResult {
  lines: PricedLine[];
  totals: Totals;
  /** Cart-level warnings (a coupon not applicable, prices unverified). */
  warnings: Warning[];
}

/** Warning codes pricing produces (line-level unless noted). */
export const WARNING_CODES = [
  'PRICE_CHANGED',
  'INSUFFICIENT_STOCK',
  'OUT_OF_STOCK',
  'UNKNOWN_SKU',
  'NO_PRICE',
  'PRICE_UNVERIFIED',
  'STOCK_UNVERIFIED',
  /** Cart-level. */
  'COUPON_NOT_APPLICABLE',
  /** Cart-level: some facts could not be verified (a provider is down). */
  'FACTS_UNVERIFIED',
] as const;

export type WarningCode = (typeof WARNING_CODES)[number];
