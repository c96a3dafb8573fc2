/**
 * The quantity rules of protocol/SPEC.md §4, on pure documents: concurrent adds sum, a set wins
 * over adds it did not see, remove is a set to 0, and every replica converges.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { type Actor, addLine, quantityOf, readCart, removeLine, setQuantity } from '../protocol/index.ts';

const ana: Actor = { id: 'ana', role: 'customer' };

/** Exchange everything both ways, as a reconnect's sync step 1/2 does. */
function sync(a: Y.Doc, b: Y.Doc): void {
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
  Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)));
}

function pair(): [Y.Doc, Y.Doc] {
  const phone = new Y.Doc();
  const laptop = new Y.Doc();
  return [phone, laptop];
}

describe('quantity semantics', () => {
  it('concurrent adds of the same SKU on two devices sum, even when both create the line', () => {
    const [phone, laptop] = pair();
    addLine(phone, { sku: 'SHOE', quantity: 2 }, ana);
    addLine(laptop, { sku: 'SHOE', quantity: 3 }, ana);
    sync(phone, laptop);
    expect(quantityOf(phone, 'SHOE')).toBe(5);
    expect(quantityOf(laptop, 'SHOE')).toBe(5);
    expect(readCart(phone)).toEqual(readCart(laptop));
  });

  it('repeated adds on one device accumulate', () => {
    const [phone] = pair();
    addLine(phone, { sku: 'SHOE', quantity: 2 }, ana);
    addLine(phone, { sku: 'SHOE', quantity: 1 }, ana);
    expect(quantityOf(phone, 'SHOE')).toBe(3);
  });

  it('a set overrides adds it did not see, and later adds count on top of it', () => {
    const [phone, laptop] = pair();
    addLine(phone, { sku: 'SHOE', quantity: 2 }, ana);
    sync(phone, laptop);
    setQuantity(phone, 'SHOE', 10);
    addLine(laptop, { sku: 'SHOE', quantity: 3 }, ana);
    sync(phone, laptop);
    expect(quantityOf(phone, 'SHOE')).toBe(10);
    expect(quantityOf(laptop, 'SHOE')).toBe(10);
    addLine(laptop, { sku: 'SHOE', quantity: 1 }, ana);
    sync(phone, laptop);
    expect(quantityOf(phone, 'SHOE')).toBe(11);
  });

  it('a set includes the adds it saw', () => {
    const [phone, laptop] = pair();
    addLine(phone, { sku: 'SHOE', quantity: 2 }, ana);
    addLine(laptop, { sku: 'SHOE', quantity: 3 }, ana);
    sync(phone, laptop);
    setQuantity(laptop, 'SHOE', 4);
    sync(phone, laptop);
    expect(quantityOf(phone, 'SHOE')).toBe(4);
  });

  it('remove wins over a concurrent add it did not see', () => {
    const [phone, laptop] = pair();
    addLine(phone, { sku: 'SHOE', quantity: 2 }, ana);
    sync(phone, laptop);
    removeLine(phone, 'SHOE');
    addLine(laptop, { sku: 'SHOE', quantity: 3 }, ana);
    sync(phone, laptop);
    expect(readCart(phone).lines).toEqual([]);
    expect(readCart(laptop).lines).toEqual([]);
  });

  it('an add made after seeing the removal brings the line back with that quantity', () => {
    const [phone, laptop] = pair();
    addLine(phone, { sku: 'SHOE', quantity: 2 }, ana);
    sync(phone, laptop);
    removeLine(phone, 'SHOE');
    sync(phone, laptop);
    addLine(laptop, { sku: 'SHOE', quantity: 1 }, { id: 'lee', role: 'associate' });
    sync(phone, laptop);
    const [line] = readCart(phone).lines;
    expect(line?.quantity).toBe(1);
    expect(line?.addedBy).toEqual({ id: 'lee', role: 'associate' });
  });

  it('concurrent sets (and remove vs set) resolve to one of them, the same on every device', () => {
    const [phone, laptop] = pair();
    addLine(phone, { sku: 'SHOE', quantity: 2 }, ana);
    sync(phone, laptop);
    setQuantity(phone, 'SHOE', 7);
    removeLine(laptop, 'SHOE');
    sync(phone, laptop);
    const q = quantityOf(phone, 'SHOE');
    expect([0, 7]).toContain(q);
    expect(quantityOf(laptop, 'SHOE')).toBe(q);
    expect(readCart(phone)).toEqual(readCart(laptop));
  });

  it('merged adds above the maximum are capped in the view', () => {
    const [phone, laptop] = pair();
    addLine(phone, { sku: 'SHOE', quantity: 60 }, ana);
    addLine(laptop, { sku: 'SHOE', quantity: 60 }, ana);
    sync(phone, laptop);
    expect(quantityOf(phone, 'SHOE', 99)).toBe(99);
  });
});
