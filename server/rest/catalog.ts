/**
 * Public catalog routes. Each product carries all its `prices` and, for the requested `?currency=`
 * (default USD), `price: { amount, currency }` — omitted when the product has no price in it.
 */
import { Router, type Request } from 'express';
import { CartError, type CatalogProduct, type Money } from '../../protocol/index.ts';
import type { CatalogStore } from '../../core/catalog/catalog-store.ts';
import { CURRENCY_PATTERN } from './fields.ts';

export const DEFAULT_CATALOG_CURRENCY = 'USD';

export type ProductJson = CatalogProduct & { price?: Money };

export function productJson(p: CatalogProduct, currency: string): ProductJson {
  const amount = p.prices[currency];
  const { sku, name, prices, stock, category, imageUrl } = p;
  return amount === undefined
    ? { sku, name, prices, stock, category, imageUrl }
    : { sku, name, price: { amount, currency }, prices, stock, category, imageUrl };
}

function requestedCurrency(req: Request): string {
  const v = req.query.currency;
  if (v === undefined) return DEFAULT_CATALOG_CURRENCY;
  if (typeof v !== 'string' || !CURRENCY_PATTERN.test(v)) throw new CartError('E_VALIDATION', 'currency (query) must be an ISO 4217 code (3 capital letters)');
  return v;
}

export function catalogRoutes(catalog: CatalogStore): Router {
  const router = Router();
  router.get('/v1/catalog/products', async (req, res) => {
    const currency = requestedCurrency(req);
    res.json({ products: (await catalog.list()).map((p) => productJson(p, currency)) });
  });
  router.get('/v1/catalog/products/:sku', async (req, res) => {
    const currency = requestedCurrency(req);
    const product = await catalog.get(req.params.sku);
    if (product === null) throw new CartError('E_PRODUCT_NOT_FOUND', req.params.sku.slice(0, 64));
    res.json(productJson(product, currency));
  });
  return router;
}
