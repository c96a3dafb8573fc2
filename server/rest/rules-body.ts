/**
 * Admin pricing-rule bodies → rules. The identity comes from the path; a body may repeat it (so a
 * rule read from GET /v1/pricing/rules can be PUT back as is) but must then match.
 */
import type { Coupon, PriceList, Promotion, PromotionEffect, PromotionTarget, ShippingRule, TaxRule, VolumeTier } from '../../protocol/index.ts';
import { type Fields, MAX_AMOUNT, amount, bool, category, currency, fail, int, intOrNull, known, object, sku, text } from './fields.ts';

const MAX_TIME = 8.64e15; // the largest Date
const MAX_PRICE_LIST_SKUS = 5000;

function sameIdentity(o: Fields, key: string, value: string | number): void {
  if (o[key] !== undefined && o[key] !== value) fail(key, 'must match the path');
}

function target(v: unknown, path: string): PromotionTarget {
  const o = object(v, path);
  const keys = Object.keys(o);
  if (keys.length !== 1) fail(path, 'must have exactly one of sku, category, cartOver');
  if (o.sku !== undefined) return { sku: sku(o.sku, `${path}.sku`) };
  if (o.category !== undefined) return { category: category(o.category, `${path}.category`) };
  if (o.cartOver !== undefined) return { cartOver: amount(o.cartOver, `${path}.cartOver`) };
  return fail(path, 'must have exactly one of sku, category, cartOver');
}

export function effect(v: unknown, path = 'effect'): PromotionEffect {
  const o = object(v, path);
  switch (o.kind) {
    case 'percent_off':
      known(o, ['kind', 'percent', 'target'], path);
      return { kind: 'percent_off', percent: int(o.percent, `${path}.percent`, 0, 100), target: target(o.target, `${path}.target`) };
    case 'amount_off':
      known(o, ['kind', 'amount', 'target'], path);
      return { kind: 'amount_off', amount: amount(o.amount, `${path}.amount`), target: target(o.target, `${path}.target`) };
    case 'buy_x_get_y':
      known(o, ['kind', 'buySku', 'buyQuantity', 'getSku', 'getQuantity', 'percentOff'], path);
      return {
        kind: 'buy_x_get_y',
        buySku: sku(o.buySku, `${path}.buySku`),
        buyQuantity: int(o.buyQuantity, `${path}.buyQuantity`, 1, 1_000_000),
        getSku: sku(o.getSku, `${path}.getSku`),
        getQuantity: int(o.getQuantity, `${path}.getQuantity`, 1, 1_000_000),
        percentOff: int(o.percentOff, `${path}.percentOff`, 0, 100),
      };
    default:
      return fail(`${path}.kind`, 'must be percent_off, amount_off or buy_x_get_y');
  }
}

function window(o: Fields): { startsAt: number | null; endsAt: number | null } {
  const startsAt = o.startsAt === undefined ? null : intOrNull(o.startsAt, 'startsAt', 0, MAX_TIME);
  const endsAt = o.endsAt === undefined ? null : intOrNull(o.endsAt, 'endsAt', 0, MAX_TIME);
  if (startsAt !== null && endsAt !== null && endsAt <= startsAt) fail('endsAt', 'must be after startsAt');
  return { startsAt, endsAt };
}

export function promotionBody(id: string, body: unknown): Promotion {
  const o = object(body, 'body');
  known(o, ['id', 'name', 'currency', 'effect', 'startsAt', 'endsAt'], '');
  sameIdentity(o, 'id', id);
  return { id, name: text(o.name, 'name', 200), currency: currency(o.currency, 'currency'), effect: effect(o.effect), ...window(o) };
}

/** `used` defaults to what the replaced coupon had counted (`previousUsed`), so an edit keeps it. */
export function couponBody(code: string, body: unknown, previousUsed: number): Coupon {
  const o = object(body, 'body');
  known(o, ['code', 'name', 'currency', 'effect', 'startsAt', 'endsAt', 'usageLimit', 'used'], '');
  if (o.code !== undefined && (typeof o.code !== 'string' || o.code.toUpperCase() !== code)) fail('code', 'must match the path');
  return {
    code,
    name: text(o.name, 'name', 200),
    currency: currency(o.currency, 'currency'),
    effect: effect(o.effect),
    ...window(o),
    usageLimit: o.usageLimit === undefined ? null : intOrNull(o.usageLimit, 'usageLimit', 0, 1_000_000_000),
    used: o.used === undefined ? previousUsed : int(o.used, 'used', 0, 1_000_000_000),
  };
}

export function priceListBody(segment: string, cur: string, body: unknown): PriceList {
  const o = object(body, 'body');
  known(o, ['segment', 'currency', 'prices'], '');
  sameIdentity(o, 'segment', segment);
  sameIdentity(o, 'currency', cur);
  const prices = object(o.prices, 'prices');
  const entries = Object.entries(prices);
  if (entries.length > MAX_PRICE_LIST_SKUS) fail('prices', `has more than ${MAX_PRICE_LIST_SKUS} SKUs`);
  for (const [key, value] of entries) {
    sku(key, `prices key ${JSON.stringify(key.slice(0, 70))}`);
    amount(value, `prices.${key}`);
  }
  return { segment, currency: cur, prices: prices as Record<string, number> };
}

export function volumeTierBody(s: string, cur: string, minQuantity: number, body: unknown): VolumeTier {
  const o = object(body, 'body');
  known(o, ['sku', 'currency', 'minQuantity', 'unitPrice'], '');
  sameIdentity(o, 'sku', s);
  sameIdentity(o, 'currency', cur);
  sameIdentity(o, 'minQuantity', minQuantity);
  return { sku: s, currency: cur, minQuantity, unitPrice: amount(o.unitPrice, 'unitPrice') };
}

export function taxRuleBody(region: string, body: unknown): TaxRule {
  const o = object(body, 'body');
  known(o, ['region', 'rateBps', 'inclusive'], '');
  sameIdentity(o, 'region', region);
  return { region, rateBps: int(o.rateBps, 'rateBps', 0, 10_000), inclusive: bool(o.inclusive, 'inclusive') };
}

export function shippingBody(cur: string, body: unknown): ShippingRule {
  const o = object(body, 'body');
  known(o, ['currency', 'flat', 'freeOver'], '');
  sameIdentity(o, 'currency', cur);
  return { currency: cur, flat: amount(o.flat, 'flat'), freeOver: o.freeOver === undefined ? null : intOrNull(o.freeOver, 'freeOver', 0, MAX_AMOUNT) };
}
