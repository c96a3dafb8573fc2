/**
 * Catalog shapes: admin bodies (PUT, PATCH, bulk), the product as the API returns it, and a shop
 * pricing service's answer (core/providers/http.ts) — the same fields with the same rules.
 */
import * as z from 'zod';
import { Amount, Category, Currency, HttpUrl, MAX_STOCK, Sku, intIn } from './identifiers.ts';
import { plainText } from './text.ts';

export const MAX_BULK_PRODUCTS = 1000;
/** Currencies one product may be priced in. */
export const MAX_CURRENCIES = 200;

export const ProductName = plainText(200, 1).meta({ description: 'Plain text; displays must escape it.' });
export const Stock = intIn(0, MAX_STOCK);
export const Money = z.strictObject({ amount: Amount, currency: Currency }).meta({ id: 'Money' });

const tooMany = { error: `must have at most ${MAX_CURRENCIES} currencies` };
export const PriceMap = z.record(Currency, Amount).refine((m) => Object.keys(m).length <= MAX_CURRENCIES, tooMany);
/** A PATCH's prices: merged per currency, null removes that currency. */
export const PricePatch = z.record(Currency, Amount.nullable()).refine((m) => Object.keys(m).length <= MAX_CURRENCIES, tooMany);

const IMAGE_URL = { error: 'must be null or an http(s) URL of at most 2048 characters' };
export const ImageUrl = z.string(IMAGE_URL).max(2048, IMAGE_URL).pipe(HttpUrl).nullable();

const notBoth = (o: { price?: unknown; prices?: unknown }): boolean => o.price === undefined || o.prices === undefined;
const NOT_BOTH = { error: 'must give price or prices, not both' };

const productFields = {
  sku: Sku.optional().meta({ description: 'Optional in PUT (the path names it); required in bulk.' }),
  name: ProductName,
  price: Money.optional().meta({ description: 'Sets one currency and keeps the others.' }),
  prices: PriceMap.optional().meta({ description: 'Replaces every price.' }),
  stock: Stock,
  category: Category.optional().meta({ description: 'Default: no category ("").' }),
  imageUrl: ImageUrl.optional().meta({ description: 'Default: null.' }),
};

/** A whole product (PUT, bulk entry): name, stock and a price; category and image optional. */
export const ProductPut = z
  .strictObject(productFields)
  .refine(notBoth, NOT_BOTH)
  .refine((o) => o.price !== undefined || o.prices !== undefined, { error: 'or prices is required', path: ['price'] })
  .meta({ id: 'ProductPut' });

/** Some fields of an existing product; `prices` merges per currency, null removes one. */
export const ProductPatch = z
  .strictObject({
    name: ProductName.optional(),
    price: Money.optional(),
    prices: PricePatch.optional(),
    stock: Stock.optional(),
    category: Category.optional(),
    imageUrl: ImageUrl.optional(),
  })
  .refine((o) => Object.keys(o).length > 0, { error: 'must change at least one field' })
  .refine(notBoth, NOT_BOTH)
  .meta({ id: 'ProductPatch' });

const BulkEntry = z.strictObject({ ...productFields, sku: Sku }).refine(notBoth, NOT_BOTH).refine((o) => o.price !== undefined || o.prices !== undefined, {
  error: 'or prices is required',
  path: ['price'],
});
export const BulkProducts = z
  .strictObject({
    products: z
      .array(BulkEntry, { error: `must be an array of 1-${MAX_BULK_PRODUCTS} products` })
      .min(1, { error: `must be an array of 1-${MAX_BULK_PRODUCTS} products` })
      .max(MAX_BULK_PRODUCTS, { error: `must be an array of 1-${MAX_BULK_PRODUCTS} products` }),
  })
  .superRefine((o, ctx) => {
    const seen = new Set<string>();
    o.products.forEach((p, i) => {
      if (seen.has(p.sku)) ctx.addIssue({ code: 'custom', path: ['products', i, 'sku'], message: `repeats ${p.sku}` });
      seen.add(p.sku);
    });
  })
  .meta({ id: 'BulkProducts' });

export const BulkResult = z.strictObject({ upserted: z.int(), created: z.int() }).meta({ id: 'BulkResult' });

/** A product as stored (the admin routes answer it). `category` "" means none. */
export const Product = z
  .strictObject({ sku: Sku, name: z.string(), prices: z.record(z.string(), z.int()), stock: z.int(), category: z.string(), imageUrl: z.string().nullable() })
  .meta({ id: 'Product' });
/** A product as the public catalog lists it: `price` in the requested currency, when it has one. */
export const CatalogEntry = z
  .strictObject({ ...Product.shape, price: Money.optional() })
  .meta({ id: 'CatalogEntry' });
export const CatalogList = z.strictObject({ products: z.array(CatalogEntry) }).meta({ id: 'CatalogList' });

/** A shop pricing service's answer (protocol/SPEC.md §13): extra fields are ignored. */
export const PricingAnswer = z.object({
  products: z.array(z.object({ sku: z.string(), name: z.string(), category: z.string(), prices: z.record(Currency, z.int().min(0)) })),
});
/** A shop inventory service's answer; negative stock (oversold) reads as none left. */
export const InventoryAnswer = z.object({ stock: z.record(z.string(), z.int()) });
