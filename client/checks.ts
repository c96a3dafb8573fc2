/**
 * Client-side checks of every cart operation against the cart's limits: the same ranges and
 * patterns protocol/validate.ts enforces on the server, checked before the change is made, so the
 * library never produces an update the server would reject. Each throws CartError synchronously.
 */
import type * as Y from 'yjs';
import {
  type AddLineInput,
  ATTRIBUTE_KEY_PATTERN,
  COUPON_PATTERN,
  CartError,
  type CartLimits,
  OPTION_KEY_PATTERN,
  SKU_PATTERN,
  lineIdOf,
  lineLimitExceeded,
  quantityOf,
  roots,
} from '../protocol/index.ts';

/** Longest line id the server accepts (protocol/validate.ts checkLineId). */
const MAX_LINE_ID_LENGTH = 1024;
/** Longest `viewing` the server keeps in presence (server/presence.ts truncates beyond). */
export const MAX_VIEWING_LENGTH = 200;

function invalid(detail: string): never {
  throw new CartError('E_UPDATE_INVALID_VALUE', detail);
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

function checkNewLine(doc: Y.Doc, lineId: string, limits: CartLimits): void {
  const exceeded = lineLimitExceeded(doc, [lineId], limits);
  if (exceeded !== null) throw new CartError('E_UPDATE_TOO_MANY_LINES', exceeded);
}

/** Check an add; returns the line id it will write. */
export function checkAdd(doc: Y.Doc, input: AddLineInput, limits: CartLimits): string {
  if (typeof input.sku !== 'string' || !SKU_PATTERN.test(input.sku)) invalid('sku must match SKU_PATTERN');
  if (!isInt(input.quantity, 1, limits.maxQuantity)) invalid(`quantity must be an integer 1..${limits.maxQuantity}`);
  const options = input.options ?? {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) invalid('options must be an object');
  const keys = Object.keys(options);
  if (keys.length > limits.maxOptions) invalid(`at most ${limits.maxOptions} options`);
  for (const key of keys) {
    const value: unknown = options[key];
    if (!OPTION_KEY_PATTERN.test(key)) invalid(`option name ${JSON.stringify(key.slice(0, 40))} is invalid`);
    if (typeof value !== 'string' || value.length > limits.maxOptionLength) {
      invalid(`option ${key} must be a string of at most ${limits.maxOptionLength} characters`);
    }
  }
  if (input.note !== undefined) checkNote(input.note, limits);
  const lineId = lineIdOf(input.sku, options);
  if (lineId.length > MAX_LINE_ID_LENGTH) invalid('sku and options are too long together');
  checkNewLine(doc, lineId, limits);
  return lineId;
}

/**
 * Check a quantity change. Returns false when there is nothing to do (removing a line that is not
 * in the cart); throws E_LINE_NOT_FOUND when setting a quantity on an unknown line.
 */
export function checkSetQuantity(doc: Y.Doc, lineId: string, quantity: number, limits: CartLimits): boolean {
  if (!isInt(quantity, 0, limits.maxQuantity)) invalid(`quantity must be an integer 0..${limits.maxQuantity}`);
  const live = typeof lineId === 'string' && quantityOf(doc, lineId, limits.maxQuantity) > 0;
  if (quantity === 0) return live;
  if (!live && !roots(doc).lines.has(lineId)) throw new CartError('E_LINE_NOT_FOUND', String(lineId).slice(0, 80));
  checkNewLine(doc, lineId, limits);
  return true;
}

export function checkNote(note: unknown, limits: CartLimits): void {
  if (typeof note !== 'string' || note.length > limits.maxNoteLength) invalid(`note must be a string of at most ${limits.maxNoteLength} characters`);
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
  if (typeof value !== 'string' || value.length > limits.maxAttributeLength) {
    invalid(`attribute value must be a string of at most ${limits.maxAttributeLength} characters`);
  }
  const { attrs } = roots(doc);
  if (!attrs.has(key) && attrs.size + 1 > limits.maxAttributes) invalid(`at most ${limits.maxAttributes} attributes`);
}

export function checkViewing(viewing: unknown): void {
  if (viewing !== null && (typeof viewing !== 'string' || viewing.length > MAX_VIEWING_LENGTH)) {
    throw new CartError('E_AWARENESS_INVALID', `viewing must be null or a string of at most ${MAX_VIEWING_LENGTH} characters`);
  }
}
