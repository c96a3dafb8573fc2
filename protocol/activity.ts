/**
 * The activity feed (protocol/SPEC.md §2 "Activity"): who did what to a cart, as entries derived
 * by comparing the cart before and after each change. Pure: the server records them, the client
 * library reads them from the `activity` event.
 */
import type { CartView } from './cart-view.ts';
import type { Role } from './schema.ts';

export const ACTIVITY_ACTIONS = [
  'line.added',
  'line.quantity',
  'line.removed',
  'line.note',
  'coupons.changed',
  'price.corrected',
  'cart.merged',
  'share.redeemed',
  'share.revoked',
] as const;
export type ActivityAction = (typeof ACTIVITY_ACTIONS)[number];

export interface ActivityActor {
  id: string;
  role: Role;
  name: string | null;
  /** The device's name (the `join` hello; `yjs-client` on /yjs), `rest` for REST calls; null: none (share events). */
  device: string | null;
}

/** What changed, without who and when. */
export interface ActivityChange {
  action: ActivityAction;
  lineId?: string;
  sku?: string;
  /** Quantities of a `line.quantity` (and `line.added` / `line.removed`: 0 on the missing side). */
  from?: number;
  to?: number;
}

export interface ActivityEntry extends ActivityChange {
  /** ISO 8601, the server's clock. */
  at: string;
  actor: ActivityActor;
}

/** What the feed compares: live lines (sku, quantity, note) and coupons. */
export interface CartSummary {
  lines: Map<string, { sku: string; quantity: number; note: string }>;
  coupons: string;
}

export function summarize(view: Pick<CartView, 'lines' | 'coupons'>): CartSummary {
  return {
    lines: new Map(view.lines.map((l) => [l.lineId, { sku: l.sku, quantity: l.quantity, note: l.note }])),
    coupons: [...view.coupons].sort().join('\n'),
  };
}

/** The feed entries a change from `before` to `after` makes (empty: nothing the feed shows). */
export function changesBetween(before: CartSummary, after: CartSummary): ActivityChange[] {
  const changes: ActivityChange[] = [];
  for (const [lineId, line] of after.lines) {
    const was = before.lines.get(lineId);
    if (was === undefined) changes.push({ action: 'line.added', lineId, sku: line.sku, from: 0, to: line.quantity });
    else {
      if (was.quantity !== line.quantity) changes.push({ action: 'line.quantity', lineId, sku: line.sku, from: was.quantity, to: line.quantity });
      if (was.note !== line.note) changes.push({ action: 'line.note', lineId, sku: line.sku });
    }
  }
  for (const [lineId, was] of before.lines) if (!after.lines.has(lineId)) changes.push({ action: 'line.removed', lineId, sku: was.sku, from: was.quantity, to: 0 });
  if (before.coupons !== after.coupons) changes.push({ action: 'coupons.changed' });
  return changes;
}
