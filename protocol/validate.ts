/**
 * Validation of a client's Yjs update against the cart's current document state, before the update
 * is stored or relayed: nothing a device sends reaches the log or another device unchecked.
 *
 * An update's bytes do not say which root or key an overwrite targets (an item with a left origin
 * carries no parent), so each item's target is resolved through its origin: first among the items of
 * the same update, then in the document. Deletions are checked the same way. Cost is linear in the
 * update's size plus a binary search per deleted range; the document is never copied.
 */
import * as Y from 'yjs';
import type { z } from 'zod';
import { CartError, type ErrorCode } from './errors.ts';
import { cartSchemas, isLineId } from './schemas/cart.ts';
import { describeIssue } from './schemas/parse.ts';
import { lineLimitExceeded } from './cart-ops.ts';
import {
  type Actor,
  type CartLimits,
  ATTRIBUTE_KEY_PATTERN,
  COUPON_PATTERN,
  FACT_ROOTS,
  INTENT_ROOTS,
  type IntentRoot,
  type LineIntent,
  type QuantityAdd,
  type QuantitySet,
  QADD_SEPARATOR,
  lineIdOf,
} from './schema.ts';

export interface ValidationContext {
  limits: CartLimits;
  /** The writer; lines it creates must name it in `addedBy`. */
  actor: Actor;
  /** The byte limit that applies: maxUpdateBytes for live updates, maxSyncBytes for sync step 2. */
  maxBytes: number;
  /**
   * The cart's log is empty (Redis lost it, or it expired) and a device's sync step 2 brings its
   * copy back: fact records pass (their values unchecked) so the copy can be taken in whole, and
   * the server then deletes every one of them before storing it (core/cart/restore.ts).
   */
  restoring?: boolean;
}

export interface ValidUpdate {
  /** True when the update writes line or quantity records (used to pick the cart's idle expiry). */
  touchesLines: boolean;
  /** Number of items the update inserts. */
  insertedItems: number;
  /** Number of live items the update deletes. With insertedItems 0: the update changes nothing. */
  newDeletes: number;
}

interface Target {
  root: string;
  key: string;
}

const INTENT = new Set<string>(INTENT_ROOTS);

function reject(code: ErrorCode, detail: string): never {
  throw new CartError(code, detail);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/** The value's shape, by the one schema REST and the client use too (protocol/schemas/cart.ts). */
function checkShape(schema: z.ZodType, value: unknown, where: string): void {
  const result = schema.safeParse(value);
  if (!result.success) reject('E_UPDATE_INVALID_VALUE', `${where}: ${describeIssue(result.error.issues[0]!, 'value')}`.slice(0, 300));
}

function checkLineId(lineId: string, where: string): void {
  if (!isLineId(lineId)) reject('E_UPDATE_INVALID_VALUE', `${where}: invalid line id`);
}

/** Validate one value written to `root[key]` by the update's item with Yjs client id `writer`. */
function checkValue(
  doc: Y.Doc,
  root: IntentRoot,
  key: string,
  value: unknown,
  writer: number,
  ctx: ValidationContext,
  replaced: unknown,
): void {
  const schemas = cartSchemas(ctx.limits);
  const where = `${root}[${JSON.stringify(key.slice(0, 80))}]`;
  switch (root) {
    case 'lines': {
      checkLineId(key, where);
      checkShape(schemas.lineIntent, value, where);
      const { sku, options, addedBy } = value as LineIntent;
      if (lineIdOf(sku, options) !== key) reject('E_UPDATE_INVALID_VALUE', `${where}: line id does not match sku and options`);
      // addedBy names the writer, or keeps the stamp of the value it replaces (a note edit by another
      // device). When that value was deleted concurrently its stamp is gone (GC): accepted, since an
      // honest device editing a line removed elsewhere must not be rejected.
      // A name is the writer's own (from its token) or none: a device cannot label a line with another person's name.
      const same = (a: unknown): boolean => namesSame(a, addedBy);
      const current = (doc.getMap('lines') as Y.Map<{ addedBy?: Actor }>).get(key)?.addedBy;
      const keeps = replaced === 'unknown' || (replaced !== 'none' && isPlainObject(replaced) && same(replaced.addedBy));
      if (!same(ctx.actor) && !same(current) && !keeps) reject('E_UPDATE_INVALID_VALUE', `${where}: addedBy must name the writer`);
      return;
    }
    case 'qset': {
      checkLineId(key, where);
      checkShape(schemas.quantitySet, value, where);
      checkChangedBy(ctx, (value as QuantitySet).by, replaced, where);
      return;
    }
    case 'qadd': {
      const at = key.lastIndexOf(QADD_SEPARATOR);
      if (at < 0 || key.slice(at + 1) !== String(writer)) reject('E_UPDATE_INVALID_VALUE', `${where}: an add record must be keyed by its writer`);
      checkLineId(key.slice(0, at), where);
      checkShape(schemas.quantityAdd, value, where);
      checkChangedBy(ctx, (value as QuantityAdd).by, replaced, where);
      return;
    }
    case 'coupons': {
      if (!COUPON_PATTERN.test(key) || key !== key.toUpperCase()) reject('E_UPDATE_INVALID_VALUE', `${where}: invalid coupon code`);
      if (value !== true) reject('E_UPDATE_INVALID_VALUE', `${where}: coupon value must be true`);
      return;
    }
    case 'attrs': {
      if (!ATTRIBUTE_KEY_PATTERN.test(key)) reject('E_UPDATE_INVALID_VALUE', `${where}: invalid attribute name`);
      checkShape(schemas.attributeValue, value, where);
      return;
    }
  }
}

/**
 * Whether actor `a` is `stamp`'s: same id and role, and `stamp`'s name absent or `a`'s own (a
 * device cannot label a change with another person's display name).
 */
function namesSame(a: unknown, stamp: Actor): boolean {
  return isPlainObject(a) && a.id === stamp.id && a.role === stamp.role && (stamp.name === undefined || a.name === stamp.name);
}

/** A quantity record's `by` names its writer (or is absent; a restore's old records are taken as they are). */
function checkChangedBy(ctx: ValidationContext, by: Actor | undefined, replaced: unknown, where: string): void {
  if (by === undefined || replaced === 'unknown' || namesSame(ctx.actor, by)) return;
  reject('E_UPDATE_INVALID_VALUE', `${where}: by must name the writer`);
}

function rootNameOf(doc: Y.Doc, type: unknown, cache: Map<unknown, string | null>): string | null {
  if (cache.has(type)) return cache.get(type) ?? null;
  let name: string | null = null;
  for (const [key, value] of doc.share) if (value === type) name = key;
  cache.set(type, name);
  return name;
}

/**
 * Check `update` against `doc` and `ctx`. Throws a CartError (E_UPDATE_*) describing the first
 * violation; returns a summary when the whole update is acceptable. Never modifies `doc`.
 */
export function validateUpdate(doc: Y.Doc, update: Uint8Array, ctx: ValidationContext): ValidUpdate {
  if (update.byteLength > ctx.maxBytes) reject('E_UPDATE_TOO_LARGE', `${update.byteLength} bytes > ${ctx.maxBytes}`);
  let decoded: ReturnType<typeof Y.decodeUpdate>;
  try {
    decoded = Y.decodeUpdate(update);
  } catch (err) {
    reject('E_UPDATE_MALFORMED', err instanceof Error ? err.message.slice(0, 120) : 'decode failed');
  }
  const { structs, ds } = decoded;
  const rootCache = new Map<unknown, string | null>();
  const own = new Map<number, Y.Item[]>();
  // Highest clock + 1 the update provides per client. Structs must continue the document's state
  // without gaps, or Yjs would hold them back as pending while the log and the room received them.
  const provides = new Map<number, number>();
  for (const s of structs) {
    if (s instanceof Y.Skip) reject('E_UPDATE_MISSING_DEPENDENCY', 'the update has gaps');
    const client = s.id.client;
    const start = provides.get(client) ?? Y.getState(doc.store, client);
    if (s.id.clock > start) reject('E_UPDATE_MISSING_DEPENDENCY', 'the update skips changes the server does not have');
    provides.set(client, Math.max(start, s.id.clock + s.length));
    if (!(s instanceof Y.Item)) continue;
    let list = own.get(client);
    if (!list) own.set(client, (list = []));
    list.push(s);
  }
  const resolved = new Map<Y.Item, Target>();

  // A client's structs in an update are in clock order: binary search, so a large (hostile) update
  // costs n log n, not n².
  const findOwn = (id: Y.ID): Y.Item | undefined => {
    const list = own.get(id.client);
    if (!list) return undefined;
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const item = list[mid]!;
      if (id.clock < item.id.clock) hi = mid - 1;
      else if (id.clock >= item.id.clock + item.length) lo = mid + 1;
      else return item;
    }
    return undefined;
  };
  const positionInOwn = new Map<Y.Item, number>();
  for (const list of own.values()) list.forEach((item, i) => positionInOwn.set(item, i));

  const targetOfStored = (item: Y.Item): Target | null => {
    const parent = item.parent as unknown;
    if (!(parent instanceof Y.AbstractType) || parent._item !== null || item.parentSub === null) return null;
    const root = rootNameOf(doc, parent, rootCache);
    return root === null ? null : { root, key: item.parentSub };
  };

  const stateOf = (client: number): number => Y.getState(doc.store, client);
  const isStored = (id: Y.ID): boolean => id.clock < stateOf(id.client);

  /**
   * Every reference of a new item (origin, right origin, the previous struct of its own client) must
   * be in the document or in this update, a reference to its own client must point backwards, and
   * the references within the update must not form a cycle. Otherwise Yjs would throw while
   * applying the update, or hold it back as pending, after it was stored and acknowledged.
   */
  const checked = new Set<Y.Item>();
  const checkReferences = (item: Y.Item, visiting: Set<Y.Item>): void => {
    if (checked.has(item)) return;
    if (visiting.has(item)) reject('E_UPDATE_MALFORMED', 'the update references itself in a cycle');
    if (visiting.size > 10_000) reject('E_UPDATE_MALFORMED', 'reference chain too long');
    visiting.add(item);
    const deps: Y.Item[] = [];
    for (const ref of [item.origin, item.rightOrigin]) {
      if (ref === null || isStored(ref)) continue;
      if (ref.client === item.id.client && ref.clock >= item.id.clock) reject('E_UPDATE_MALFORMED', 'an item references a later change of its own writer');
      const dep = findOwn(ref);
      if (!dep) reject('E_UPDATE_MISSING_DEPENDENCY', 'references content the server does not have');
      deps.push(dep);
    }
    const list = own.get(item.id.client) ?? [];
    const previous = list[(positionInOwn.get(item) ?? 0) - 1];
    if (previous && !isStored(previous.id)) deps.push(previous);
    for (const dep of deps) checkReferences(dep, visiting);
    visiting.delete(item);
    checked.add(item);
  };

  const resolve = (item: Y.Item, depth: number): Target => {
    const known = resolved.get(item);
    if (known) return known;
    if (depth > 10_000) reject('E_UPDATE_MALFORMED', 'origin chain too long');
    let target: Target | null = null;
    const state = stateOf(item.id.client);
    if (item.id.clock < state) {
      // Partly known already: Yjs integrates only the rest, placed right after the writer's last
      // stored change, whatever origin the update declares. Judge it by that change's target.
      const stored = Y.getItem(doc.store, Y.createID(item.id.client, state - 1));
      target = stored instanceof Y.Item ? targetOfStored(stored) : null;
      if (target === null) reject('E_UPDATE_FORBIDDEN_FIELD', 'continues a change outside the cart fields');
    } else if (typeof item.parent === 'string') {
      if (item.parentSub === null) reject('E_UPDATE_FORBIDDEN_FIELD', `sequence insert into root ${JSON.stringify(item.parent)}`);
      target = { root: item.parent, key: item.parentSub };
    } else if (item.parent !== null) {
      reject('E_UPDATE_FORBIDDEN_FIELD', 'nested types are not part of the cart schema');
    } else {
      const ref = item.origin ?? item.rightOrigin;
      if (ref === null) reject('E_UPDATE_MALFORMED', 'item without parent or origin');
      if (ref.clock < Y.getState(doc.store, ref.client)) {
        const stored = Y.getItem(doc.store, ref);
        target = stored instanceof Y.Item ? targetOfStored(stored) : null;
        if (target === null) reject('E_UPDATE_FORBIDDEN_FIELD', 'origin is not a cart field');
      } else {
        const sibling = findOwn(ref);
        if (!sibling) reject('E_UPDATE_MISSING_DEPENDENCY', 'origin not known');
        target = resolve(sibling, depth + 1);
      }
    }
    resolved.set(item, target);
    return target;
  };

  /** The value an item overwrites: 'none' for a new key, 'unknown' when it is deleted (collected). */
  const replacedValue = (item: Y.Item): unknown => {
    const ref = item.origin;
    if (ref === null) return 'none';
    const prev = ref.clock < Y.getState(doc.store, ref.client) ? Y.getItem(doc.store, ref) : findOwn(ref);
    if (!(prev instanceof Y.Item) || prev.deleted || !(prev.content instanceof Y.ContentAny)) return 'unknown';
    return prev.content.arr[prev.content.arr.length - 1];
  };

  const touchedLines = new Set<string>();
  // Lines this update writes a new description for, or sets to quantity 0: the only updates that
  // may delete a line's description (§4: removal is a quantity of 0).
  const describedOrRemoved = new Set<string>();
  const newKeys = { coupons: new Set<string>(), attrs: new Set<string>() };
  let inserted = 0;
  let touchesLines = false;
  let newDeletes = 0;
  for (const [, items] of own) {
    for (const item of items) {
      // Items already in the document are skipped by Yjs on apply (a sync step 2 may repeat them).
      if (item.id.clock + item.length <= Y.getState(doc.store, item.id.client)) continue;
      checkReferences(item, new Set());
      const { root, key } = resolve(item, 0);
      const restoredFact = ctx.restoring === true && (FACT_ROOTS as readonly string[]).includes(root);
      if (!INTENT.has(root) && !restoredFact) reject('E_UPDATE_FORBIDDEN_FIELD', `root ${JSON.stringify(root.slice(0, 40))} is written by the server only`);
      const content = item.content;
      // A set whose value was since overwritten (collected) may have been a removal: give it the benefit.
      const zeroOrGone = content instanceof Y.ContentDeleted || (content instanceof Y.ContentAny && (content.arr[0] as { q?: unknown } | undefined)?.q === 0);
      if (root === 'lines' || (root === 'qset' && zeroOrGone)) describedOrRemoved.add(key);
      if (content instanceof Y.ContentDeleted) continue;
      // Same code as an item inside a nested type, whichever of the two the update carries first.
      if (content instanceof Y.ContentType) reject('E_UPDATE_FORBIDDEN_FIELD', 'nested types are not part of the cart schema');
      if (!(content instanceof Y.ContentAny) || content.arr.length !== 1) {
        reject('E_UPDATE_INVALID_VALUE', `${root}[${JSON.stringify(key.slice(0, 80))}]: values must be plain JSON`);
      }
      if (restoredFact) continue;
      inserted += 1;
      checkValue(doc, root as IntentRoot, key, content.arr[0], item.id.client, ctx, root === 'lines' ? replacedValue(item) : 'none');
      if (root === 'lines' || root === 'qset' || root === 'qadd') {
        touchesLines = true;
        touchedLines.add(root === 'qadd' ? key.slice(0, key.lastIndexOf(QADD_SEPARATOR)) : key);
      }
      if ((root === 'coupons' || root === 'attrs') && !doc.getMap(root).has(key)) newKeys[root].add(key);
    }
  }

  // Deletions: a client may delete only intent records. Deleting what is already deleted is a no-op
  // (a sync step 2 carries the sender's whole delete set), so only live items are checked.
  for (const [client, ranges] of ds.clients) {
    const stored = doc.store.clients.get(client);
    const state = Y.getState(doc.store, client);
    for (const range of ranges) {
      const end = range.clock + range.len;
      if (end > (provides.get(client) ?? state)) reject('E_UPDATE_MISSING_DEPENDENCY', 'deletes unknown content');
      if (!stored || range.clock >= state) continue;
      let index = Y.findIndexSS(stored, range.clock);
      for (; index < stored.length; index++) {
        const struct = stored[index];
        if (!struct || struct.id.clock >= end) break;
        if (!(struct instanceof Y.Item) || struct.deleted) continue;
        newDeletes += 1;
        const target = targetOfStored(struct);
        if (target === null || !INTENT.has(target.root)) reject('E_UPDATE_FORBIDDEN_FIELD', 'deletes a field written by the server only');
        // Deleting a live line's description alone would keep its quantity and lose who added it.
        if (target.root === 'lines' && !describedOrRemoved.has(target.key)) {
          reject('E_UPDATE_FORBIDDEN_FIELD', `lines[${JSON.stringify(target.key.slice(0, 80))}]: remove a line by setting its quantity to 0`);
        }
      }
    }
  }

  if (doc.getMap('coupons').size + newKeys.coupons.size > ctx.limits.maxCoupons && newKeys.coupons.size > 0) {
    reject('E_UPDATE_INVALID_VALUE', `more than ${ctx.limits.maxCoupons} coupons`);
  }
  if (doc.getMap('attrs').size + newKeys.attrs.size > ctx.limits.maxAttributes && newKeys.attrs.size > 0) {
    reject('E_UPDATE_INVALID_VALUE', `more than ${ctx.limits.maxAttributes} attributes`);
  }
  // Every line record counts, live or not (a removed line until the server collects it), or
  // records of zero quantity could pile up unseen.
  if (touchedLines.size > 0) {
    const exceeded = lineLimitExceeded(doc, touchedLines, ctx.limits);
    if (exceeded !== null) reject('E_UPDATE_TOO_MANY_LINES', exceeded);
  }
  return { touchesLines, insertedItems: inserted, newDeletes };
}
