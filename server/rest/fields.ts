/**
 * Field validators for nested admin bodies: each takes the value and its path in the body
 * (`products[3].prices.EUR`) and throws E_VALIDATION naming that path.
 */
import { CartError, SKU_PATTERN } from '../../protocol/index.ts';

export const CURRENCY_PATTERN = /^[A-Z]{3}$/;
/** Categories and price-list segments: a short identifier. */
export const CATEGORY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const SEGMENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
/** ISO 3166-1 country, optionally with an ISO 3166-2 subdivision: "DE", "US-CA". */
export const REGION_PATTERN = /^[A-Z]{2}(-[A-Z0-9]{1,3})?$/;
export const PROMOTION_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** Largest money amount in minor units (well inside double precision and Lua's cjson). */
export const MAX_AMOUNT = 1_000_000_000_000;
export const MAX_STOCK = 1_000_000_000;

export type Fields = Record<string, unknown>;

export function fail(path: string, what: string): never {
  throw new CartError('E_VALIDATION', `${path} ${what}`);
}

export function object(v: unknown, path: string): Fields {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'must be an object');
  return v as Fields;
}

export function known(o: Fields, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(path === '' ? 'body' : path, `has unknown field ${JSON.stringify(k.slice(0, 40))}`);
}

export function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(path, `must be an integer from ${min} to ${max}`);
  return v;
}

export function intOrNull(v: unknown, path: string, min: number, max: number): number | null {
  return v === null ? null : int(v, path, min, max);
}

export function amount(v: unknown, path: string): number {
  return int(v, path, 0, MAX_AMOUNT);
}

export function text(v: unknown, path: string, maxLength: number): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength) fail(path, `must be a string of 1-${maxLength} characters`);
  return v;
}

export function matching(v: unknown, path: string, pattern: RegExp, description: string): string {
  if (typeof v !== 'string' || !pattern.test(v)) fail(path, `must be ${description}`);
  return v;
}

export function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, 'must be true or false');
  return v;
}

export const currency = (v: unknown, path: string): string => matching(v, path, CURRENCY_PATTERN, 'an ISO 4217 code (3 capital letters)');
export const sku = (v: unknown, path: string): string =>
  matching(v, path, SKU_PATTERN, '1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit');
export const category = (v: unknown, path: string): string =>
  matching(v, path, CATEGORY_PATTERN, '1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit');

/** `{ CUR: amount }`; with `allowNull`, a null amount means "remove this currency". */
export function priceMap(v: unknown, path: string, allowNull: boolean): Record<string, number | null> {
  const o = object(v, path);
  const entries = Object.entries(o);
  if (entries.length > 200) fail(path, 'has more than 200 currencies');
  const out: Record<string, number | null> = {};
  for (const [cur, value] of entries) {
    currency(cur, `${path} key ${JSON.stringify(cur.slice(0, 8))}`);
    out[cur] = allowNull && value === null ? null : amount(value, `${path}.${cur}`);
  }
  return out;
}

/** `{ amount, currency }`. */
export function money(v: unknown, path: string): { amount: number; currency: string } {
  const o = object(v, path);
  known(o, ['amount', 'currency'], path);
  return { amount: amount(o.amount, `${path}.amount`), currency: currency(o.currency, `${path}.currency`) };
}

/** A path parameter that must match `pattern` (E_VALIDATION naming it). */
export function param(v: string | undefined, name: string, pattern: RegExp, description: string): string {
  return matching(v, `${name} (in the path)`, pattern, description);
}
