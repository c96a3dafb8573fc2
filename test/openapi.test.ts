/**
 * GET /v1/openapi.json: a valid OpenAPI 3.1 document (checked with a maintained validator), with
 * exactly the routes express registers, whose response schemas real answers satisfy.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiPath } from '../server/rest/openapi.ts';
import { TEST_ADMIN_TOKEN, type TestNode, startNode } from './helpers/node.ts';

let node: TestNode;
let doc: { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
beforeAll(async () => {
  node = await startNode();
  const res = await node.request('GET', '/v1/openapi.json');
  expect(res.status).toBe(200);
  doc = res.body;
});
afterAll(async () => {
  await node.close();
});

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every `METHOD path` express would dispatch, walking the app's and its routers' stacks. */
function registered(): string[] {
  const app = node.node.app as unknown as { router: { stack: Layer[] } };
  const out: string[] = [];
  const walk = (stack: Layer[]): void => {
    for (const layer of stack) {
      if (layer.route) for (const method of Object.keys(layer.route.methods)) out.push(`${method} ${openApiPath(layer.route.path)}`);
      else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk(app.router.stack);
  return out.sort();
}

function documented(): string[] {
  return Object.entries(doc.paths)
    .flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method} ${path}`))
    .sort();
}

const pointer = (...parts: string[]): string => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/** Checks `body` against the document's schema for `method path status`. */
function validates(method: string, path: string, status: number, body: unknown): void {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema(doc, 'openapi.json');
  const ref = `openapi.json#/${pointer('paths', path, method, 'responses', String(status), 'content', 'application/json', 'schema')}`;
  const validate = ajv.compile({ $ref: ref });
  const ok = validate(body);
  expect(ok, `${method} ${path} ${status}: ${JSON.stringify(validate.errors)}`).toBe(true);
}

describe('OpenAPI 3.1 document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect((doc as unknown as { openapi: string }).openapi).toBe('3.1.0');
  });

  it('documents every route express registers, and only those', () => {
    const routes = registered();
    expect(routes.length).toBeGreaterThan(20);
    expect(documented()).toEqual([...new Set(routes)].sort());
  });

  it('every operation declares its errors with the error shape, and protected ones bearer security', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops) as Array<[string, { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>; security?: unknown[] }]>) {
        expect(op.responses['400']?.content?.['application/json']?.schema.$ref, `${method} ${path}`).toBe('#/components/schemas/Error');
        if (path.startsWith('/v1/carts/') || path.startsWith('/v1/pricing') || method !== 'get') {
          if (path !== '/v1/carts') expect(op.security, `${method} ${path}`).toEqual([{ bearer: [] }]);
        }
      }
    }
  });

  it('real answers validate against the response schemas: create cart, add line, get cart, a 400, the catalog', async () => {
    const created = await node.request('POST', '/v1/carts');
    validates('post', '/v1/carts', 201, created.body);
    const { cartId, token } = created.body as { cartId: string; token: string };
    const added = await node.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: 'SHOE-1', quantity: 2, options: { size: '40' }, note: 'gift' } });
    expect(added.status).toBe(201);
    validates('post', '/v1/carts/{cartId}/lines', 201, added.body);
    const patched = await node.request('PATCH', `/v1/carts/${cartId}/lines/${encodeURIComponent('SHOE-1?size=40')}`, { token, body: { quantity: 3 } });
    validates('patch', '/v1/carts/{cartId}/lines/{lineId}', 200, patched.body);
    const cart = await node.request('GET', `/v1/carts/${cartId}`, { token });
    validates('get', '/v1/carts/{cartId}', 200, cart.body);
    const bad = await node.request('POST', `/v1/carts/${cartId}/lines`, { token, body: { sku: 'SHOE-1', quantity: 0 } });
    expect(bad.status).toBe(400);
    validates('post', '/v1/carts/{cartId}/lines', 400, bad.body);
    await node.request('PUT', '/v1/catalog/products/OA-1', { token: TEST_ADMIN_TOKEN, body: { name: 'Mug', price: { amount: 900, currency: 'USD' }, stock: 2 } });
    const list = await node.request('GET', '/v1/catalog/products');
    expect(list.body.products.length).toBeGreaterThan(0);
    validates('get', '/v1/catalog/products', 200, list.body);
    const rules = await node.request('GET', '/v1/pricing/rules', { token: TEST_ADMIN_TOKEN });
    validates('get', '/v1/pricing/rules', 200, rules.body);
    const forbidden = await node.request('GET', '/v1/pricing/rules', { token });
    validates('get', '/v1/pricing/rules', 403, forbidden.body);
  });
});
