/**
 * Admin pricing-rule routes (admin token): read every rule, create/replace (PUT) or delete one rule
 * named by its identity in the path. Each stored change is announced to the change sink with what
 * the old and the new rule name (SKUs, categories, or every cart).
 */
import { Router } from 'express';
import { CartError, COUPON_PATTERN, SKU_PATTERN } from '../../protocol/index.ts';
import type { CatalogChangeSink } from '../../core/catalog/change-sink.ts';
import { isEmptyScope, mergeScopes, ruleScope } from '../../core/catalog/rule-scope.ts';
import type { RuleIdentity, RuleKind, RuleOf, RulesStore } from '../../core/catalog/rules-store.ts';
import { requireAdmin } from './admin.ts';
import { CURRENCY_PATTERN, PROMOTION_ID_PATTERN, REGION_PATTERN, SEGMENT_PATTERN, fail, param } from './fields.ts';
import { couponBody, priceListBody, promotionBody, shippingBody, taxRuleBody, volumeTierBody } from './rules-body.ts';

export interface AdminRulesDeps {
  rules: RulesStore;
  sink: CatalogChangeSink;
  adminToken: string | null;
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

const currencyParam = (p: Params): string => param(p.currency, 'currency', CURRENCY_PATTERN, 'an ISO 4217 code (3 capital letters)');
const skuParam = (p: Params): string => param(p.sku, 'sku', SKU_PATTERN, 'a valid SKU');

function minQuantityParam(p: Params): number {
  const raw = p.minQuantity ?? '';
  if (!/^[1-9]\d{0,6}$/.test(raw)) fail('minQuantity (in the path)', 'must be an integer from 1 to 9999999');
  return Number(raw);
}

// One entry per rule kind; `satisfies` keeps each entry's types tied to its kind.
const ROUTES = [
  {
    kind: 'promotions',
    path: '/v1/pricing/promotions/:id',
    identity: (p) => ({ id: param(p.id, 'id', PROMOTION_ID_PATTERN, '1-64 characters of A-Z a-z 0-9 _ -') }),
    parse: (id, body) => promotionBody(id.id, body),
  } satisfies RuleRoute<'promotions'>,
  {
    kind: 'coupons',
    path: '/v1/pricing/coupons/:code',
    identity: (p) => ({ code: param(p.code, 'code', COUPON_PATTERN, '1-32 characters of A-Z a-z 0-9 _ -').toUpperCase() }),
    parse: (id, body, previous) => couponBody(id.code, body, previous?.used ?? 0),
    readsPrevious: true,
  } satisfies RuleRoute<'coupons'>,
  {
    kind: 'priceLists',
    path: '/v1/pricing/price-lists/:segment/:currency',
    identity: (p) => ({ segment: param(p.segment, 'segment', SEGMENT_PATTERN, '1-32 characters of A-Z a-z 0-9 _ -'), currency: currencyParam(p) }),
    parse: (id, body) => priceListBody(id.segment, id.currency, body),
  } satisfies RuleRoute<'priceLists'>,
  {
    kind: 'volumeTiers',
    path: '/v1/pricing/volume-tiers/:sku/:currency/:minQuantity',
    identity: (p) => ({ sku: skuParam(p), currency: currencyParam(p), minQuantity: minQuantityParam(p) }),
    parse: (id, body) => volumeTierBody(id.sku, id.currency, id.minQuantity, body),
  } satisfies RuleRoute<'volumeTiers'>,
  {
    kind: 'taxRules',
    path: '/v1/pricing/tax/:region',
    identity: (p) => ({ region: param(p.region, 'region', REGION_PATTERN, 'an ISO 3166 country or subdivision code ("DE", "US-CA")') }),
    parse: (id, body) => taxRuleBody(id.region, body),
  } satisfies RuleRoute<'taxRules'>,
  {
    kind: 'shipping',
    path: '/v1/pricing/shipping/:currency',
    identity: (p) => ({ currency: currencyParam(p) }),
    parse: (id, body) => shippingBody(id.currency, body),
  } satisfies RuleRoute<'shipping'>,
];

export function adminRulesRoutes(deps: AdminRulesDeps): Router {
  const { rules, sink, adminToken, notify } = deps;
  const router = Router();

  router.get('/v1/pricing/rules', async (req, res) => {
    requireAdmin(req, adminToken);
    res.json(await rules.read());
  });

  const mount = <K extends RuleKind>(route: RuleRoute<K>): void => {
    router.put(route.path, async (req, res) => {
      requireAdmin(req, adminToken);
      const id = route.identity(req.params as Params);
      const previous = route.readsPrevious === true ? await rules.find(route.kind, id) : null;
      const rule = route.parse(id, req.body, previous);
      const before = await rules.upsert(route.kind, rule);
      const change = mergeScopes(ruleScope(route.kind, rule), ...(before === null ? [] : [ruleScope(route.kind, before)]));
      if (!isEmptyScope(change)) notify(() => sink.rulesChanged(change));
      res.status(before === null ? 201 : 200).json(rule);
    });
    router.delete(route.path, async (req, res) => {
      requireAdmin(req, adminToken);
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
