/** Identifiers shared by the document, REST and the admin API: one pattern, one message each. */
import * as z from 'zod';
import { ATTRIBUTE_KEY_PATTERN, CART_ID_PATTERN, COUPON_PATTERN, OPTION_KEY_PATTERN, SKU_PATTERN } from '../schema.ts';

export const CURRENCY_PATTERN = /^[A-Z]{3}$/;
/** Categories: a short identifier. */
export const CATEGORY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Price-list segments (a token's `segment` claim). */
export const SEGMENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
/** ISO 3166-1 country, optionally with an ISO 3166-2 subdivision: "DE", "US-CA". */
export const REGION_PATTERN = /^[A-Z]{2}(-[A-Z0-9]{1,3})?$/;
export const PROMOTION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

const pattern = (re: RegExp, what: string): z.ZodString => z.string({ error: `must be ${what}` }).regex(re, { error: `must be ${what}` });

export const Sku = pattern(SKU_PATTERN, '1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit').meta({ description: 'A product SKU.', example: 'SHOE-1' });
export const CouponCode = pattern(COUPON_PATTERN, '1-32 characters of A-Z a-z 0-9 _ -').meta({ description: 'A coupon code; stored in capitals.', example: 'SAVE10' });
export const OptionKey = pattern(OPTION_KEY_PATTERN, '1-32 characters of A-Z a-z 0-9 _ - starting with a letter');
export const AttributeKey = pattern(ATTRIBUTE_KEY_PATTERN, '1-40 characters of A-Z a-z 0-9 _ . - starting with a letter');
export const CartId = pattern(CART_ID_PATTERN, '8-64 characters of A-Z a-z 0-9 _ -').meta({ description: 'An opaque, URL-safe cart id.' });
export const Currency = pattern(CURRENCY_PATTERN, 'an ISO 4217 code (3 capital letters)').meta({ example: 'USD' });
export const Category = pattern(CATEGORY_PATTERN, '1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit');
export const Segment = pattern(SEGMENT_PATTERN, '1-32 characters of A-Z a-z 0-9 _ -');
export const Region = pattern(REGION_PATTERN, 'an ISO 3166 country or subdivision code ("DE", "US-CA")');
export const PromotionId = pattern(PROMOTION_ID_PATTERN, '1-64 characters of A-Z a-z 0-9 _ -');

/** An integer in `min..max`, with one message for every way of missing it. */
export function intIn(min: number, max: number): z.ZodInt {
  const error = `must be an integer from ${min} to ${max}`;
  return z.int({ error }).min(min, { error }).max(max, { error });
}

/** Largest money amount in minor units (well inside double precision and Lua's cjson). */
export const MAX_AMOUNT = 1_000_000_000_000;
export const MAX_STOCK = 1_000_000_000;
export const Amount = intIn(0, MAX_AMOUNT).meta({ description: 'Integer minor units (cents for USD).' });

/** An absolute http(s) URL (image URLs, a shop's pricing and inventory services). */
export const HttpUrl = z.string({ error: 'must be an http(s) URL' }).refine((v) => /^https?:\/\/\S+$/.test(v) && URL.canParse(v), { error: 'must be an http(s) URL' });
