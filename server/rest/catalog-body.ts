/** Admin catalog bodies → product changes (see CatalogStore.merge). Each failure names its field. */
import type { ProductChange } from '../../core/catalog/catalog-store.ts';
import { MAX_STOCK, type Fields, category, fail, int, known, money, object, priceMap, sku, text } from './fields.ts';

export const MAX_BULK_PRODUCTS = 1000;

const PUT_FIELDS = ['sku', 'name', 'price', 'prices', 'stock', 'category', 'imageUrl'];
const PATCH_FIELDS = ['price', 'prices', 'stock', 'name', 'category', 'imageUrl'];

function imageUrl(v: unknown, path: string): string | null {
  if (v === null) return null;
  if (typeof v !== 'string' || v.length > 2048 || !/^https?:\/\//.test(v) || !URL.canParse(v)) fail(path, 'must be null or an http(s) URL of at most 2048 characters');
  return v;
}

/** `price` (one currency, merged) or `prices` (`replace`: the whole map; else merged, null removes). */
function priceChange(o: Fields, path: string, replace: boolean): Pick<ProductChange, 'prices' | 'replacePrices'> | null {
  if (o.price !== undefined && o.prices !== undefined) fail(path === '' ? 'body' : path, 'must give price or prices, not both');
  if (o.price !== undefined) {
    const p = money(o.price, `${path}price`);
    return { prices: { [p.currency]: p.amount }, replacePrices: false };
  }
  if (o.prices !== undefined) return { prices: priceMap(o.prices, `${path}prices`, !replace), replacePrices: replace };
  return null;
}

/**
 * A whole product (PUT, bulk entry): name, stock, category and a price are required; `imageUrl`
 * defaults to null. `price` sets one currency and keeps the others; `prices` replaces them all.
 */
export function productPut(body: unknown, pathSku: string | null, path = ''): ProductChange {
  const o = object(body, path === '' ? 'body' : path.slice(0, -1));
  known(o, PUT_FIELDS, path.slice(0, -1));
  const at = (field: string): string => `${path}${field}`;
  let s: string;
  if (pathSku === null) s = sku(o.sku, at('sku'));
  else {
    s = pathSku;
    if (o.sku !== undefined && o.sku !== pathSku) fail(at('sku'), 'must match the SKU in the path');
  }
  const prices = priceChange(o, path, true);
  if (prices === null) fail(at('price'), 'or prices is required');
  return {
    sku: s,
    set: {
      name: text(o.name, at('name'), 200),
      stock: int(o.stock, at('stock'), 0, MAX_STOCK),
      category: category(o.category, at('category')),
      imageUrl: o.imageUrl === undefined ? null : imageUrl(o.imageUrl, at('imageUrl')),
    },
    ...prices,
  };
}

/** Some fields of an existing product (PATCH); `prices` merges per currency, null removes one. */
export function productPatch(body: unknown, pathSku: string): ProductChange {
  const o = object(body, 'body');
  known(o, PATCH_FIELDS, '');
  if (Object.keys(o).length === 0) fail('body', 'must change at least one field');
  const set: ProductChange['set'] = {};
  if (o.name !== undefined) set.name = text(o.name, 'name', 200);
  if (o.stock !== undefined) set.stock = int(o.stock, 'stock', 0, MAX_STOCK);
  if (o.category !== undefined) set.category = category(o.category, 'category');
  if (o.imageUrl !== undefined) set.imageUrl = imageUrl(o.imageUrl, 'imageUrl');
  return { sku: pathSku, set, ...priceChange(o, '', false) };
}

/** `{ products: [...] }`: every entry valid and SKUs distinct, or nothing. */
export function bulkProducts(body: unknown): ProductChange[] {
  const o = object(body, 'body');
  known(o, ['products'], '');
  const list = o.products;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_BULK_PRODUCTS) fail('products', `must be an array of 1-${MAX_BULK_PRODUCTS} products`);
  const seen = new Set<string>();
  return list.map((entry, i) => {
    const change = productPut(entry, null, `products[${i}].`);
    if (seen.has(change.sku)) fail(`products[${i}].sku`, `repeats ${change.sku}`);
    seen.add(change.sku);
    return change;
  });
}
