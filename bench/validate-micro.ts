/**
 * Micro-benchmark of protocol/validate.ts on typical device updates (not a test; figures vary by
 * machine). Run: npx tsx bench/validate-micro.ts
 *
 * The server document holds 20 lines; each case is one update a device sends: an add with options
 * and a note (line + quantity records), a quantity change, a note edit, a coupon, an attribute.
 */
import * as Y from 'yjs';
import { type Actor, DEFAULT_LIMITS, addLine, applyCoupon, setAttribute, setNote, setQuantity, validateUpdate } from '../protocol/index.ts';

const actor: Actor = { id: 'user-1', role: 'customer' };
const server = new Y.Doc();
const device = new Y.Doc();
for (let i = 0; i < 20; i++) addLine(device, { sku: `SKU-${i}`, quantity: 1 + (i % 3), options: { size: String(36 + i) }, note: i % 2 ? 'gift' : '' }, actor);
Y.applyUpdate(server, Y.encodeStateAsUpdate(device));

function updateOf(change: (doc: Y.Doc) => void): Uint8Array {
  const copy = new Y.Doc();
  Y.applyUpdate(copy, Y.encodeStateAsUpdate(device));
  const before = Y.encodeStateVector(copy);
  change(copy);
  return Y.encodeStateAsUpdate(copy, before);
}

const cases: Array<[string, Uint8Array]> = [
  ['add line (options, note)', updateOf((d) => addLine(d, { sku: 'NEW-1', quantity: 2, options: { size: '40', color: 'red' }, note: 'size 40, please' }, actor))],
  ['set quantity', updateOf((d) => setQuantity(d, 'SKU-3?size=39', 4))],
  ['edit note', updateOf((d) => setNote(d, 'SKU-4?size=40', 'wrap it'))],
  ['apply coupon', updateOf((d) => applyCoupon(d, 'SAVE10'))],
  ['set attribute', updateOf((d) => setAttribute(d, 'giftWrap', 'yes'))],
];

const ctx = { limits: DEFAULT_LIMITS, actor, maxBytes: DEFAULT_LIMITS.maxUpdateBytes };
const ITERATIONS = 10_000;
const ROUNDS = 7;
for (const [name, update] of cases) {
  for (let i = 0; i < 2000; i++) validateUpdate(server, update, ctx); // warm up
  // The best of several rounds: on a shared machine the slower rounds measure the neighbours.
  let ns = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) validateUpdate(server, update, ctx);
    ns = Math.min(ns, Number(process.hrtime.bigint() - start) / ITERATIONS);
  }
  process.stdout.write(`${name.padEnd(26)} ${(ns / 1000).toFixed(2).padStart(7)} µs/update  (${update.byteLength} bytes)\n`);
}
