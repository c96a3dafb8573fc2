/**
 * Admin catalog bodies → product changes (see CatalogStore.merge). Shapes are the shared schemas
 * (protocol/schemas/catalog.ts); this file only turns a valid body into what the store merges.
 */
import type { z } from 'zod';
import type { ProductChange } from '../../core/catalog/catalog-store.ts';
import { CartError } from '../../protocol/index.ts';
import { BulkProducts, ProductPatch as ProductPatchSchema, ProductPut } from '../../protocol/schemas/index.ts';
import { parseBody } from './body.ts';

type Put = z.output<typeof ProductPut>;

/** `price` sets one currency and keeps the others; `prices` replaces them all (PUT) or merges (PATCH). */
function priceChange(o: { price?: { amount: number; currency: string } | undefined; prices?: Record<string, number | null> | undefined }, replace: boolean): Pick<ProductChange, 'prices' | 'replacePrices'> {
  if (o.price !== undefined) return { prices: { [o.price.currency]: o.price.amount }, replacePrices: false };
  if (o.prices !== undefined) return { prices: o.prices, replacePrices: replace };
  return {};
}

/** A whole product: missing `category` means none (""), missing `imageUrl` null. */
function change(sku: string, o: Put): ProductChange {
  return { sku, set: { name: o.name, stock: o.stock, category: o.category ?? '', imageUrl: o.imageUrl ?? null }, ...priceChange(o, true) };
}

export function productPut(body: unknown, pathSku: string): ProductChange {
  const o = parseBody(ProductPut, body);
  if (o.sku !== undefined && o.sku !== pathSku) throw new CartError('E_VALIDATION', 'sku must match the SKU in the path');
  return change(pathSku, o);
}

export function productPatch(body: unknown, pathSku: string): ProductChange {
  const o: z.output<typeof ProductPatchSchema> = parseBody(ProductPatchSchema, body);
  const set: ProductChange['set'] = {};
  if (o.name !== undefined) set.name = o.name;
  if (o.stock !== undefined) set.stock = o.stock;
  if (o.category !== undefined) set.category = o.category;
  if (o.imageUrl !== undefined) set.imageUrl = o.imageUrl;
  return { sku: pathSku, set, ...priceChange(o, false) };
}

/** `{ products: [...] }`: every entry valid and SKUs distinct, or nothing. */
export function bulkProducts(body: unknown): ProductChange[] {
  return parseBody(BulkProducts, body).products.map((p) => change(p.sku, p));
}
