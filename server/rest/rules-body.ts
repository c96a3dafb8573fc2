/**
 * Admin pricing-rule bodies → rules. Shapes are the shared schemas (protocol/schemas/rules.ts); the
 * identity comes from the path, and a body that repeats it must match.
 */
import type { z } from 'zod';
import { CartError, type Coupon, type PriceList, type Promotion, type PromotionEffect, type PromotionTarget, type ShippingRule, type TaxRule, type VolumeTier } from '../../protocol/index.ts';
import { CouponBody, PriceListBody, PromotionBody, type PromotionEffect as EffectSchema, ShippingBody, TaxRuleBody, VolumeTierBody } from '../../protocol/schemas/index.ts';
import { parseBody } from './body.ts';

function sameIdentity(given: unknown, key: string, value: string | number): void {
  if (given !== undefined && given !== value) throw new CartError('E_VALIDATION', `${key} must match the path`);
}

function target(t: { sku?: string | undefined; category?: string | undefined; cartOver?: number | undefined }): PromotionTarget {
  if (t.sku !== undefined) return { sku: t.sku };
  if (t.category !== undefined) return { category: t.category };
  return { cartOver: t.cartOver ?? 0 };
}

function effect(e: z.output<typeof EffectSchema>): PromotionEffect {
  return e.kind === 'buy_x_get_y' ? e : { ...e, target: target(e.target) };
}

const window = (o: { startsAt?: number | null | undefined; endsAt?: number | null | undefined }) => ({ startsAt: o.startsAt ?? null, endsAt: o.endsAt ?? null });

export function promotionBody(id: string, body: unknown): Promotion {
  const o = parseBody(PromotionBody, body);
  sameIdentity(o.id, 'id', id);
  return { id, name: o.name, currency: o.currency, effect: effect(o.effect), ...window(o) };
}

/** `used` defaults to what the replaced coupon had counted (`previousUsed`), so an edit keeps it. */
export function couponBody(code: string, body: unknown, previousUsed: number): Coupon {
  const o = parseBody(CouponBody, body);
  if (o.code !== undefined && o.code.toUpperCase() !== code) throw new CartError('E_VALIDATION', 'code must match the path');
  return { code, name: o.name, currency: o.currency, effect: effect(o.effect), ...window(o), usageLimit: o.usageLimit ?? null, used: o.used ?? previousUsed };
}

export function priceListBody(segment: string, currency: string, body: unknown): PriceList {
  const o = parseBody(PriceListBody, body);
  sameIdentity(o.segment, 'segment', segment);
  sameIdentity(o.currency, 'currency', currency);
  return { segment, currency, prices: o.prices };
}

export function volumeTierBody(sku: string, currency: string, minQuantity: number, body: unknown): VolumeTier {
  const o = parseBody(VolumeTierBody, body);
  sameIdentity(o.sku, 'sku', sku);
  sameIdentity(o.currency, 'currency', currency);
  sameIdentity(o.minQuantity, 'minQuantity', minQuantity);
  return { sku, currency, minQuantity, unitPrice: o.unitPrice };
}

export function taxRuleBody(region: string, body: unknown): TaxRule {
  const o = parseBody(TaxRuleBody, body);
  sameIdentity(o.region, 'region', region);
  return { region, rateBps: o.rateBps, inclusive: o.inclusive };
}

export function shippingBody(currency: string, body: unknown): ShippingRule {
  const o = parseBody(ShippingBody, body);
  sameIdentity(o.currency, 'currency', currency);
  return { currency, flat: o.flat, freeOver: o.freeOver ?? null };
}
