/**
 * Client-side checks of every cart operation against the cart's limits, with the same schemas
 * (protocol/schemas) protocol/validate.ts enforces on the server, checked before the change is made, so the
 * library never produces an update the server would reject. Each throws CartError synchronously.
 */
import type * as Y from 'yjs';
import type { z } from 'zod';
import {
  type AddLineInput,
  ATTRIBUTE_KEY_PATTERN,
  COUPON_PATTERN,
  CartError,
  type CartLimits,
  lineIdOf,
  lineLimitExceeded,
  quantityOf,
  roots,
} from '../protocol/index.ts';
import { cartSchemas } from '../protocol/schemas/cart.ts';
import { intIn } from '../protocol/schemas/identifiers.ts';
import { describeIssue } from '../protocol/schemas/parse.ts';

/** Longest `viewing` the server keeps in presence (server/presence.ts truncates beyond). */
export const MAX_VIEWING_LENGTH = 200;

function invalid(detail: string): never {
  throw new CartError('E_UPDATE_INVALID_VALUE', detail);
}

/** The same schema the server validates the resulting document value with. */
function check(schema: z.ZodType, value: unknown, root: string): void {
  const result = schema.safeParse(value);
  if (!result.success) invalid(describeIssue(result.error.issues[0]!, root));
}

function checkNewLine(doc: Y.Doc, lineId: string, limits: CartLimits): void {
  const exceeded = lineLimitExceeded(doc, [lineId], limits);
  if (exceeded !== null) throw new CartError('E_UPDATE_TOO_MANY_LINES', exceeded);
}

/** Check an add; returns the line id it will write. */
export function checkAdd(doc: Y.Doc, input: AddLineInput, limits: CartLimits): string {
  check(cartSchemas(limits).addLine, input, 'add');
  const lineId = lineIdOf(input.sku, input.options ?? {});
  checkNewLine(doc, lineId, limits);
  return lineId;
}

/**
 * Check a quantity change. Returns false when there is nothing to do (removing a line that is not
 * in the cart); throws E_LINE_NOT_FOUND when setting a quantity on an unknown line.
 */
export function checkSetQuantity(doc: Y.Doc, lineId: string, quantity: number, limits: CartLimits): boolean {
  check(intIn(0, limits.maxQuantity), quantity, 'quantity');
  const live = typeof lineId === 'string' && quantityOf(doc, lineId, limits.maxQuantity) > 0;
  if (quantity === 0) return live;
  if (!live && !roots(doc).lines.has(lineId)) throw new CartError('E_LINE_NOT_FOUND', String(lineId).slice(0, 80));
  checkNewLine(doc, lineId, limits);
  return true;
}

export function checkNote(note: unknown, limits: CartLimits): void {
  check(cartSchemas(limits).note, note, 'note');
}

/** Check a note change on an existing line. */
export function checkSetNote(doc: Y.Doc, lineId: string, note: unknown, limits: CartLimits): void {
  checkNote(note, limits);
  if (!roots(doc).lines.has(lineId)) throw new CartError('E_LINE_NOT_FOUND', String(lineId).slice(0, 80));
}

export function checkCoupon(doc: Y.Doc, code: unknown, limits: CartLimits): void {
  if (typeof code !== 'string' || !COUPON_PATTERN.test(code)) invalid('coupon code must match COUPON_PATTERN');
  const { coupons } = roots(doc);
  if (!coupons.has(code.toUpperCase()) && coupons.size + 1 > limits.maxCoupons) invalid(`at most ${limits.maxCoupons} coupons`);
}

export function checkAttribute(doc: Y.Doc, key: unknown, value: unknown, limits: CartLimits): void {
  if (typeof key !== 'string' || !ATTRIBUTE_KEY_PATTERN.test(key)) invalid('attribute name must match ATTRIBUTE_KEY_PATTERN');
  if (value === null) return;
  check(cartSchemas(limits).attributeValue, value, 'attribute value');
  const { attrs } = roots(doc);
  if (!attrs.has(key) && attrs.size + 1 > limits.maxAttributes) invalid(`at most ${limits.maxAttributes} attributes`);
}

export function checkViewing(viewing: unknown): void {
  if (viewing !== null && (typeof viewing !== 'string' || viewing.length > MAX_VIEWING_LENGTH)) {
    throw new CartError('E_AWARENESS_INVALID', `viewing must be null or a string of at most ${MAX_VIEWING_LENGTH} characters`);
  }
}
