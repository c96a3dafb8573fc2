/**
 * Where revalidation gets product facts (name, category, prices, stock). The built-in provider
 * reads the Redis catalog; the HTTP provider asks a shop's own pricing and inventory services
 * (protocol/SPEC.md §13) and degrades instead of failing when they are down.
 */
import type { ProductFacts } from '../../protocol/index.ts';

export interface LookupOptions {
  /** The cart's currency: a hint a remote pricing service may use to answer with less. */
  currency?: string;
}

export interface CatalogProvider {
  /**
   * Facts for every requested SKU: `null` for an unknown SKU; `prices: null` / `stock: null` when
   * that part could not be verified (its service is down). Rejects only when no source at all
   * could answer (e.g. Redis is down for the built-in catalog).
   */
  lookup(skus: readonly string[], options?: LookupOptions): Promise<Map<string, ProductFacts | null>>;
}
