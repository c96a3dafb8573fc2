/**
 * Pure cart operations on a cart's Y.Doc (its plain view: cart-view.ts). Client, server (REST) and workers
 * all change carts through these functions, so the quantity rules of protocol/SPEC.md §4 hold
 * whoever writes:
 *
 * - add(n) commutes: each Yjs client keeps its own running sum in `qadd`, so concurrent adds sum.
 * - set(q) is last-writer-wins and overrides the adds it did not see (their `base` is not its id).
 * - remove is set(0): it wins over concurrent adds it did not see; an add made after seeing the
 *   removal brings the line back with that quantity.
 * - a removed line's records are collected by the server after a grace (collectLine): only then
 *   does it stop counting against the line limits.
 */
import type * as Y from 'yjs';
import {
  type Actor,
  type CartFacts,
  type CartLimits,
  type LineFacts,
  type LineIntent,
  type QuantityAdd,
  type QuantitySet,
  DEFAULT_LIMITS,
  QADD_SEPARATOR,
  lineIdOf,
} from './schema.ts';

export interface CartRoots {
  lines: Y.Map<LineIntent>;
  qset: Y.Map<QuantitySet>;
  qadd: Y.Map<QuantityAdd>;
  coupons: Y.Map<true>;
  attrs: Y.Map<string>;
  facts: Y.Map<LineFacts>;
  cart: Y.Map<unknown>;
}

export function roots(doc: Y.Doc): CartRoots {
  return {
    lines: doc.getMap('lines'),
    qset: doc.getMap('qset'),
    qadd: doc.getMap('qadd'),
    coupons: doc.getMap('coupons'),
    attrs: doc.getMap('attrs'),
    facts: doc.getMap('facts'),
    cart: doc.getMap('cart'),
  };
}

/** A random id for a quantity set: unique without coordination. */
export function randomId(): string {
  const bytes = new Uint8Array(9);
  globalThis.crypto.getRandomValues(bytes);
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

function lineIdOfAddKey(key: string): string {
  const at = key.lastIndexOf(QADD_SEPARATOR);
  return at < 0 ? key : key.slice(0, at);
}

/** Effective quantity of every line that has any quantity record, capped at `maxQuantity`. */
export function quantities(doc: Y.Doc, maxQuantity = DEFAULT_LIMITS.maxQuantity): Map<string, number> {
  const { qset, qadd } = roots(doc);
  const result = new Map<string, number>();
  for (const [lineId, set] of qset.entries()) result.set(lineId, set.q);
  for (const [key, add] of qadd.entries()) {
    const lineId = lineIdOfAddKey(key);
    const base = qset.get(lineId)?.id ?? null;
    if (add.base !== base) continue;
    result.set(lineId, (result.get(lineId) ?? 0) + add.n);
  }
  for (const [lineId, q] of result) result.set(lineId, Math.min(q, maxQuantity));
  return result;
}

/** Who made the line's latest quantity change that still counts (a set, or an add on top of it), and when. */
export function lastQuantityChange(doc: Y.Doc, lineId: string): { by: Actor; at: number } | null {
  const { qset, qadd } = roots(doc);
  const set = qset.get(lineId);
  const base = set?.id ?? null;
  // Ties on `at` (one millisecond, two devices) go to the larger key: every replica iterates the
  // map in its own order and must still pick the same record.
  let latest = set?.by !== undefined && set.at !== undefined ? { by: set.by, at: set.at, key: '' } : null;
  const prefix = lineId + QADD_SEPARATOR;
  for (const [key, add] of qadd.entries()) {
    if (!key.startsWith(prefix) || lineIdOfAddKey(key) !== lineId || add.base !== base || add.by === undefined || add.at === undefined) continue;
    if (latest === null || add.at > latest.at || (add.at === latest.at && key > latest.key)) latest = { by: add.by, at: add.at, key };
  }
  return latest === null ? null : { by: latest.by, at: latest.at };
}

export function quantityOf(doc: Y.Doc, lineId: string, maxQuantity = DEFAULT_LIMITS.maxQuantity): number {
  const { qset, qadd } = roots(doc);
  const set = qset.get(lineId);
  const base = set?.id ?? null;
  let q = set?.q ?? 0;
  const prefix = lineId + QADD_SEPARATOR;
  for (const [key, add] of qadd.entries()) {
    if (key.startsWith(prefix) && lineIdOfAddKey(key) === lineId && add.base === base) q += add.n;
  }
  return Math.min(q, maxQuantity);
}

/** Ids of lines whose effective quantity is above zero. */
export function liveLineIds(doc: Y.Doc, maxQuantity = DEFAULT_LIMITS.maxQuantity): Set<string> {
  const live = new Set<string>();
  for (const [lineId, q] of quantities(doc, maxQuantity)) if (q > 0) live.add(lineId);
  return live;
}

/**
 * Ids of every line with any record (`lines`, `qset`, or a `qadd` entry), live or not: what the
 * document stores, and what the record limit of SPEC §5 counts.
 */
export function lineRecordIds(doc: Y.Doc): Set<string> {
  const { lines, qset, qadd } = roots(doc);
  const ids = new Set<string>(lines.keys());
  for (const lineId of qset.keys()) ids.add(lineId);
  for (const key of qadd.keys()) ids.add(lineIdOfAddKey(key));
  return ids;
}

/** Records the line limits allow: live lines, and line ids with any record (removed ones not yet collected). */
export function lineRecordLimit(limits: Pick<CartLimits, 'maxLines'>): number {
  return 2 * limits.maxLines;
}

/**
 * Would adding records for `lineIds` break the line limits (SPEC §5)? Returns the reason, or null.
 * Only new line ids can: a cart already over a limit may still change or remove what it holds.
 */
export function lineLimitExceeded(doc: Y.Doc, lineIds: Iterable<string>, limits: Pick<CartLimits, 'maxLines' | 'maxQuantity'>): string | null {
  const records = lineRecordIds(doc);
  const live = liveLineIds(doc, limits.maxQuantity);
  let newRecords = 0;
  let newLive = 0;
  for (const lineId of new Set(lineIds)) {
    if (!records.has(lineId)) newRecords += 1;
    if (!live.has(lineId)) newLive += 1;
  }
  if (newLive > 0 && live.size + newLive > limits.maxLines) return `${live.size + newLive} lines > ${limits.maxLines}`;
  const maxRecords = lineRecordLimit(limits);
  if (newRecords > 0 && records.size + newRecords > maxRecords) return `${records.size + newRecords} line records (removed lines included) > ${maxRecords}`;
  return null;
}

/**
 * Server-only: delete every record of a removed line, so that it stops counting against the
 * limits. Called once the removal is old enough (SPEC §4 "Collection").
 */
export function collectLine(doc: Y.Doc, lineId: string): void {
  const { lines, qset, qadd, facts } = roots(doc);
  doc.transact(() => {
    lines.delete(lineId);
    qset.delete(lineId);
    facts.delete(lineId);
    const prefix = lineId + QADD_SEPARATOR;
    for (const key of [...qadd.keys()]) if (key.startsWith(prefix) && lineIdOfAddKey(key) === lineId) qadd.delete(key);
  });
}

export interface AddLineInput {
  sku: string;
  quantity: number;
  options?: Record<string, string>;
  note?: string;
}

/**
 * Add `quantity` of a product. Returns the lineId. Concurrent adds of the same line on different
 * devices sum. The line's description (`lines[lineId]`) is written only when the line is not in the
 * cart yet, so a later add does not take the line over from whoever added it first.
 */
export function addLine(doc: Y.Doc, input: AddLineInput, actor: Actor, limits: CartLimits = DEFAULT_LIMITS): string {
  const options = input.options ?? {};
  const lineId = lineIdOf(input.sku, options);
  const { lines, qset, qadd } = roots(doc);
  doc.transact(() => {
    if (!lines.has(lineId) || quantityOf(doc, lineId, limits.maxQuantity) === 0) {
      lines.set(lineId, { sku: input.sku, options, note: input.note ?? '', addedBy: { ...actor }, addedAt: Date.now() });
    }
    const base = qset.get(lineId)?.id ?? null;
    const key = lineId + QADD_SEPARATOR + doc.clientID;
    const own = qadd.get(key);
    const n = own && own.base === base ? own.n + input.quantity : input.quantity;
    qadd.set(key, { n: Math.min(n, limits.maxQuantity), base, by: { ...actor }, at: Date.now() });
  });
  return lineId;
}

/**
 * Set a line's quantity (0 removes it). Last writer wins; adds this device has seen are folded into
 * the new value and their records deleted, adds it has not seen stop counting.
 */
export function setQuantity(doc: Y.Doc, lineId: string, quantity: number, actor?: Actor): void {
  const { lines, qset, qadd } = roots(doc);
  doc.transact(() => {
    qset.set(lineId, actor === undefined ? { q: quantity, id: randomId() } : { q: quantity, id: randomId(), by: { ...actor }, at: Date.now() });
    const prefix = lineId + QADD_SEPARATOR;
    for (const key of [...qadd.keys()]) {
      if (key.startsWith(prefix) && lineIdOfAddKey(key) === lineId) qadd.delete(key);
    }
    if (quantity === 0) lines.delete(lineId);
  });
}

export function removeLine(doc: Y.Doc, lineId: string, actor?: Actor): void {
  setQuantity(doc, lineId, 0, actor);
}

/** Change a line's note. The line keeps who added it. */
export function setNote(doc: Y.Doc, lineId: string, note: string): void {
  const { lines } = roots(doc);
  const current = lines.get(lineId);
  if (!current) return;
  lines.set(lineId, { ...current, note });
}

export function applyCoupon(doc: Y.Doc, code: string): void {
  roots(doc).coupons.set(code.toUpperCase(), true);
}

export function removeCoupon(doc: Y.Doc, code: string): void {
  roots(doc).coupons.delete(code.toUpperCase());
}

/** Make the cart's coupon codes exactly `codes` (case-insensitive), touching only what differs. */
export function setCoupons(doc: Y.Doc, codes: readonly string[]): void {
  const { coupons } = roots(doc);
  const wanted = new Set(codes.map((c) => c.toUpperCase()));
  doc.transact(() => {
    for (const code of [...coupons.keys()]) if (!wanted.has(code)) coupons.delete(code);
    for (const code of wanted) if (!coupons.has(code)) coupons.set(code, true);
  });
}

export function setAttribute(doc: Y.Doc, key: string, value: string | null): void {
  const { attrs } = roots(doc);
  if (value === null) attrs.delete(key);
  else attrs.set(key, value);
}

/** Server-only: write the cart-level facts that differ from what the document holds. */
export function writeCartFacts(doc: Y.Doc, facts: Partial<CartFacts>): void {
  const { cart } = roots(doc);
  doc.transact(() => {
    for (const [key, value] of Object.entries(facts)) {
      if (JSON.stringify(cart.get(key)) !== JSON.stringify(value)) cart.set(key, value);
    }
  });
}
