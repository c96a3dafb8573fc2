/**
 * What the REST API answers: the cart view, lines, tokens and the error shape. Prices and totals
 * are facts the server derives; a client never sends them.
 */
import * as z from 'zod';
import { ERRORS, type ErrorCode } from '../errors.ts';
import { Money } from './catalog.ts';
import { LineId } from './cart.ts';
import { CartId, Currency, Sku } from './identifiers.ts';

export const ErrorBody = z
  .strictObject({
    error: z.strictObject({
      code: z.enum(Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      retryable: z.boolean().meta({ description: 'Whether sending the same request later can succeed.' }),
      detail: z.string().optional().meta({ description: 'Which field was refused, and why.' }),
    }),
  })
  .meta({ id: 'Error' });

export const Warning = z.strictObject({ code: z.string(), message: z.string(), data: z.record(z.string(), z.unknown()).optional() }).meta({ id: 'Warning' });
const Actor = z.strictObject({ id: z.string(), role: z.string(), name: z.string().optional().meta({ description: "The writer's display name, from its token." }) });

export const LineView = z
  .strictObject({
    lineId: LineId,
    sku: Sku,
    options: z.record(z.string(), z.string()),
    quantity: z.int(),
    note: z.string(),
    addedBy: Actor.nullable(),
    addedAt: z.int().nullable(),
    changedBy: Actor.nullable().meta({ description: 'Who made the latest quantity change (null: before 1.4, or the server).' }),
    changedAt: z.int().nullable(),
    priced: z.boolean().meta({ description: "The prices below were computed for this line's current quantity; when false they are all null." }),
    unitPrice: Money.nullable(),
    listPrice: Money.nullable(),
    discount: Money.nullable(),
    lineTotal: Money.nullable(),
    available: z.int().nullable(),
    addedPrice: Money.nullable(),
    warnings: z.array(Warning),
  })
  .meta({ id: 'Line' });

export const Totals = z.strictObject({ subtotal: Money, discount: Money, tax: Money, shipping: Money, total: Money }).meta({ id: 'Totals' });

export const CartView = z
  .strictObject({
    cartId: CartId,
    version: z.int(),
    status: z.enum(['open', 'checking_out', 'ordered', 'merged', 'expired']),
    mergedInto: CartId.nullable().meta({ description: "With status merged: the customer's cart this one was merged into at her sign-in." }),
    currency: Currency.nullable(),
    lines: z.array(LineView),
    coupons: z.array(z.string()),
    attributes: z.record(z.string(), z.string()),
    priced: z.boolean().meta({ description: 'Every line and the totals were priced for the cart as it is now.' }),
    totals: Totals.nullable().meta({ description: 'null until the cart is priced for its current lines, quantities and coupons.' }),
    warnings: z.array(Warning),
  })
  .meta({ id: 'Cart' });

/** A line after a change, with the cart version that holds it. */
export const LineChanged = z.strictObject({ ...LineView.shape, version: z.int() }).meta({ id: 'LineChanged' });
export const CouponsChanged = z.strictObject({ coupons: z.array(z.string()), version: z.int() }).meta({ id: 'CouponsChanged' });
export const CreatedCart = z
  .strictObject({ cartId: CartId, token: z.string().meta({ description: 'A customer token for this cart.' }), expiresAt: z.iso.datetime() })
  .meta({ id: 'CreatedCart' });
