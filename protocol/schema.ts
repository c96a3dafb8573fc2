/**
 * Cart document schema v1: the names, shapes and limits of every root type of a cart's Y.Doc.
 *
 * Every root is a Y.Map whose values are plain JSON (no nested Yjs types), so that the server can tell
 * from one item which root and which key it writes. Intent roots are written by clients; fact roots
 * only by the server. protocol/SPEC.md §3 describes the same thing for humans.
 */

export const SCHEMA_VERSION = 1;

/** Roots clients may write. */
export const INTENT_ROOTS = ['lines', 'qset', 'qadd', 'coupons', 'attrs'] as const;
/** Roots only the server writes. */
export const FACT_ROOTS = ['facts', 'cart'] as const;

export type IntentRoot = (typeof INTENT_ROOTS)[number];
export type FactRoot = (typeof FACT_ROOTS)[number];
export type RootName = IntentRoot | FactRoot;

export type Role = 'customer' | 'associate' | 'service';
export const ROLES: readonly Role[] = ['customer', 'associate', 'service'];

/** Who made a change: stamped on lines (`addedBy`) and on presence. */
export interface Actor {
  id: string;
  role: Role;
  /** The writer's display name (its token's `name` claim); absent when the token has none. */
  name?: string;
}

/** `lines[lineId]`: what the line is. Last writer wins on the whole object. */
export interface LineIntent {
  sku: string;
  options: Record<string, string>;
  note: string;
  addedBy: Actor;
  /** Milliseconds since the epoch, from the writer's clock (informational only). */
  addedAt: number;
}

/** `qset[lineId]`: the last "set quantity to q" (q = 0 removes the line). `id` is unique per set. */
export interface QuantitySet {
  q: number;
  id: string;
  /** Who set it and when (ms, the writer's clock): the line's `changedBy` / `changedAt`. Absent in carts written before 1.4. */
  by?: Actor;
  at?: number;
}

/**
 * `qadd[lineId + '#' + clientID]`: the sum of "add n" done by one Yjs client on top of the set `base`
 * (null when the line was never set). Only that client writes its own key, so adds never overwrite
 * each other; an add whose base is not the current set was not seen by that set and no longer counts.
 */
export interface QuantityAdd {
  n: number;
  base: string | null;
  /** Who added last and when, like QuantitySet's. */
  by?: Actor;
  at?: number;
}

export interface Money {
  /** Integer minor units (cents for USD). */
  amount: number;
  /** ISO 4217 code. */
  currency: string;
}

export interface Warning {
  code: string;
  message: string;
  data?: Record<string, unknown>;
}

/** `facts[lineId]`: server-computed facts of a line. */
export interface LineFacts {
  /** Price per unit after segment prices and volume tiers; null when unknown. */
  unitPrice: Money | null;
  /** The catalog's list price per unit. */
  listPrice: Money | null;
  /** Promotions and coupons on this line. */
  discount: Money | null;
  /** unitPrice × quantity − discount; null when the line is not priced (unknown, out of stock). */
  lineTotal: Money | null;
  /**
   * Units this line can have: the SKU's stock less what the cart's earlier lines of the same SKU
   * hold (null: not verified). For a SKU on one line, its stock.
   */
  available: number | null;
  /** The unit price when the line was first priced (PRICE_CHANGED compares against it). */
  addedPrice: Money | null;
  warnings: Warning[];
  /**
   * The quantity these facts were priced for. A line whose quantity changed since is not priced
   * yet: views show none of its facts until the server prices it again.
   */
  quantity: number;
}

export interface Totals {
  subtotal: Money;
  discount: Money;
  tax: Money;
  shipping: Money;
  total: Money;
}

export type CartStatus = 'open' | 'checking_out' | 'ordered' | 'merged' | 'expired';

/** Keys of the `cart` fact root. */
export interface CartFacts {
  schema: number;
  status: CartStatus;
  currency: string;
  totals: Totals | null;
  warnings: Warning[];
  /** Set with status `merged`: the customer's active cart this guest cart went into at her sign-in. */
  mergedInto: string | null;
  /** The customer segment from the token of the last device that joined with one. */
  segment: string | null;
  /** The tax region from a token claim; never from the cart's attributes. */
  region: string | null;
  /**
   * What `totals` and `warnings` were priced for: `pricingBasis` of the document when they were
   * written (protocol/cart-ops.ts). Views show totals only while it matches the document.
   */
  pricedFor: string | null;
  /**
   * Removed lines whose records the server keeps for now, with when it first saw each removed (ms):
   * they are collected once `removedLineGraceSeconds` passed (SPEC §4).
   */
  removedLines: Record<string, number>;
}

/**
 * Limits on what a cart may hold and what one message may carry. Every one is configurable on the
 * server (see core/config.ts); clients receive the server's values when they join.
 */
export interface CartLimits {
  /** Live lines per cart. A cart is a list a person reads; 100 is far above any real basket. */
  maxLines: number;
  /** Quantity per line (1..maxQuantity); larger orders are a B2B flow, not a cart. */
  maxQuantity: number;
  /** Characters in a line note. */
  maxNoteLength: number;
  /** Option pairs per line, and characters per option key / value. */
  maxOptions: number;
  maxOptionLength: number;
  /** Coupon codes per cart. */
  maxCoupons: number;
  /** Cart attributes, and characters per attribute value. */
  maxAttributes: number;
  maxAttributeLength: number;
  /** Bytes of one live update (a device's single change). */
  maxUpdateBytes: number;
  /** Bytes of a sync step 2 (a returning device's offline edits can be many changes). */
  maxSyncBytes: number;
  /** Bytes of one presence (awareness) frame. */
  maxAwarenessBytes: number;
}

export const DEFAULT_LIMITS: CartLimits = {
  maxLines: 100,
  maxQuantity: 99,
  maxNoteLength: 500,
  maxOptions: 8,
  maxOptionLength: 64,
  maxCoupons: 10,
  maxAttributes: 20,
  maxAttributeLength: 256,
  maxUpdateBytes: 64 * 1024,
  maxSyncBytes: 512 * 1024,
  maxAwarenessBytes: 4 * 1024,
};

export const SKU_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const COUPON_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
export const ATTRIBUTE_KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,39}$/;
export const OPTION_KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
/** Cart ids: opaque, URL-safe, 8..64 characters. */
export const CART_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

/** Separates lineId from the writer's Yjs clientID in `qadd` keys. Never appears in a lineId. */
export const QADD_SEPARATOR = '#';

/**
 * A line's identity: the SKU plus its options with keys sorted, so the same product with the same
 * options is always one line. A SKU without options is its own lineId.
 */
export function lineIdOf(sku: string, options: Record<string, string> = {}): string {
  const keys = Object.keys(options).sort();
  if (keys.length === 0) return sku;
  return `${sku}?${keys.map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(options[k] ?? '')}`).join('&')}`;
}

export function isCartId(value: unknown): value is string {
  return typeof value === 'string' && CART_ID_PATTERN.test(value);
}
