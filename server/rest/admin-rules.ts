/**
 * Admin pricing-rule routes (admin token): read every rule, create/replace (PUT) or delete one rule
 * named by its identity in the path. Each stored change is announced to the change sink with what
 * the old and the new rule name (SKUs, categories, or every cart).
 */
import { Router } from 'express';
import type { z } from 'zod';
import { CartError } from '../../protocol/index.ts';
import type { CatalogChangeSink } from '../../core/catalog/change-sink.ts';
import { isEmptyScope, mergeScopes, ruleScope } from '../../core/catalog/rule-scope.ts';
import type { RuleIdentity, RuleKind, RuleOf, RulesStore } from '../../core/catalog/rules-store.ts';
import type { AdminGuard } from './admin.ts';
import { ROUTES as API, RULE_ROUTES } from './api.ts';
import { parseParam } from './body.ts';
import { couponBody, priceListBody, promotionBody, shippingBody, taxRuleBody, volumeTierBody } from './rules-body.ts';

export interface AdminRulesDeps {
  rules: RulesStore;
  sink: CatalogChangeSink;
  requireAdmin: AdminGuard;
  /** Runs a sink call; a failing sink never fails a change that is already stored. */
  notify: (call: () => void) => void;
}

/** Path parameters (none of these routes has a wildcard, so every value is one string). */
type Params = Record<string, string | undefined>;

interface RuleRoute<K extends RuleKind> {
  kind: K;
  path: string;
  identity(params: Params): RuleIdentity[K];
  parse(id: RuleIdentity[K], body: unknown, previous: RuleOf<K> | null): RuleOf<K>;
  /** Whether parse needs the stored rule (a coupon keeps its `used` count). */
  readsPrevious?: boolean;
}

/** A path parameter by the route table's schema. */
const param = (p: Params, kind: keyof typeof RULE_ROUTES, name: string): string => {
  const shape = RULE_ROUTES[kind].params.shape as Record<string, z.ZodType>;
  return parseParam(shape[name]!, p[name], name) as string;
};

// One entry per rule kind; `satisfies` keeps each entry's types tied to its kind.
const ROUTES = [
  {
    kind: 'promotions',
    path: RULE_ROUTES.promotions.path,
    identity: (p) => ({ id: param(p, 'promotions', 'id') }),
    parse: (id, body) => promotionBody(id.id, body),
  } satisfies RuleRoute<'promotions'>,
  {
    kind: 'coupons',
    path: RULE_ROUTES.coupons.path,
    identity: (p) => ({ code: param(p, 'coupons', 'code').toUpperCase() }),
    parse: (id, body, previous) => couponBody(id.code, body, previous?.used ?? 0),
    readsPrevious: true,
  } satisfies RuleRoute<'coupons'>,
  {
    kind: 'priceLists',
    path: RULE_ROUTES.priceLists.path,
    identity: (p) => ({ segment: param(p, 'priceLists', 'segment'), currency: param(p, 'priceLists', 'currency') }),
    parse: (id, body) => priceListBody(id.segment, id.currency, body),
  } satisfies RuleRoute<'priceLists'>,
  {
    kind: 'volumeTiers',
    path: RULE_ROUTES.volumeTiers.path,
    identity: (p) => ({ sku: param(p, 'volumeTiers', 'sku'), currency: param(p, 'volumeTiers', 'currency'), minQuantity: Number(param(p, 'volumeTiers', 'minQuantity')) }),
    parse: (id, body) => volumeTierBody(id.sku, id.currency, id.minQuantity, body),
  } satisfies RuleRoute<'volumeTiers'>,
  {
    kind: 'taxRules',
    path: RULE_ROUTES.taxRules.path,
    identity: (p) => ({ region: param(p, 'taxRules', 'region') }),
    parse: (id, body) => taxRuleBody(id.region, body),
  } satisfies RuleRoute<'taxRules'>,
  {
    kind: 'shipping',
    path: RULE_ROUTES.shipping.path,
    identity: (p) => ({ currency: param(p, 'shipping', 'currency') }),
    parse: (id, body) => shippingBody(id.currency, body),
  } satisfies RuleRoute<'shipping'>,
];

export function adminRulesRoutes(deps: AdminRulesDeps): Router {
  const { rules, sink, requireAdmin, notify } = deps;
  const router = Router();

  router.get(API.getRules.path, async (req, res) => {
    await requireAdmin(req);
    res.json(await rules.read());
  });

  const mount = <K extends RuleKind>(route: RuleRoute<K>): void => {
    router.put(route.path, async (req, res) => {
      await requireAdmin(req);
      const id = route.identity(req.params as Params);
      const previous = route.readsPrevious === true ? await rules.find(route.kind, id) : null;
      const rule = route.parse(id, req.body, previous);
      const before = await rules.upsert(route.kind, rule);
      const change = mergeScopes(ruleScope(route.kind, rule), ...(before === null ? [] : [ruleScope(route.kind, before)]));
      if (!isEmptyScope(change)) notify(() => sink.rulesChanged(change));
      res.status(before === null ? 201 : 200).json(rule);
    });
    router.delete(route.path, async (req, res) => {
      await requireAdmin(req);
      const before = await rules.remove(route.kind, route.identity(req.params as Params));
      if (before === null) throw new CartError('E_RULE_NOT_FOUND', `${route.kind} ${req.path.slice(0, 200)}`);
      const change = ruleScope(route.kind, before);
      if (!isEmptyScope(change)) notify(() => sink.rulesChanged(change));
      res.status(204).end();
    });
  };
  for (const route of ROUTES) mount(route as RuleRoute<RuleKind>);
  return router;
}
