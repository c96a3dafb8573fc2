/**
 * Which carts a pricing-rule change can affect, for the change sink: the SKUs and categories a rule
 * names, or every cart for rules that depend on the whole cart (tax, shipping, cart-wide discounts).
 * A changed rule affects what its old and its new version named, so callers merge both scopes.
 */
import type { PromotionEffect } from '../../protocol/index.ts';
import type { RulesChange } from './change-sink.ts';
import type { RuleKind, RuleOf } from './rules-store.ts';

function effectScope(effect: PromotionEffect): RulesChange {
  if (effect.kind === 'buy_x_get_y') return { skus: [effect.buySku, effect.getSku] };
  const target = effect.target;
  if ('sku' in target) return { skus: [target.sku] };
  if ('category' in target) return { categories: [target.category] };
  return { all: true };
}

export function ruleScope<K extends RuleKind>(kind: K, rule: RuleOf<K>): RulesChange {
  switch (kind) {
    case 'promotions':
    case 'coupons':
      return effectScope((rule as RuleOf<'promotions' | 'coupons'>).effect);
    case 'priceLists':
      return { skus: Object.keys((rule as RuleOf<'priceLists'>).prices) };
    case 'volumeTiers':
      return { skus: [(rule as RuleOf<'volumeTiers'>).sku] };
    default:
      // Tax and shipping depend on the whole cart.
      return { all: true };
  }
}

/** The union of several scopes, without duplicates; `all` swallows the lists. */
export function mergeScopes(...scopes: RulesChange[]): RulesChange {
  if (scopes.some((s) => s.all === true)) return { all: true };
  const skus = [...new Set(scopes.flatMap((s) => s.skus ?? []))];
  const categories = [...new Set(scopes.flatMap((s) => s.categories ?? []))];
  const change: RulesChange = {};
  if (skus.length > 0) change.skus = skus;
  if (categories.length > 0) change.categories = categories;
  return change;
}

/** True when the change names nothing (no sink call needed). */
export function isEmptyScope(change: RulesChange): boolean {
  return change.all !== true && (change.skus ?? []).length === 0 && (change.categories ?? []).length === 0;
}
