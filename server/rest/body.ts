/** Small validators for REST bodies: each throws E_VALIDATION naming the field. */
import { CartError, type CartLimits, COUPON_PATTERN, OPTION_KEY_PATTERN, SKU_PATTERN } from '../../protocol/index.ts';

export type Body = Record<string, unknown>;

export function asObject(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new CartError('E_VALIDATION', 'body must be a JSON object');
  return body as Body;
}

export function onlyKeys(body: Body, allowed: readonly string[]): void {
  for (const k of Object.keys(body)) if (!allowed.includes(k)) throw new CartError('E_VALIDATION', `unknown field ${JSON.stringify(k.slice(0, 40))}`);
}

export function intField(body: Body, key: string, min: number, max: number): number {
  const v = body[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new CartError('E_VALIDATION', `${key} must be an integer from ${min} to ${max}`);
  return v;
}

export function skuField(body: Body): string {
  const v = body.sku;
  if (typeof v !== 'string' || !SKU_PATTERN.test(v)) throw new CartError('E_VALIDATION', 'sku must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit');
  return v;
}

export function optionsField(body: Body, limits: CartLimits): Record<string, string> {
  const v = body.options;
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CartError('E_VALIDATION', 'options must be an object of strings');
  const entries = Object.entries(v);
  if (entries.length > limits.maxOptions) throw new CartError('E_VALIDATION', `at most ${limits.maxOptions} options`);
  for (const [k, val] of entries) {
    if (!OPTION_KEY_PATTERN.test(k) || typeof val !== 'string' || val.length > limits.maxOptionLength) throw new CartError('E_VALIDATION', `invalid option ${JSON.stringify(k.slice(0, 40))}`);
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

export function noteField(body: Body, limits: CartLimits): string | undefined {
  const v = body.note;
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > limits.maxNoteLength) throw new CartError('E_VALIDATION', `note must be a string of at most ${limits.maxNoteLength} characters`);
  return v;
}

export function couponCodesField(body: Body, limits: CartLimits): string[] {
  const v = body.codes;
  if (!Array.isArray(v) || v.length > limits.maxCoupons || !v.every((c) => typeof c === 'string' && COUPON_PATTERN.test(c))) {
    throw new CartError('E_VALIDATION', `codes must be an array of at most ${limits.maxCoupons} coupon codes (A-Z 0-9 _ -, 1-32 characters)`);
  }
  return [...new Set((v as string[]).map((c) => c.toUpperCase()))];
}
