/** The built-in provider: product facts from the Redis catalog (CatalogStore), in one HMGET. */
import type { ProductFacts } from '../../protocol/index.ts';
import type { CatalogProduct, CatalogStore } from '../catalog/catalog-store.ts';
import type { CatalogProvider } from './types.ts';

export function factsOf(p: CatalogProduct): ProductFacts {
  return { name: p.name, category: p.category, prices: { ...p.prices }, stock: p.stock };
}

export class BuiltinCatalogProvider implements CatalogProvider {
  constructor(private readonly catalog: CatalogStore) {}

  async lookup(skus: readonly string[]): Promise<Map<string, ProductFacts | null>> {
    const products = await this.catalog.getMany(skus);
    const facts = new Map<string, ProductFacts | null>();
    for (const [sku, p] of products) facts.set(sku, p === null ? null : factsOf(p));
    return facts;
  }
}
