/** Catalog routes: the public product list. (The admin API to change it comes with revalidation.) */
import { Router } from 'express';
import type { CatalogStore } from '../catalog/catalog-store.ts';

export function catalogRoutes(catalog: CatalogStore): Router {
  const router = Router();
  router.get('/v1/catalog/products', async (_req, res) => {
    res.json({ products: await catalog.list() });
  });
  return router;
}
