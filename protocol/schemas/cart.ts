/**
 * The shapes of cart intent, one definition each, for every path that writes it: REST bodies, the
 * client library's checks, and protocol/validate.ts on a device's update. Bounds come from the
 * cart's limits, so the schemas are built per limits object (and cached).
 *
 * The line id bound is one rule: an add is valid only when `lineIdOf(sku, options)` fits
 * MAX_LINE_ID_LENGTH, so whatever REST or the client accepts, a device can edit later.
 */
import * as z from 'zod';
import { type CartLimits, QADD_SEPARATOR, SKU_PATTERN, lineIdOf } from '../schema.ts';
import { CouponCode, OptionKey, Sku, intIn } from './identifiers.ts';
import { multilineText, plainText } from './text.ts';

/** Longest line id (SKU plus encoded options) a cart holds. */
export const MAX_LINE_ID_LENGTH = 1024;
/** Length of a quantity set's id and of an add's base. */
export const MAX_SET_ID_LENGTH = 64;

/** True when `lineId` could have been made by lineIdOf from a valid SKU and fits the bound. */
export function isLineId(lineId: string): boolean {
  return lineId.length <= MAX_LINE_ID_LENGTH && SKU_PATTERN.test(lineId.split('?')[0] ?? '') && !lineId.includes(QADD_SEPARATOR);
}

export const LineId = z
  .string()
  .refine(isLineId, { error: `must be a line id (SKU plus options, at most ${MAX_LINE_ID_LENGTH} characters)` })
  .meta({ description: 'SKU plus its sorted, URL-encoded options: `SKU?color=red&size=40`.', example: 'SHOE-1?size=40' });

const fitsLineId = (v: { sku: string; options?: Record<string, string> | undefined }): boolean => lineIdOf(v.sku, v.options ?? {}).length <= MAX_LINE_ID_LENGTH;
const LINE_ID_TOO_LONG = { error: `sku and options are too long together (their line id exceeds ${MAX_LINE_ID_LENGTH} characters)`, path: ['options'] };

function build(limits: CartLimits) {
  const optionValue = plainText(limits.maxOptionLength);
  const options = z
    .record(OptionKey, optionValue)
    .refine((o) => Object.keys(o).length <= limits.maxOptions, { error: `must have at most ${limits.maxOptions} options` })
    .meta({ description: `At most ${limits.maxOptions} options; values of at most ${limits.maxOptionLength} characters.`, example: { size: '40' } });
  const note = multilineText(limits.maxNoteLength).meta({ description: 'Plain text; displays must escape it.' });
  const addedBy = z.strictObject({ id: z.string(), role: z.string(), name: plainText(80, 1).optional() });

  /**
   * `lines[lineId]` as stored in the document. The line id bound is checked on the key (isLineId)
   * and validate.ts requires `lineIdOf(sku, options) === key`, so no refinement is needed here.
   */
  const lineIntent = z.strictObject({ sku: Sku, options, note, addedBy, addedAt: intIn(0, Number.MAX_SAFE_INTEGER) });
  const changedAt = intIn(0, Number.MAX_SAFE_INTEGER).optional();
  const quantitySet = z.strictObject({ q: intIn(0, limits.maxQuantity), id: z.string().min(1).max(MAX_SET_ID_LENGTH), by: addedBy.optional(), at: changedAt });
  const quantityAdd = z.strictObject({ n: intIn(1, limits.maxQuantity), base: z.string().max(MAX_SET_ID_LENGTH).nullable(), by: addedBy.optional(), at: changedAt });
  const attributeValue = plainText(limits.maxAttributeLength);

  /** An add, from REST (POST .../lines) or the client library. */
  const addLine = z
    .strictObject({ sku: Sku, quantity: intIn(1, limits.maxQuantity), options: options.optional(), note: note.optional() })
    .refine(fitsLineId, LINE_ID_TOO_LONG)
    .meta({ id: 'AddLine' });
  const patchLine = z
    .strictObject({ quantity: intIn(0, limits.maxQuantity).optional().meta({ description: '0 removes the line.' }), note: note.optional() })
    .refine((b) => b.quantity !== undefined || b.note !== undefined, { error: 'must give quantity or note' })
    .meta({ id: 'PatchLine' });
  const coupons = z
    .strictObject({
      codes: z.array(CouponCode).max(limits.maxCoupons, { error: `must hold at most ${limits.maxCoupons} coupon codes` }),
    })
    .meta({ id: 'SetCoupons' });
  return { options, note, lineIntent, quantitySet, quantityAdd, attributeValue, addLine, patchLine, coupons };
}

export type CartSchemas = ReturnType<typeof build>;
const cache = new WeakMap<CartLimits, CartSchemas>();

/** The cart shapes under `limits` (built once per limits object). */
export function cartSchemas(limits: CartLimits): CartSchemas {
  let schemas = cache.get(limits);
  if (!schemas) cache.set(limits, (schemas = build(limits)));
  return schemas;
}

export const CreateCart = z.strictObject({}).meta({ id: 'CreateCart', description: 'No fields; the body may be omitted.' });
