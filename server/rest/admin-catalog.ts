/**
 * Admin catalog routes (admin token): create/replace, patch, delete and bulk-load products, plus the
 * pricing-rule routes (admin-rules.ts). Every stored change is announced to the change sink so the
 * revalidation side re-prices the open carts that hold the affected SKUs.
 */
import { Router } from 'express';
import { CartError } from '../../protocol/index.ts';
import { Sku } from '../../protocol/schemas/index.ts';
import type { CatalogStore } from '../../core/catalog/catalog-store.ts';
import type { CatalogChangeSink } from '../../core/catalog/change-sink.ts';
import type { RulesStore } from '../../core/catalog/rules-store.ts';
import type { Logger } from '../../core/log.ts';
import type { AdminGuard } from './admin.ts';
import { ROUTES } from './api.ts';
import { adminRulesRoutes } from './admin-rules.ts';
import { bulkProducts, productPatch, productPut } from './catalog-body.ts';
import { parseParam } from './body.ts';

export interface AdminCatalogDeps {
  catalog: CatalogStore;
  rules: RulesStore;
  sink: CatalogChangeSink;
  requireAdmin: AdminGuard;
  log: Logger;
}

const skuParam = (v: unknown): string => parseParam(Sku, v, 'sku');

export function adminCatalogRoutes(deps: AdminCatalogDeps): Router {
  const { catalog, sink, requireAdmin, log } = deps;
  const notify = (call: () => void): void => {
    try {
      call();
    } catch (err) {
      log.error('catalog change sink failed', { err });
    }
  };
  const router = Router();

  router.post(ROUTES.bulkProducts.path, async (req, res) => {
    await requireAdmin(req);
    const changes = bulkProducts(req.body);
    const writes = (await catalog.merge('put', changes)) ?? [];
    const skus = writes.map((w) => w.after.sku);
    notify(() => sink.productsChanged(skus));
    res.json({ upserted: writes.length, created: writes.filter((w) => w.before === null).length });
  });

  router.put(ROUTES.putProduct.path, async (req, res) => {
    await requireAdmin(req);
    const sku = skuParam(req.params.sku);
    const [write] = (await catalog.merge('put', [productPut(req.body, sku)])) ?? [];
    if (write === undefined) throw new CartError('E_INTERNAL', 'product merge returned nothing');
    notify(() => sink.productsChanged([sku]));
    res.status(write.before === null ? 201 : 200).json(write.after);
  });

  router.patch(ROUTES.patchProduct.path, async (req, res) => {
    await requireAdmin(req);
    const sku = skuParam(req.params.sku);
    const writes = await catalog.merge('patch', [productPatch(req.body, sku)]);
    const write = writes?.[0];
    if (write === undefined) throw new CartError('E_PRODUCT_NOT_FOUND', sku);
    notify(() => sink.productsChanged([sku]));
    res.json(write.after);
  });

  router.delete(ROUTES.deleteProduct.path, async (req, res) => {
    await requireAdmin(req);
    const sku = skuParam(req.params.sku);
    const removed = await catalog.remove(sku);
    if (removed === null) throw new CartError('E_PRODUCT_NOT_FOUND', sku);
    notify(() => sink.productsChanged([sku]));
    res.status(204).end();
  });

  router.use(adminRulesRoutes({ rules: deps.rules, sink, requireAdmin, notify }));
  return router;
}
