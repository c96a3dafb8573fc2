/**
 * Admin catalog routes (admin token): create/replace, patch, delete and bulk-load products, plus the
 * pricing-rule routes (admin-rules.ts). Every stored change is announced to the change sink so the
 * revalidation side re-prices the open carts that hold the affected SKUs.
 */
import { Router } from 'express';
import { CartError, SKU_PATTERN } from '../../protocol/index.ts';
import type { CatalogStore } from '../../core/catalog/catalog-store.ts';
import type { CatalogChangeSink } from '../../core/catalog/change-sink.ts';
import type { RulesStore } from '../../core/catalog/rules-store.ts';
import type { Logger } from '../../core/log.ts';
import { requireAdmin } from './admin.ts';
import { adminRulesRoutes } from './admin-rules.ts';
import { bulkProducts, productPatch, productPut } from './catalog-body.ts';
import { param } from './fields.ts';

export interface AdminCatalogDeps {
  catalog: CatalogStore;
  rules: RulesStore;
  sink: CatalogChangeSink;
  adminToken: string | null;
  log: Logger;
}

const skuParam = (v: string | undefined): string => param(v, 'sku', SKU_PATTERN, '1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit');

export function adminCatalogRoutes(deps: AdminCatalogDeps): Router {
  const { catalog, sink, adminToken, log } = deps;
  const notify = (call: () => void): void => {
    try {
      call();
    } catch (err) {
      log.error('catalog change sink failed', { err });
    }
  };
  const router = Router();

  router.post('/v1/catalog/products/bulk', async (req, res) => {
    requireAdmin(req, adminToken);
    const changes = bulkProducts(req.body);
    const writes = (await catalog.merge('put', changes)) ?? [];
    const skus = writes.map((w) => w.after.sku);
    notify(() => sink.productsChanged(skus));
    res.json({ upserted: writes.length, created: writes.filter((w) => w.before === null).length });
  });

  router.put('/v1/catalog/products/:sku', async (req, res) => {
    requireAdmin(req, adminToken);
    const sku = skuParam(req.params.sku);
    const [write] = (await catalog.merge('put', [productPut(req.body, sku)])) ?? [];
    if (write === undefined) throw new CartError('E_INTERNAL', 'product merge returned nothing');
    notify(() => sink.productsChanged([sku]));
    res.status(write.before === null ? 201 : 200).json(write.after);
  });

  router.patch('/v1/catalog/products/:sku', async (req, res) => {
    requireAdmin(req, adminToken);
    const sku = skuParam(req.params.sku);
    const writes = await catalog.merge('patch', [productPatch(req.body, sku)]);
    const write = writes?.[0];
    if (write === undefined) throw new CartError('E_PRODUCT_NOT_FOUND', sku);
    notify(() => sink.productsChanged([sku]));
    res.json(write.after);
  });

  router.delete('/v1/catalog/products/:sku', async (req, res) => {
    requireAdmin(req, adminToken);
    const sku = skuParam(req.params.sku);
    const removed = await catalog.remove(sku);
    if (removed === null) throw new CartError('E_PRODUCT_NOT_FOUND', sku);
    notify(() => sink.productsChanged([sku]));
    res.status(204).end();
  });

  router.use(adminRulesRoutes({ rules: deps.rules, sink, adminToken, notify }));
  return router;
}
