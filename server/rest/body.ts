/**
 * REST input through the shared schemas (protocol/schemas): a refused body, path parameter or
 * query answers 400 E_VALIDATION whose detail names the field.
 */
import type { z } from 'zod';
import { parseWith } from '../../protocol/schemas/index.ts';

/** The body as `schema`'s output; fields are named from the body (`products[3].price.amount`). */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  return parseWith(schema, body, 'E_VALIDATION', 'body');
}

/** A path parameter (`sku (in the path) must be ...`). */
export function parseParam<S extends z.ZodType>(schema: S, value: unknown, name: string): z.output<S> {
  return parseWith(schema, value, 'E_VALIDATION', `${name} (in the path)`);
}

/** A query parameter (`currency (query) must be ...`). */
export function parseQuery<S extends z.ZodType>(schema: S, value: unknown, name: string): z.output<S> {
  return parseWith(schema, value, 'E_VALIDATION', `${name} (query)`);
}
