/**
 * Property: the REST edge and the document validation are one schema. Bodies are generated at the
 * edges of the shared schemas (options at their limits, multi-byte text, multi-line notes, coupon
 * codes, attribute values); whatever REST accepts, a real device then edits without ever being
 * rejected.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveCartConnection, type CartHandle } from '../client/index.ts';
import { DEFAULT_LIMITS } from '../protocol/index.ts';
import { cartSchemas } from '../protocol/schemas/index.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { waitFor } from './helpers/wait.ts';

const L = DEFAULT_LIMITS;
let node: TestNode;
const conns: LiveCartConnection[] = [];
beforeAll(async () => {
  node = await startNode();
});
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()));
  await node.close();
});

const pick = (chars: string) => fc.constantFrom(...chars.split(''));
const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Characters allowed in text, weighted towards those that grow when percent-encoded. */
const textChar = fc.oneof(pick(`${alnum} -_.,<>&"'`), pick('éßñü€中文日本'), fc.constant('😀'), fc.constant('\u00A0'), fc.constant('%'));
const text = (max: number) => fc.array(textChar, { maxLength: max }).map((cs) => cs.join('').slice(0, max));
const sku = fc.tuple(pick(alnum), fc.array(pick(`${alnum}._-`), { maxLength: 63 })).map(([a, rest]) => a + rest.join(''));
const optionKey = fc.tuple(pick(alnum.slice(0, 52)), fc.array(pick(`${alnum}_-`), { maxLength: 31 })).map(([a, rest]) => a + rest.join(''));
/** Options up to the limits: as many keys as allowed, values up to the longest allowed. */
const options = fc.dictionary(optionKey, fc.oneof(text(L.maxOptionLength), fc.constant('é'.repeat(L.maxOptionLength)), fc.constant('x'.repeat(L.maxOptionLength))), { maxKeys: L.maxOptions });
const note = fc.oneof(text(L.maxNoteLength), fc.constant('line one\nline two <script>x</script>'), fc.constant('n'.repeat(L.maxNoteLength)));
const addBody = fc.record({ sku, quantity: fc.integer({ min: 1, max: L.maxQuantity }), options, note }, { requiredKeys: ['sku', 'quantity'] });
const attributeKey = fc.tuple(pick(alnum.slice(0, 52)), fc.array(pick(`${alnum}_.-`), { maxLength: 39 })).map(([a, rest]) => a + rest.join(''));
const attributes = fc.dictionary(attributeKey, fc.oneof(text(L.maxAttributeLength), fc.constant('é'.repeat(L.maxAttributeLength))), { maxKeys: 3 });
const coupon = fc.array(pick(`${alnum}_-`), { minLength: 1, maxLength: 32 }).map((cs) => cs.join(''));

async function device(token: string, cartId: string): Promise<CartHandle> {
  const c = new LiveCartConnection({ url: node.url, token, retryMinMs: 50, retryMaxMs: 300, ackTimeoutMs: 5000 });
  conns.push(c);
  return c.open(cartId);
}

describe('one schema: every line REST accepts, a device can edit', () => {
  it('one schema: every line REST accepts, a device can edit', async () => {
    const schema = cartSchemas(node.config.limits).addLine;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(addBody, { minLength: 1, maxLength: 3 }), fc.array(coupon, { maxLength: L.maxCoupons }), fc.integer({ min: 0, max: L.maxQuantity }), note, attributes, async (bodies, codes, quantity, newNote, attrs) => {
        const { cartId, token } = await node.createCart();
        const made: string[] = [];
        for (const body of bodies) {
          const res = await node.request('POST', `/v1/carts/${cartId}/lines`, { token, body });
          // The REST edge says exactly what the schema says (and nothing else).
          expect(res.status, JSON.stringify(res.body)).toBe(schema.safeParse(body).success ? 201 : 400);
          if (res.status === 201) made.push(res.body.lineId as string);
        }
        const coupons = await node.request('PUT', `/v1/carts/${cartId}/coupons`, { token, body: { codes } });
        expect(coupons.status).toBe(200);
        accepted += made.length;
        const h = await device(token, cartId);
        const rejected: unknown[] = [];
        h.on('rejected', (e) => rejected.push(e));
        await waitFor(() => expect(h.view.lines.map((l) => l.lineId).sort()).toEqual([...new Set(made)].sort()));
        for (const lineId of new Set(made)) {
          h.setNote(lineId, newNote);
          h.setQuantity(lineId, quantity);
        }
        // Attributes have no REST route: a device writes them, from the same generated edge values.
        for (const [key, value] of Object.entries(attrs)) h.setAttribute(key, value);
        if (made.length > 0 || Object.keys(attrs).length > 0) await h.whenSaved();
        expect(rejected).toEqual([]);
        const after = await node.request('GET', `/v1/carts/${cartId}`, { token });
        expect(after.body.attributes).toEqual(attrs);
        if (quantity > 0) {
          for (const line of after.body.lines as Array<{ quantity: number; note: string }>) expect(line).toMatchObject({ quantity, note: newNote });
        } else expect(after.body.lines).toEqual([]);
        await h.close();
      }),
      { numRuns: 30 },
    );
    expect(accepted).toBeGreaterThan(10);
  }, 120_000);
});
