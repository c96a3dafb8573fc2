/**
 * Public catalog routes. Each product carries all its `prices` and, for the requested `?currency=`
 * (default USD), `price: { amount, currency }` — omitted when the product has no price in it.
 */
import { Router, type Request } from 'express';
import { CartError, type CatalogProduct, type Money } from '../../protocol/index.ts';
import type { CatalogStore } from '../../core/catalog/catalog-store.ts';
import { Currency } from '../../protocol/schemas/index.ts';
import { ROUTES } from './api.ts';
import { parseQuery } from './body.ts';

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
  return parseQuery(Currency, v, 'currency');
}

export function catalogRoutes(catalog: CatalogStore): Router {
  const router = Router();
  router.get(ROUTES.listProducts.path, async (req, res) => {
    const currency = requestedCurrency(req);
    res.json({ products: (await catalog.list()).map((p) => productJson(p, currency)) });
  });
  router.get(ROUTES.getProduct.path, async (req, res) => {
    const currency = requestedCurrency(req);
    const sku = String(req.params.sku);
    const product = await catalog.get(sku);
    if (product === null) throw new CartError('E_PRODUCT_NOT_FOUND', sku.slice(0, 64));
    res.json(productJson(product, currency));
  });
  return router;
}
