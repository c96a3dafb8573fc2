/**
 * GET /v1/openapi.json: the OpenAPI 3.1 document, built from the route table (api.ts) and the
 * shared schemas, with the node's cart limits in the bounds.
 */
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponsesObject } from 'zod-openapi';
import { type CartLimits, ERRORS } from '../../protocol/index.ts';
import { ErrorBody } from '../../protocol/schemas/index.ts';
import { type ApiRoute, allRoutes, bodyOf } from './api.ts';

/** Statuses every route may answer: a malformed request, an internal error, draining or storage down. */
const COMMON_ERRORS = [400, 500, 503];

const STATUS_TEXT: Record<number, string> = {
  400: 'Invalid request: E_VALIDATION (detail names the field), E_BODY_MALFORMED, ...',
  401: 'No token, or an invalid or expired one.',
  403: 'The token does not grant this cart or action.',
  404: 'Not found.',
  409: 'Conflict (cart closed, request in progress).',
  413: 'Body larger than the limit.',
  422: 'Refused change (too many lines, idempotency key reused).',
  429: 'Rate limited.',
  501: 'Not configured on this server.',
  500: 'Internal error.',
  503: 'Storage unavailable or node shutting down; retry.',
};

/** `/v1/carts/:cartId` → `/v1/carts/{cartId}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, '{$1}');
}

function operation(route: ApiRoute, limits: CartLimits): ZodOpenApiOperationObject {
  const responses: ZodOpenApiResponsesObject = {};
  for (const [status, answer] of Object.entries(route.ok)) {
    responses[status as `${1 | 2 | 3 | 4 | 5}${string}`] =
      answer.schema === undefined ? { description: answer.description } : { description: answer.description, content: { [answer.contentType ?? 'application/json']: { schema: answer.schema } } };
  }
  for (const status of [...new Set([...route.errors, ...COMMON_ERRORS])].sort()) {
    responses[String(status) as `4${string}`] = { description: STATUS_TEXT[status] ?? 'Error.', content: { 'application/json': { schema: ErrorBody } } };
  }
  const op: ZodOpenApiOperationObject = { summary: route.summary, tags: [route.tag], operationId: `${route.method}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`, responses };
  if (route.params !== undefined || route.query !== undefined) op.requestParams = { ...(route.params && { path: route.params }), ...(route.query && { query: route.query }) };
  if (route.idempotent === true) {
    op.parameters = [{ in: 'header', name: 'Idempotency-Key', required: false, description: 'Retries with the same key answer the first outcome (kept 24 h).', schema: { type: 'string', minLength: 1, maxLength: 255 } }];
  }
  if (route.body !== undefined) op.requestBody = { required: route.bodyOptional !== true, content: { 'application/json': { schema: bodyOf(route, limits) } } };
  if (route.access === 'cart' || route.access === 'admin' || route.access === 'idp') op.security = [{ bearer: [] }];
  else if (route.access === 'optional') op.security = [{}, { bearer: [] }];
  else op.security = [];
  if (route.access === 'admin') op.description = 'Needs the admin token (LIVECART_ADMIN_TOKEN); a cart token answers 403 E_AUTH_FORBIDDEN.';
  if (route.access === 'idp') op.description = "Needs a token of the shop's identity provider (RS256 or ES256, LIVECART_IDP_*), not a livecart token; 501 E_IDP_NOT_CONFIGURED when sign-in is off.";
  return op;
}

export function openApiDocument(limits: CartLimits): ReturnType<typeof createDocument> {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of allRoutes()) {
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [route.method]: operation(route, limits) };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'livecart REST API',
      version: '1',
      description: `Every error answers { error: { code, message, retryable, detail? } }; codes: ${Object.keys(ERRORS).join(', ')}. See protocol/SPEC.md.`,
    },
    paths,
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  });
}
