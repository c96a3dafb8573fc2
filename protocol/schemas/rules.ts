/**
 * Pricing-rule shapes (admin API). A rule's identity comes from the path; a body may repeat it
 * (so a rule read from GET /v1/pricing/rules can be PUT back as is) and the route checks it matches.
 */
import * as z from 'zod';
import { Amount, Category, CouponCode, Currency, MAX_AMOUNT, PromotionId, Region, Segment, Sku, intIn } from './identifiers.ts';
import { plainText } from './text.ts';

const MAX_TIME = 8.64e15; // the largest Date
export const MAX_PRICE_LIST_SKUS = 5000;
const Time = intIn(0, MAX_TIME).nullable().meta({ description: 'Milliseconds since the epoch; null: open-ended.' });
const RuleName = plainText(200, 1);

const ONE_TARGET = 'must have exactly one of sku, category, cartOver';
/** What a promotion applies to: exactly one of a SKU, a category, or a cart subtotal threshold. */
export const PromotionTarget = z
  .strictObject({ sku: Sku.optional(), category: Category.optional(), cartOver: Amount.optional() }, { error: ONE_TARGET })
  .refine((t) => Object.keys(t).length === 1, { error: ONE_TARGET })
  .meta({ id: 'PromotionTarget' });

const percent = intIn(0, 100);
const count = intIn(1, 1_000_000);
export const PromotionEffect = z
  .discriminatedUnion(
    'kind',
    [
      z.strictObject({ kind: z.literal('percent_off'), percent, target: PromotionTarget }),
      z.strictObject({ kind: z.literal('amount_off'), amount: Amount, target: PromotionTarget }),
      z.strictObject({ kind: z.literal('buy_x_get_y'), buySku: Sku, buyQuantity: count, getSku: Sku, getQuantity: count, percentOff: percent }),
    ],
    { error: 'must be percent_off, amount_off or buy_x_get_y' },
  )
  .meta({ id: 'PromotionEffect' });

const windowFields = { startsAt: Time.optional(), endsAt: Time.optional() };
const windowOk = (o: { startsAt?: number | null; endsAt?: number | null }): boolean => o.startsAt == null || o.endsAt == null || o.endsAt > o.startsAt;
const AFTER = { error: 'must be after startsAt', path: ['endsAt'] };

export const PromotionBody = z
  .strictObject({ id: PromotionId.optional(), name: RuleName, currency: Currency, effect: PromotionEffect, ...windowFields })
  .refine(windowOk, AFTER)
  .meta({ id: 'PromotionBody' });

export const CouponBody = z
  .strictObject({
    code: CouponCode.optional(),
    name: RuleName,
    currency: Currency,
    effect: PromotionEffect,
    ...windowFields,
    usageLimit: intIn(0, 1_000_000_000).nullable().optional().meta({ description: 'Uses allowed; null or absent: unlimited.' }),
    used: intIn(0, 1_000_000_000).optional().meta({ description: 'Default: what the replaced coupon had counted.' }),
  })
  .refine(windowOk, AFTER)
  .meta({ id: 'CouponBody' });

export const PriceListBody = z
  .strictObject({
    segment: Segment.optional(),
    currency: Currency.optional(),
    prices: z
      .record(Sku, Amount)
      .refine((p) => Object.keys(p).length <= MAX_PRICE_LIST_SKUS, { error: `has more than ${MAX_PRICE_LIST_SKUS} SKUs` }),
  })
  .meta({ id: 'PriceListBody' });

export const VolumeTierBody = z
  .strictObject({ sku: Sku.optional(), currency: Currency.optional(), minQuantity: z.int().optional(), unitPrice: Amount })
  .meta({ id: 'VolumeTierBody' });

export const TaxRuleBody = z
  .strictObject({ region: Region.optional(), rateBps: intIn(0, 10_000).meta({ description: 'Basis points: 825 = 8.25 %.' }), inclusive: z.boolean({ error: 'must be true or false' }) })
  .meta({ id: 'TaxRuleBody' });

export const ShippingBody = z
  .strictObject({ currency: Currency.optional(), flat: Amount, freeOver: intIn(0, MAX_AMOUNT).nullable().optional() })
  .meta({ id: 'ShippingBody' });

/** Every stored rule, as GET /v1/pricing/rules answers: the bodies above, each with its identity. */
const list = z.array(z.looseObject({}));
export const RulesDump = z
  .strictObject({
    version: z.int().meta({ description: 'Bumped by every stored change.' }),
    rules: z.strictObject({ promotions: list, coupons: list, priceLists: list, volumeTiers: list, taxRules: list, shipping: list }),
  })
  .meta({ id: 'Rules' });
