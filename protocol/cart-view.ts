/**
 * The plain, JSON-ready view of a cart (REST answers, the client library's `view`), and the pricing
 * basis that tells whether the server's facts still describe the document.
 *
 * Facts are written by the server some time after the intent they price, so a view must never
 * pass off facts priced for another state as current: a line shows its facts only while they were
 * priced for its current quantity, the cart its totals only while they were priced for its current
 * lines, quantities, coupons, currency, segment and region. Everything else reads null ("not
 * priced yet") with `priced: false`.
 */
import type * as Y from 'yjs';
import { lastQuantityChange, quantities, roots } from './cart-ops.ts';
import { type Actor, type CartLimits, type CartStatus, DEFAULT_LIMITS, type LineFacts, type Totals, type Warning } from './schema.ts';

/**
 * A line as devices and REST show it: its intent, and its facts (every one of them null, warnings
 * empty, while `priced` is false). `quantity` is the line's current quantity, not the one its facts
 * were priced for.
 */
export interface LineView extends Omit<LineFacts, 'quantity'> {
  lineId: string;
  sku: string;
  options: Record<string, string>;
  quantity: number;
  note: string;
  addedBy: Actor | null;
  addedAt: number | null;
  /** Who made the latest quantity change (a set or an add) and when; null for carts written before 1.4 or by the server. */
  changedBy: Actor | null;
  changedAt: number | null;
  /** The facts were priced for this line's current quantity. */
  priced: boolean;
}

export interface CartView {
  status: CartStatus;
  /** The cart this one was merged into (status `merged`), else null. */
  mergedInto: string | null;
  currency: string | null;
  lines: LineView[];
  coupons: string[];
  attributes: Record<string, string>;
  /** Totals and cart warnings were priced for the cart as it is now (and every line is priced). */
  priced: boolean;
  /** null until priced for the cart as it is now. */
  totals: Totals | null;
  warnings: Warning[];
}

/** 64 bits of FNV-1a (two 32-bit lanes) in hex: a short, stable fingerprint of a string. */
function fingerprint(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (a >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/**
 * What the cart's pricing depends on, as a fingerprint: live lines and their quantities, coupons,
 * currency, segment and region. The server stores it with the totals (`cart.pricedFor`); the same
 * function on any replica tells whether those totals still apply.
 */
export function pricingBasis(doc: Y.Doc, maxQuantity = DEFAULT_LIMITS.maxQuantity): string {
  const { coupons, cart } = roots(doc);
  const lines = [...quantities(doc, maxQuantity)].filter(([, q]) => q > 0).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
  return fingerprint(
    JSON.stringify([str(cart.get('currency')), str(cart.get('segment')), str(cart.get('region')), [...coupons.keys()].sort(), lines]),
  );
}

function pricedFacts(facts: LineFacts | undefined, quantity: number): LineFacts | null {
  return facts !== undefined && facts.quantity === quantity ? facts : null;
}

function changeOf(doc: Y.Doc, lineId: string): { changedBy: Actor | null; changedAt: number | null } {
  const change = lastQuantityChange(doc, lineId);
  return { changedBy: change?.by ?? null, changedAt: change?.at ?? null };
}

/** The plain view of a cart: live lines (quantity above zero) with the facts that apply to them. */
export function readCart(doc: Y.Doc, limits: Pick<CartLimits, 'maxQuantity'> = DEFAULT_LIMITS): CartView {
  const r = roots(doc);
  const lines: LineView[] = [];
  for (const [lineId, quantity] of quantities(doc, limits.maxQuantity)) {
    if (quantity <= 0) continue;
    const intent = r.lines.get(lineId);
    const facts = pricedFacts(r.facts.get(lineId), quantity);
    lines.push({
      lineId,
      sku: intent?.sku ?? lineId.split('?')[0] ?? lineId,
      options: intent?.options ?? {},
      quantity,
      note: intent?.note ?? '',
      addedBy: intent?.addedBy ?? null,
      addedAt: intent?.addedAt ?? null,
      ...changeOf(doc, lineId),
      priced: facts !== null,
      unitPrice: facts?.unitPrice ?? null,
      listPrice: facts?.listPrice ?? null,
      discount: facts?.discount ?? null,
      lineTotal: facts?.lineTotal ?? null,
      available: facts?.available ?? null,
      addedPrice: facts?.addedPrice ?? null,
      warnings: facts?.warnings ?? [],
    });
  }
  lines.sort((a, b) => (a.addedAt ?? 0) - (b.addedAt ?? 0) || (a.lineId < b.lineId ? -1 : a.lineId > b.lineId ? 1 : 0));
  const cart = r.cart;
  const totals = (cart.get('totals') as Totals | null | undefined) ?? null;
  const priced = totals !== null && cart.get('pricedFor') === pricingBasis(doc, limits.maxQuantity) && lines.every((l) => l.priced);
  return {
    status: (cart.get('status') as CartStatus | undefined) ?? 'open',
    mergedInto: typeof cart.get('mergedInto') === 'string' ? (cart.get('mergedInto') as string) : null,
    currency: (cart.get('currency') as string | undefined) ?? null,
    lines,
    coupons: [...r.coupons.keys()].sort(),
    attributes: Object.fromEntries([...r.attrs.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
    priced,
    totals: priced ? totals : null,
    warnings: priced ? ((cart.get('warnings') as Warning[] | undefined) ?? []) : [],
  };
}
