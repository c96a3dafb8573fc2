/**
 * The REST API's route table: each route's method, path, auth, parameters, body and answers,
 * declared once. Handlers parse their input with these schemas and GET /v1/openapi.json is built
 * from the same table (openapi.ts), so what is validated and what is documented cannot drift.
 */
import * as z from 'zod';
import type { CartLimits } from '../../protocol/index.ts';
import {
  BulkProducts,
  BulkResult,
  CartId,
  CartView,
  CatalogList,
  CatalogEntry,
  CouponBody,
  CouponCode,
  CouponsChanged,
  CreateCart,
  CreatedCart,
  Currency,
  LineChanged,
  LineId,
  MintToken,
  MintedToken,
  PriceListBody,
  RevokeSubject,
  Revoked,
  Product,
  ProductPatch,
  ProductPut,
  PromotionBody,
  PromotionId,
  Region,
  RulesDump,
  Segment,
  ShippingBody,
  SignInBody,
  SignedIn,
  Sku,
  TaxRuleBody,
  VolumeTierBody,
  cartSchemas,
  CreateShare,
  GrantId,
  ShareCode,
  ShareCreated,
  ShareRedeemed,
  ActivityList,
  ActivityQuery,
} from '../../protocol/schemas/index.ts';

/** Who may call: nobody needs a token, a cart token, an optional token, the admin token, or an IdP token. */
export type Access = 'public' | 'cart' | 'optional' | 'admin' | 'idp';
export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface Answer {
  description: string;
  schema?: z.ZodType;
  /** Default application/json. */
  contentType?: string;
}

export interface ApiRoute {
  method: Method;
  /** Express form (`/v1/carts/:cartId`). */
  path: string;
  summary: string;
  tag: string;
  access: Access;
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** The body schema; cart bodies depend on the cart limits. */
  body?: z.ZodType | ((limits: CartLimits) => z.ZodType);
  /** Whether the body may be omitted. */
  bodyOptional?: boolean;
  /** Honours an Idempotency-Key header. */
  idempotent?: boolean;
  /** Bulk routes have their own, larger body limit (LIVECART_MAX_BULK_JSON_BYTES). */
  bulk?: boolean;
  ok: Record<number, Answer>;
  /** Error statuses this route answers besides the common ones (400, 500, 503), all `Error` bodies. */
  errors: number[];
}

/** The route's body schema under `limits`. */
export function bodyOf(route: ApiRoute, limits: CartLimits): z.ZodType {
  if (route.body === undefined) throw new Error(`${route.method} ${route.path} has no body`);
  return typeof route.body === 'function' ? route.body(limits) : route.body;
}

const cartParams = z.object({ cartId: CartId });
const lineParams = z.object({ cartId: CartId, lineId: LineId.meta({ description: 'The line id, URL-encoded.' }) });
const skuParams = z.object({ sku: Sku });
const currencyQuery = z.object({ currency: Currency.optional().meta({ description: 'Default USD.' }) });
const noContent: Answer = { description: 'Done; no body.' };
const json = (description: string, schema: z.ZodType): Answer => ({ description, schema });

export const ROUTES = {
  health: { method: 'get', path: '/healthz', summary: 'Liveness', tag: 'operations', access: 'public', ok: { 200: json('The process is up.', z.object({ ok: z.literal(true) })) }, errors: [] },
  ready: {
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: Redis reachable and not draining',
    tag: 'operations',
    access: 'public',
    ok: { 200: json('Ready.', z.object({ ready: z.boolean(), redis: z.string() })) },
    errors: [503],
  },
  metrics: { method: 'get', path: '/metrics', summary: 'Prometheus metrics', tag: 'operations', access: 'public', ok: { 200: { description: 'Prometheus text format.', schema: z.string(), contentType: 'text/plain' } }, errors: [] },
  openapi: { method: 'get', path: '/v1/openapi.json', summary: 'This document', tag: 'operations', access: 'public', ok: { 200: json('OpenAPI 3.1.', z.looseObject({})) }, errors: [] },

  createCart: {
    method: 'post',
    path: '/v1/carts',
    summary: 'Create a cart and a customer token for it',
    tag: 'carts',
    access: 'optional',
    body: CreateCart,
    bodyOptional: true,
    idempotent: true,
    ok: { 201: json('Created.', CreatedCart) },
    errors: [401, 409, 422],
  },
  getCart: { method: 'get', path: '/v1/carts/:cartId', summary: 'Read a cart', tag: 'carts', access: 'cart', params: cartParams, ok: { 200: json('The cart.', CartView) }, errors: [401, 403, 404] },
  addLine: {
    method: 'post',
    path: '/v1/carts/:cartId/lines',
    summary: 'Add units of a product (same SKU and options: one line, quantities add)',
    tag: 'carts',
    access: 'cart',
    params: cartParams,
    body: (limits) => cartSchemas(limits).addLine,
    idempotent: true,
    ok: { 201: json('The line after the add.', LineChanged) },
    errors: [401, 403, 404, 409, 422],
  },
  patchLine: {
    method: 'patch',
    path: '/v1/carts/:cartId/lines/:lineId',
    summary: 'Set a line\'s quantity (0 removes it) or note',
    tag: 'carts',
    access: 'cart',
    params: lineParams,
    body: (limits) => cartSchemas(limits).patchLine,
    idempotent: true,
    ok: { 200: json('The line after the change.', LineChanged), 204: noContent },
    errors: [401, 403, 404, 409, 422],
  },
  deleteLine: {
    method: 'delete',
    path: '/v1/carts/:cartId/lines/:lineId',
    summary: 'Remove a line',
    tag: 'carts',
    access: 'cart',
    params: lineParams,
    idempotent: true,
    ok: { 204: noContent },
    errors: [401, 403, 404, 409, 422],
  },
  setCoupons: {
    method: 'put',
    path: '/v1/carts/:cartId/coupons',
    summary: 'Replace the cart\'s coupon codes',
    tag: 'carts',
    access: 'cart',
    params: cartParams,
    body: (limits) => cartSchemas(limits).coupons,
    idempotent: true,
    ok: { 200: json('The codes now on the cart.', CouponsChanged) },
    errors: [401, 403, 404, 409, 422],
  },

  listProducts: { method: 'get', path: '/v1/catalog/products', summary: 'List the catalog', tag: 'catalog', access: 'public', query: currencyQuery, ok: { 200: json('Every product.', CatalogList) }, errors: [] },
  getProduct: {
    method: 'get',
    path: '/v1/catalog/products/:sku',
    summary: 'Read one product',
    tag: 'catalog',
    access: 'public',
    params: skuParams,
    query: currencyQuery,
    ok: { 200: json('The product.', CatalogEntry) },
    errors: [404],
  },
  bulkProducts: {
    method: 'post',
    path: '/v1/catalog/products/bulk',
    summary: 'Create or replace up to 1000 products, all or none',
    tag: 'admin',
    access: 'admin',
    body: BulkProducts,
    bulk: true,
    ok: { 200: json('How many were written.', BulkResult) },
    errors: [401, 403, 413],
  },
  putProduct: {
    method: 'put',
    path: '/v1/catalog/products/:sku',
    summary: 'Create or replace a product',
    tag: 'admin',
    access: 'admin',
    params: skuParams,
    body: ProductPut,
    ok: { 200: json('Replaced.', Product), 201: json('Created.', Product) },
    errors: [401, 403, 413],
  },
  patchProduct: {
    method: 'patch',
    path: '/v1/catalog/products/:sku',
    summary: 'Change some fields of a product',
    tag: 'admin',
    access: 'admin',
    params: skuParams,
    body: ProductPatch,
    ok: { 200: json('The product after the change.', Product) },
    errors: [401, 403, 404, 413],
  },
  deleteProduct: { method: 'delete', path: '/v1/catalog/products/:sku', summary: 'Remove a product', tag: 'admin', access: 'admin', params: skuParams, ok: { 204: noContent }, errors: [401, 403, 404] },
  mintToken: {
    method: 'post',
    path: '/v1/auth/tokens',
    summary: 'Mint a token for a customer, an associate or a service',
    tag: 'admin',
    access: 'admin',
    body: MintToken,
    ok: { 201: json('The token.', MintedToken) },
    errors: [401, 403],
  },
  signIn: {
    method: 'post',
    path: '/v1/auth/exchange',
    summary: "Exchange the shop's identity-provider token for a token of the customer's active cart (merging a guest cart)",
    tag: 'auth',
    access: 'idp',
    body: SignInBody,
    bodyOptional: true,
    ok: { 200: json('The active cart and a customer token for it.', SignedIn) },
    errors: [401, 403, 404, 409, 429, 501],
  },
  revokeSubject: {
    method: 'post',
    path: '/v1/auth/revoke',
    summary: 'Sign a subject out everywhere: revoke every token of it issued until now (admin token or a service token)',
    tag: 'admin',
    access: 'admin',
    body: RevokeSubject,
    ok: { 200: json('Revoked; its open sessions on every node are cut.', Revoked) },
    errors: [401, 403],
  },
  createShare: {
    method: 'post',
    path: '/v1/carts/:cartId/shares',
    summary: 'Make a share code a store associate redeems to join the cart (the customer)',
    tag: 'co-browsing',
    access: 'cart',
    params: cartParams,
    body: CreateShare,
    bodyOptional: true,
    ok: { 201: json('The code and its grant.', ShareCreated) },
    errors: [401, 403, 404],
  },
  redeemShare: {
    method: 'post',
    path: '/v1/shares/:code/redeem',
    summary: "Redeem a share code with an associate's token (livecart role associate, or the IdP's associate claim)",
    tag: 'co-browsing',
    access: 'cart',
    params: z.object({ code: ShareCode }),
    ok: { 200: json("A token of the cart for the associate.", ShareRedeemed) },
    errors: [401, 403, 404, 429],
  },
  revokeShare: {
    method: 'delete',
    path: '/v1/carts/:cartId/shares/:grantId',
    summary: "Revoke a share grant (the customer): the associate's sessions are cut on every node, the code is void",
    tag: 'co-browsing',
    access: 'cart',
    params: z.object({ cartId: CartId, grantId: GrantId }),
    ok: { 204: noContent },
    errors: [401, 403, 404],
  },
  getActivity: {
    method: 'get',
    path: '/v1/carts/:cartId/activity',
    summary: 'Who did what to the cart: lines, coupons, share codes (newest first)',
    tag: 'co-browsing',
    access: 'cart',
    params: cartParams,
    query: ActivityQuery,
    ok: { 200: json('The newest entries.', ActivityList) },
    errors: [401, 403],
  },
  getRules: { method: 'get', path: '/v1/pricing/rules', summary: 'Every pricing rule', tag: 'pricing', access: 'admin', ok: { 200: json('The rules and their version.', RulesDump) }, errors: [401, 403] },
} satisfies Record<string, ApiRoute>;

/** Pricing-rule routes: PUT and DELETE of one rule named by its identity in the path. */
export const RULE_ROUTES = {
  promotions: { path: '/v1/pricing/promotions/:id', params: z.object({ id: PromotionId }), body: PromotionBody },
  coupons: { path: '/v1/pricing/coupons/:code', params: z.object({ code: CouponCode }), body: CouponBody },
  priceLists: { path: '/v1/pricing/price-lists/:segment/:currency', params: z.object({ segment: Segment, currency: Currency }), body: PriceListBody },
  volumeTiers: {
    path: '/v1/pricing/volume-tiers/:sku/:currency/:minQuantity',
    params: z.object({ sku: Sku, currency: Currency, minQuantity: z.string().regex(/^[1-9]\d{0,6}$/, { error: 'must be an integer from 1 to 9999999' }) }),
    body: VolumeTierBody,
  },
  taxRules: { path: '/v1/pricing/tax/:region', params: z.object({ region: Region }), body: TaxRuleBody },
  shipping: { path: '/v1/pricing/shipping/:currency', params: z.object({ currency: Currency }), body: ShippingBody },
} as const;

/** Every route: the table above plus PUT and DELETE of each rule kind. */
export function allRoutes(): ApiRoute[] {
  const rules = Object.entries(RULE_ROUTES).flatMap(([kind, r]): ApiRoute[] => [
    { method: 'put', path: r.path, summary: `Create or replace one of ${kind}`, tag: 'pricing', access: 'admin', params: r.params, body: r.body, ok: { 200: json('Replaced.', r.body), 201: json('Created.', r.body) }, errors: [401, 403] },
    { method: 'delete', path: r.path, summary: `Remove one of ${kind}`, tag: 'pricing', access: 'admin', params: r.params, ok: { 204: noContent }, errors: [401, 403, 404] },
  ]);
  return [...Object.values(ROUTES), ...rules];
}
