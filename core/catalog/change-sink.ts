/**
 * Where catalog and pricing-rule changes are announced, so open carts that hold an affected SKU get
 * revalidated. The admin API calls the sink after each change is stored; the revalidation side
 * implements it (fan-out to the carts that hold those SKUs). Calls must not block or throw: a sink
 * that needs I/O queues it and handles its own failures.
 */

/** What a pricing-rule change can affect. Empty lists and `all: false` mean nothing to revalidate. */
export interface RulesChange {
  /** Carts holding any of these SKUs. */
  skus?: string[];
  /** Carts holding a product of any of these categories. */
  categories?: string[];
  /** Every open cart (tax, shipping, cart-wide promotions). */
  all?: boolean;
}

export interface CatalogChangeSink {
  /** Products were created, changed or removed (price, stock, name, category...). */
  productsChanged(skus: string[]): void;
  rulesChanged(change: RulesChange): void;
}
