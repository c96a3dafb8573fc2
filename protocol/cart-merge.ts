/**
 * Merge on login (protocol/SPEC.md §2): a guest cart's lines, coupons and attributes written into
 * the customer's active cart, by strategy. Pure: the server runs it on a scratch copy of the
 * active cart inside its one write path, so the result is validated, logged and relayed like any
 * server change. Line identity is the lineId (SKU plus normalized options).
 *
 * - `merge`: a line on both carts takes the larger quantity (an item added on both devices is not
 *   doubled); other guest lines are added; coupons are united and attributes the active cart lacks
 *   are added, within the cart limits.
 * - `guest`: the active cart ends up with exactly the guest cart's lines, coupons and attributes.
 * - `customer`: nothing is written (the guest cart is discarded).
 */
import type * as Y from 'yjs';
import { liveLineIds, quantities, quantityOf, roots, setQuantity } from './cart-ops.ts';
import type { CartLimits, LineIntent } from './schema.ts';

export type MergeStrategyName = 'merge' | 'guest' | 'customer';

export interface MergeSummary {
  /** Guest lines added to the active cart. */
  added: number;
  /** Lines on both whose quantity became the guest's (larger, or replaced). */
  changed: number;
  /** Active lines removed (`guest` only). */
  removed: number;
  /** Guest lines left out because the active cart reached its line limit. */
  skipped: number;
}

interface GuestLine {
  lineId: string;
  quantity: number;
  intent: LineIntent | undefined;
}

function guestLines(guest: Y.Doc, limits: Pick<CartLimits, 'maxQuantity'>): GuestLine[] {
  const { lines } = roots(guest);
  return [...quantities(guest, limits.maxQuantity)]
    .filter(([, q]) => q > 0)
    .map(([lineId, quantity]) => ({ lineId, quantity, intent: lines.get(lineId) }))
    .sort((a, b) => (a.intent?.addedAt ?? 0) - (b.intent?.addedAt ?? 0) || (a.lineId < b.lineId ? -1 : 1));
}

/** Write `guest`'s line into `target` with quantity `q`, keeping who added it and its note. */
function putLine(target: Y.Doc, line: GuestLine, q: number): void {
  const { lines } = roots(target);
  setQuantity(target, line.lineId, q);
  if (line.intent) lines.set(line.lineId, { ...line.intent, options: { ...line.intent.options }, addedBy: { ...line.intent.addedBy } });
}

/** Merge `guest` into `target` by `strategy` (call inside the target's server change). */
export function mergeCarts(target: Y.Doc, guest: Y.Doc, strategy: MergeStrategyName, limits: CartLimits): MergeSummary {
  const summary: MergeSummary = { added: 0, changed: 0, removed: 0, skipped: 0 };
  if (strategy === 'customer') return summary;
  const from = guestLines(guest, limits);
  const g = roots(guest);
  const t = roots(target);
  target.transact(() => {
    if (strategy === 'guest') {
      const keep = new Set(from.map((l) => l.lineId));
      for (const lineId of liveLineIds(target, limits.maxQuantity)) {
        if (keep.has(lineId)) continue;
        setQuantity(target, lineId, 0);
        summary.removed += 1;
      }
    }
    let live = liveLineIds(target, limits.maxQuantity).size;
    for (const line of from) {
      const current = quantityOf(target, line.lineId, limits.maxQuantity);
      if (current > 0) {
        const wanted = strategy === 'merge' ? Math.max(current, line.quantity) : line.quantity;
        if (wanted !== current) {
          setQuantity(target, line.lineId, wanted);
          summary.changed += 1;
        }
        continue;
      }
      if (live >= limits.maxLines) {
        summary.skipped += 1;
        continue;
      }
      putLine(target, line, line.quantity);
      live += 1;
      summary.added += 1;
    }
    if (strategy === 'guest') {
      for (const code of [...t.coupons.keys()]) if (!g.coupons.has(code)) t.coupons.delete(code);
      for (const key of [...t.attrs.keys()]) if (!g.attrs.has(key)) t.attrs.delete(key);
    }
    for (const code of g.coupons.keys()) {
      if (!t.coupons.has(code) && t.coupons.size < limits.maxCoupons) t.coupons.set(code, true);
    }
    for (const [key, value] of g.attrs.entries()) {
      const replace = strategy === 'guest' && t.attrs.get(key) !== value;
      if ((replace || !t.attrs.has(key)) && (t.attrs.has(key) || t.attrs.size < limits.maxAttributes)) t.attrs.set(key, value);
    }
  });
  return summary;
}
