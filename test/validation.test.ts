/**
 * Every rule of protocol/validate.ts: as a pure check of an update against a server-side Y.Doc, and
 * (for a representative subset) end to end through a raw device, where a rejected update must be
 * answered with its typed error, leave the cart log untouched and never reach the other devices.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  type Actor,
  CartError,
  type CartLimits,
  DEFAULT_LIMITS,
  type LineIntent,
  type ValidationContext,
  addLine,
  applyCoupon,
  decodeSyncFrame,
  lineIdOf,
  quantityOf,
  readCart,
  removeCoupon,
  removeLine,
  setAttribute,
  setNote,
  setQuantity,
  validateUpdate,
  writeCartFacts,
  writeSyncStep2,
} from '../protocol/index.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { RawDevice } from './helpers/raw-device.ts';
import { waitFor } from './helpers/wait.ts';

const ALICE: Actor = { id: 'alice', role: 'customer' };
const BOB: Actor = { id: 'bob', role: 'associate' };

function ctx(over: Partial<ValidationContext> = {}): ValidationContext {
  return { limits: DEFAULT_LIMITS, actor: ALICE, maxBytes: DEFAULT_LIMITS.maxUpdateBytes, ...over };
}

function limits(over: Partial<CartLimits>): CartLimits {
  return { ...DEFAULT_LIMITS, ...over };
}

/** A server-side cart as POST /v1/carts leaves it (cart facts written), then `setup` applied as the server. */
function serverDoc(setup?: (doc: Y.Doc) => void): Y.Doc {
  const doc = new Y.Doc();
  writeCartFacts(doc, { schema: 1, status: 'open', currency: 'USD', totals: null, warnings: [] });
  setup?.(doc);
  return doc;
}

/** A device replica of `base` (its own Yjs client id). */
function replicaOf(base: Y.Doc): Y.Doc {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, Y.encodeStateAsUpdate(base));
  return doc;
}

/** The update `change` produces on `doc` (all its transactions merged). */
function captured(doc: Y.Doc, change: (doc: Y.Doc) => void): Uint8Array {
  const updates: Uint8Array[] = [];
  const listener = (u: Uint8Array): void => {
    updates.push(u);
  };
  doc.on('update', listener);
  try {
    change(doc);
  } finally {
    doc.off('update', listener);
  }
  if (updates.length === 0) throw new Error('change produced no update');
  return Y.mergeUpdates(updates);
}

/** The update a device synced with `server` produces by running `change`. */
function edit(server: Y.Doc, change: (doc: Y.Doc) => void): Uint8Array {
  return captured(replicaOf(server), change);
}

/** The error code validateUpdate throws, or 'accepted'. */
function verdict(server: Y.Doc, update: Uint8Array, c: ValidationContext = ctx()): string {
  try {
    validateUpdate(server, update, c);
    return 'accepted';
  } catch (err) {
    if (err instanceof CartError) return err.code;
    throw err;
  }
}

function line(sku: string, over: Partial<LineIntent> = {}, options: Record<string, string> = {}): LineIntent {
  return { sku, options, note: '', addedBy: { ...ALICE }, addedAt: 1_700_000_000_000, ...over };
}

/** Server-side: `n` live lines SKU-0..SKU-(n-1), added by alice. */
function withLines(n: number): (doc: Y.Doc) => void {
  return (doc) => {
    for (let i = 0; i < n; i++) addLine(doc, { sku: `SKU-${i}`, quantity: 1 }, ALICE);
  };
}

describe('validateUpdate: accepted changes', () => {
  it('accepts adding, setting, removing lines, notes, coupons and attributes made with the cart operations', () => {
    const server = serverDoc();
    const device = replicaOf(server);
    const steps: [string, (doc: Y.Doc) => void][] = [
      ['add', (d) => addLine(d, { sku: 'SHOE-1', quantity: 2, options: { size: '42', color: 'red' }, note: 'gift' }, ALICE)],
      ['add again', (d) => addLine(d, { sku: 'SHOE-1', quantity: 1, options: { size: '42', color: 'red' } }, ALICE)],
      ['set', (d) => setQuantity(d, lineIdOf('SHOE-1', { size: '42', color: 'red' }), DEFAULT_LIMITS.maxQuantity)],
      ['note', (d) => setNote(d, lineIdOf('SHOE-1', { size: '42', color: 'red' }), 'x'.repeat(DEFAULT_LIMITS.maxNoteLength))],
      ['second line', (d) => addLine(d, { sku: 'BELT', quantity: DEFAULT_LIMITS.maxQuantity }, ALICE)],
      ['remove', (d) => removeLine(d, 'BELT')],
      ['coupon', (d) => applyCoupon(d, 'save10')],
      ['remove coupon', (d) => removeCoupon(d, 'SAVE10')],
      ['attr', (d) => setAttribute(d, 'gift.wrap', 'y'.repeat(DEFAULT_LIMITS.maxAttributeLength))],
      ['delete attr', (d) => setAttribute(d, 'gift.wrap', null)],
    ];
    for (const [name, step] of steps) {
      const update = captured(device, step);
      const result = validateUpdate(server, update, ctx());
      expect(result.insertedItems + result.newDeletes, name).toBeGreaterThan(0);
      Y.applyUpdate(server, update);
    }
    expect(readCart(server)).toEqual(readCart(device));
    expect(readCart(server).lines.map((l) => [l.lineId, l.quantity])).toEqual([[lineIdOf('SHOE-1', { size: '42', color: 'red' }), 99]]);
  });

  it('accepts qset q = 0 (remove) and q = max, and qadd n = max', () => {
    const server = serverDoc(withLines(1));
    expect(verdict(server, edit(server, (d) => d.getMap('qset').set('SKU-0', { q: 0, id: 'a' })))).toBe('accepted');
    expect(verdict(server, edit(server, (d) => d.getMap('qset').set('SKU-0', { q: DEFAULT_LIMITS.maxQuantity, id: 'b' })))).toBe('accepted');
    expect(verdict(server, edit(server, (d) => d.getMap('qadd').set(`SKU-0#${d.clientID}`, { n: DEFAULT_LIMITS.maxQuantity, base: null })))).toBe('accepted');
  });

  it('resolves an overwrite whose origin is an item of the same update', () => {
    const server = serverDoc();
    const update = edit(server, (d) => {
      d.getMap('attrs').set('color', 'red');
      d.getMap('attrs').set('color', 'blue');
    });
    const items = Y.decodeUpdate(update).structs.filter((s): s is Y.Item => s instanceof Y.Item);
    expect(items.some((i) => i.parent === null && i.origin !== null)).toBe(true);
    expect(verdict(server, update)).toBe('accepted');
  });

  it('never changes the document it validates against', () => {
    const server = serverDoc(withLines(2));
    const before = Y.encodeStateAsUpdate(server);
    expect(verdict(server, edit(server, (d) => d.getMap('cart').set('status', 'ordered')))).toBe('E_UPDATE_FORBIDDEN_FIELD');
    expect(verdict(server, edit(server, (d) => addLine(d, { sku: 'NEW', quantity: 1 }, ALICE)))).toBe('accepted');
    expect(Y.encodeStateAsUpdate(server)).toEqual(before);
  });
});

describe('validateUpdate: fact roots are written by the server only', () => {
  const facts = { unitPrice: { amount: 1, currency: 'USD' }, listPrice: null, lineTotal: null, available: 5, warnings: [] };

  it('rejects inserting a new key into facts or cart', () => {
    const server = serverDoc();
    expect(verdict(server, edit(server, (d) => d.getMap('facts').set('SKU-0', facts)))).toBe('E_UPDATE_FORBIDDEN_FIELD');
    expect(verdict(server, edit(server, (d) => d.getMap('cart').set('version', 7)))).toBe('E_UPDATE_FORBIDDEN_FIELD');
  });

  it('rejects overwriting a server-written key (an item with an origin and no parent: resolved through the document)', () => {
    const server = serverDoc((d) => d.getMap('facts').set('SKU-0', facts));
    const overwriteStatus = edit(server, (d) => d.getMap('cart').set('status', 'ordered'));
    const [item] = Y.decodeUpdate(overwriteStatus).structs;
    expect(item).toBeInstanceOf(Y.Item);
    expect((item as Y.Item).parent).toBeNull();
    expect((item as Y.Item).origin).not.toBeNull();
    expect(verdict(server, overwriteStatus)).toBe('E_UPDATE_FORBIDDEN_FIELD');
    expect(verdict(server, edit(server, (d) => d.getMap('facts').set('SKU-0', { ...facts, unitPrice: { amount: 0, currency: 'USD' } })))).toBe('E_UPDATE_FORBIDDEN_FIELD');
  });

  it('rejects an overwrite chained inside the update onto a server-written key', () => {
    const server = serverDoc();
    const update = edit(server, (d) => {
      d.getMap('cart').set('status', 'ordered');
      d.getMap('cart').set('status', 'merged');
    });
    expect(verdict(server, update)).toBe('E_UPDATE_FORBIDDEN_FIELD');
  });

  it('rejects deleting a server-written key', () => {
    const server = serverDoc((d) => d.getMap('facts').set('SKU-0', facts));
    expect(verdict(server, edit(server, (d) => d.getMap('cart').delete('currency')))).toBe('E_UPDATE_FORBIDDEN_FIELD');
    expect(verdict(server, edit(server, (d) => d.getMap('facts').delete('SKU-0')))).toBe('E_UPDATE_FORBIDDEN_FIELD');
  });

  it('rejects the whole update when only one of its changes touches a fact', () => {
    const server = serverDoc();
    const update = edit(server, (d) => {
      addLine(d, { sku: 'OK-1', quantity: 1 }, ALICE);
      d.getMap('cart').set('totals', null);
    });
    expect(verdict(server, update)).toBe('E_UPDATE_FORBIDDEN_FIELD');
  });

  it('rejects roots outside the schema', () => {
    const server = serverDoc();
    expect(verdict(server, edit(server, (d) => d.getMap('prices').set('SKU-0', 1)))).toBe('E_UPDATE_FORBIDDEN_FIELD');
  });
});

describe('validateUpdate: only plain JSON values in map roots', () => {
  it('rejects nested Yjs types as values (empty or with content)', () => {
    const server = serverDoc();
    expect(verdict(server, edit(server, (d) => d.getMap('attrs').set('note', new Y.Map())))).toBe('E_UPDATE_FORBIDDEN_FIELD');
    const full = edit(server, (d) => {
      const nested = new Y.Map<number>();
      nested.set('q', 1);
      d.getMap('lines').set('SKU-0', nested);
    });
    expect(verdict(server, full)).toBe('E_UPDATE_FORBIDDEN_FIELD');
    expect(verdict(server, edit(server, (d) => d.getMap('attrs').set('text', new Y.Text('hi'))))).toBe('E_UPDATE_FORBIDDEN_FIELD');
  });

  it('rejects Y.Array and Y.Text roots, also under an intent root name', () => {
    const server = serverDoc();
    const fresh = (): Y.Doc => new Y.Doc();
    expect(verdict(server, captured(fresh(), (d) => d.getArray('lines').insert(0, [1])))).toBe('E_UPDATE_FORBIDDEN_FIELD');
    expect(verdict(server, captured(fresh(), (d) => d.getText('attrs').insert(0, 'hello')))).toBe('E_UPDATE_FORBIDDEN_FIELD');
    expect(verdict(server, captured(fresh(), (d) => d.getXmlFragment('coupons').insert(0, [new Y.XmlText('x')])))).toBe('E_UPDATE_FORBIDDEN_FIELD');
  });

  it('rejects binary values', () => {
    const server = serverDoc();
    expect(verdict(server, edit(server, (d) => d.getMap('attrs').set('bin', new Uint8Array([1, 2]))))).toBe('E_UPDATE_INVALID_VALUE');
  });
});

describe('validateUpdate: quantities', () => {
  const server = serverDoc(withLines(1));
  const qset = (value: unknown): string => verdict(server, edit(server, (d) => d.getMap('qset').set('SKU-0', value)));
  const qadd = (value: unknown, key?: (d: Y.Doc) => string): string =>
    verdict(server, edit(server, (d) => d.getMap('qadd').set(key ? key(d) : `SKU-0#${d.clientID}`, value)));

  it('rejects qset q > max, q < 0, non-integer or non-number q', () => {
    expect(qset({ q: DEFAULT_LIMITS.maxQuantity + 1, id: 'x' })).toBe('E_UPDATE_INVALID_VALUE');
    expect(qset({ q: -1, id: 'x' })).toBe('E_UPDATE_INVALID_VALUE');
    expect(qset({ q: 1.5, id: 'x' })).toBe('E_UPDATE_INVALID_VALUE');
    expect(qset({ q: '3', id: 'x' })).toBe('E_UPDATE_INVALID_VALUE');
    expect(qset({ q: 3, id: '' })).toBe('E_UPDATE_INVALID_VALUE');
    expect(qset({ q: 3, id: 'x', extra: true })).toBe('E_UPDATE_INVALID_VALUE');
    expect(qset(3)).toBe('E_UPDATE_INVALID_VALUE');
    expect(qset({ q: 3, id: 'x' })).toBe('accepted');
  });

  it('respects a configured maxQuantity', () => {
    const small = ctx({ limits: limits({ maxQuantity: 5 }) });
    expect(verdict(server, edit(server, (d) => d.getMap('qset').set('SKU-0', { q: 6, id: 'x' })), small)).toBe('E_UPDATE_INVALID_VALUE');
    expect(verdict(server, edit(server, (d) => d.getMap('qset').set('SKU-0', { q: 5, id: 'x' })), small)).toBe('accepted');
  });

  it('rejects qadd n = 0, n > max, negative or non-integer n, and a bad base', () => {
    expect(qadd({ n: 0, base: null })).toBe('E_UPDATE_INVALID_VALUE');
    expect(qadd({ n: DEFAULT_LIMITS.maxQuantity + 1, base: null })).toBe('E_UPDATE_INVALID_VALUE');
    expect(qadd({ n: -2, base: null })).toBe('E_UPDATE_INVALID_VALUE');
    expect(qadd({ n: 2.5, base: null })).toBe('E_UPDATE_INVALID_VALUE');
    expect(qadd({ n: 1, base: 42 })).toBe('E_UPDATE_INVALID_VALUE');
    expect(qadd({ n: 1, base: null, extra: 1 })).toBe('E_UPDATE_INVALID_VALUE');
    expect(qadd({ n: 1, base: null })).toBe('accepted');
  });

  it("rejects a qadd key that does not end in the writer's Yjs client id", () => {
    expect(qadd({ n: 1, base: null }, (d) => `SKU-0#${d.clientID + 1}`)).toBe('E_UPDATE_INVALID_VALUE');
    expect(qadd({ n: 1, base: null }, () => 'SKU-0')).toBe('E_UPDATE_INVALID_VALUE');
    expect(qadd({ n: 1, base: null }, (d) => `SKU-0#${d.clientID}x`)).toBe('E_UPDATE_INVALID_VALUE');
    expect(qadd({ n: 1, base: null }, (d) => `bad sku#${d.clientID}`)).toBe('E_UPDATE_INVALID_VALUE');
  });

  it("takes a quantity record's changedBy stamp (`by`) only when it names the writer", () => {
    const at = 1_700_000_000_000;
    expect(qset({ q: 2, id: 'x', by: { ...ALICE }, at })).toBe('accepted');
    expect(qset({ q: 2, id: 'x' })).toBe('accepted');
    expect(qset({ q: 2, id: 'x', by: { ...BOB }, at })).toBe('E_UPDATE_INVALID_VALUE');
    expect(qset({ q: 2, id: 'x', by: { ...ALICE, name: 'Somebody else' }, at })).toBe('E_UPDATE_INVALID_VALUE');
    expect(qset({ q: 2, id: 'x', by: { ...ALICE }, at: -1 })).toBe('E_UPDATE_INVALID_VALUE');
    expect(qadd({ n: 1, base: null, by: { ...ALICE }, at })).toBe('accepted');
    expect(qadd({ n: 1, base: null, by: { ...BOB }, at })).toBe('E_UPDATE_INVALID_VALUE');
  });
});

describe('validateUpdate: line descriptions', () => {
  const server = serverDoc();
  const write = (key: string, value: unknown, c: ValidationContext = ctx()): string => verdict(server, edit(server, (d) => d.getMap('lines').set(key, value)), c);

  it('accepts a well-formed line', () => {
    expect(write('SKU-0', line('SKU-0'))).toBe('accepted');
    const options = { size: 'M', color: 'blue' };
    expect(write(lineIdOf('SKU-0', options), line('SKU-0', {}, options))).toBe('accepted');
  });

  it('rejects unknown fields and missing fields', () => {
    expect(write('SKU-0', { ...line('SKU-0'), price: 1 })).toBe('E_UPDATE_INVALID_VALUE');
    expect(write('SKU-0', { ...line('SKU-0'), addedBy: { ...ALICE, admin: true } })).toBe('E_UPDATE_INVALID_VALUE');
    const { note: _note, ...noNote } = line('SKU-0');
    expect(write('SKU-0', noNote)).toBe('E_UPDATE_INVALID_VALUE');
    expect(write('SKU-0', 'SKU-0')).toBe('E_UPDATE_INVALID_VALUE');
    expect(write('SKU-0', [line('SKU-0')])).toBe('E_UPDATE_INVALID_VALUE');
  });

  it('rejects invalid SKUs', () => {
    expect(write('bad sku', line('bad sku'))).toBe('E_UPDATE_INVALID_VALUE');
    expect(write('-SKU', line('-SKU'))).toBe('E_UPDATE_INVALID_VALUE');
    expect(write('S'.repeat(65), line('S'.repeat(65)))).toBe('E_UPDATE_INVALID_VALUE');
    expect(write('SKU-0', { ...line('SKU-0'), sku: 7 })).toBe('E_UPDATE_INVALID_VALUE');
  });

  it('rejects a line id that does not match sku and options', () => {
    expect(write('SKU-0', line('SKU-1'))).toBe('E_UPDATE_INVALID_VALUE');
    expect(write('SKU-0', line('SKU-0', {}, { size: 'M' }))).toBe('E_UPDATE_INVALID_VALUE');
    expect(write('SKU-0?size=M&color=blue', line('SKU-0', {}, { size: 'M', color: 'blue' }))).toBe('E_UPDATE_INVALID_VALUE');
  });

  it('rejects a note over maxNoteLength', () => {
    expect(write('SKU-0', line('SKU-0', { note: 'n'.repeat(DEFAULT_LIMITS.maxNoteLength + 1) }))).toBe('E_UPDATE_INVALID_VALUE');
    expect(write('SKU-0', line('SKU-0', { note: 'n'.repeat(DEFAULT_LIMITS.maxNoteLength) }))).toBe('accepted');
    expect(write('SKU-0', { ...line('SKU-0'), note: null })).toBe('E_UPDATE_INVALID_VALUE');
  });

  it('rejects too many options, invalid option keys and too long option values', () => {
    const tooMany = Object.fromEntries(Array.from({ length: DEFAULT_LIMITS.maxOptions + 1 }, (_, i) => [`k${i}`, 'v']));
    expect(write(lineIdOf('SKU-0', tooMany), line('SKU-0', {}, tooMany))).toBe('E_UPDATE_INVALID_VALUE');
    const max = Object.fromEntries(Array.from({ length: DEFAULT_LIMITS.maxOptions }, (_, i) => [`k${i}`, 'v']));
    expect(write(lineIdOf('SKU-0', max), line('SKU-0', {}, max))).toBe('accepted');
    const badKey = { '1size': 'M' };
    expect(write(lineIdOf('SKU-0', badKey), line('SKU-0', {}, badKey))).toBe('E_UPDATE_INVALID_VALUE');
    const longValue = { size: 'v'.repeat(DEFAULT_LIMITS.maxOptionLength + 1) };
    expect(write(lineIdOf('SKU-0', longValue), line('SKU-0', {}, longValue))).toBe('E_UPDATE_INVALID_VALUE');
  });

  it('rejects addedBy naming someone else, and a bad addedAt', () => {
    expect(write('SKU-0', line('SKU-0', { addedBy: { ...BOB } }))).toBe('E_UPDATE_INVALID_VALUE');
    expect(write('SKU-0', line('SKU-0', { addedBy: { id: 'alice', role: 'service' } }))).toBe('E_UPDATE_INVALID_VALUE');
    expect(write('SKU-0', line('SKU-0', { addedBy: { ...BOB } }), ctx({ actor: BOB }))).toBe('accepted');
    expect(write('SKU-0', line('SKU-0', { addedAt: -1 }))).toBe('E_UPDATE_INVALID_VALUE');
    expect(write('SKU-0', line('SKU-0', { addedAt: 1.5 }))).toBe('E_UPDATE_INVALID_VALUE');
  });

  it("takes addedBy's display name only when it is the writer's own (or none)", () => {
    const sam: Actor = { id: 'bob', role: 'associate', name: 'Sam' };
    expect(write('SKU-0', line('SKU-0', { addedBy: { ...sam } }), ctx({ actor: sam }))).toBe('accepted');
    expect(write('SKU-0', line('SKU-0', { addedBy: { ...BOB } }), ctx({ actor: sam }))).toBe('accepted');
    expect(write('SKU-0', line('SKU-0', { addedBy: { ...BOB, name: 'Store manager' } }), ctx({ actor: sam }))).toBe('E_UPDATE_INVALID_VALUE');
    expect(write('SKU-0', line('SKU-0', { addedBy: { ...BOB, name: 'Sam' } }), ctx({ actor: BOB }))).toBe('E_UPDATE_INVALID_VALUE');
    expect(write('SKU-0', line('SKU-0', { addedBy: { ...sam, name: 'x\u202Ey' } }), ctx({ actor: { ...sam, name: 'x\u202Ey' } }))).toBe('E_UPDATE_INVALID_VALUE');
  });

  it("accepts another subject's note edit that keeps the existing addedBy, but not a new line in someone else's name", () => {
    const withAlicesLine = serverDoc((d) => addLine(d, { sku: 'SHOE-1', quantity: 1 }, ALICE));
    const noteByBob = edit(withAlicesLine, (d) => setNote(d, 'SHOE-1', 'please gift wrap'));
    expect(verdict(withAlicesLine, noteByBob, ctx({ actor: BOB }))).toBe('accepted');
    const takeover = edit(withAlicesLine, (d) => d.getMap('lines').set('SHOE-1', line('SHOE-1', { addedBy: { id: 'carol', role: 'customer' } })));
    expect(verdict(withAlicesLine, takeover, ctx({ actor: BOB }))).toBe('E_UPDATE_INVALID_VALUE');
    const newLineAsAlice = edit(withAlicesLine, (d) => d.getMap('lines').set('HAT', line('HAT')));
    expect(verdict(withAlicesLine, newLineAsAlice, ctx({ actor: BOB }))).toBe('E_UPDATE_INVALID_VALUE');
  });
});

describe('validateUpdate: coupons and attributes', () => {
  it('rejects lowercase or invalid coupon codes and non-true values', () => {
    const server = serverDoc();
    const coupon = (code: string, value: unknown = true): string => verdict(server, edit(server, (d) => d.getMap('coupons').set(code, value)));
    expect(coupon('save10')).toBe('E_UPDATE_INVALID_VALUE');
    expect(coupon('BAD CODE')).toBe('E_UPDATE_INVALID_VALUE');
    expect(coupon('C'.repeat(33))).toBe('E_UPDATE_INVALID_VALUE');
    expect(coupon('SAVE10', 'yes')).toBe('E_UPDATE_INVALID_VALUE');
    expect(coupon('SAVE10')).toBe('accepted');
  });

  it('rejects more than maxCoupons coupons, but re-applying an existing one is fine', () => {
    const full = serverDoc((d) => {
      for (let i = 0; i < DEFAULT_LIMITS.maxCoupons; i++) applyCoupon(d, `CODE${i}`);
    });
    expect(verdict(full, edit(full, (d) => applyCoupon(d, 'ONEMORE')))).toBe('E_UPDATE_INVALID_VALUE');
    expect(verdict(full, edit(full, (d) => applyCoupon(d, 'CODE0')))).toBe('accepted');
  });

  it('rejects invalid attribute names, too long or non-string values', () => {
    const server = serverDoc();
    const attr = (key: string, value: unknown): string => verdict(server, edit(server, (d) => d.getMap('attrs').set(key, value)));
    expect(attr('1st', 'x')).toBe('E_UPDATE_INVALID_VALUE');
    expect(attr('a'.repeat(41), 'x')).toBe('E_UPDATE_INVALID_VALUE');
    expect(attr('has space', 'x')).toBe('E_UPDATE_INVALID_VALUE');
    expect(attr('gift', 'x'.repeat(DEFAULT_LIMITS.maxAttributeLength + 1))).toBe('E_UPDATE_INVALID_VALUE');
    expect(attr('gift', 5)).toBe('E_UPDATE_INVALID_VALUE');
    expect(attr('a'.repeat(40), 'x'.repeat(DEFAULT_LIMITS.maxAttributeLength))).toBe('accepted');
  });

  it('rejects more than maxAttributes attributes, but overwriting an existing one is fine', () => {
    const full = serverDoc((d) => {
      for (let i = 0; i < DEFAULT_LIMITS.maxAttributes; i++) setAttribute(d, `a${i}`, 'v');
    });
    expect(verdict(full, edit(full, (d) => setAttribute(d, 'onemore', 'v')))).toBe('E_UPDATE_INVALID_VALUE');
    expect(verdict(full, edit(full, (d) => setAttribute(d, 'a0', 'changed')))).toBe('accepted');
  });
});

describe('validateUpdate: line count and size limits', () => {
  const three = ctx({ limits: limits({ maxLines: 3 }) });

  it('rejects an update that would make more than maxLines live lines', () => {
    const server = serverDoc(withLines(3));
    expect(verdict(server, edit(server, (d) => addLine(d, { sku: 'FOURTH', quantity: 1 }, ALICE)), three)).toBe('E_UPDATE_TOO_MANY_LINES');
    expect(verdict(server, edit(server, (d) => setQuantity(d, 'FOURTH', 1)), three)).toBe('E_UPDATE_TOO_MANY_LINES');
    expect(verdict(server, edit(server, (d) => addLine(d, { sku: 'SKU-0', quantity: 1 }, ALICE)), three)).toBe('accepted');
    expect(verdict(server, edit(server, (d) => setQuantity(d, 'SKU-1', 7)), three)).toBe('accepted');
    const empty = serverDoc();
    const fourAtOnce = edit(empty, (d) => {
      for (let i = 0; i < 4; i++) addLine(d, { sku: `NEW-${i}`, quantity: 1 }, ALICE);
    });
    expect(verdict(empty, fourAtOnce, three)).toBe('E_UPDATE_TOO_MANY_LINES');
  });

  it('does not count removed lines', () => {
    const server = serverDoc((d) => {
      withLines(3)(d);
      removeLine(d, 'SKU-2');
    });
    expect(verdict(server, edit(server, (d) => addLine(d, { sku: 'FOURTH', quantity: 1 }, ALICE)), three)).toBe('accepted');
  });

  it('rejects an update larger than maxBytes (maxUpdateBytes live, maxSyncBytes for a sync step 2)', () => {
    const server = serverDoc();
    const big = edit(server, (d) => {
      for (let i = 0; i < 300; i++) setAttribute(d, 'big', String(i).padEnd(DEFAULT_LIMITS.maxAttributeLength, 'x'));
    });
    expect(big.byteLength).toBeGreaterThan(DEFAULT_LIMITS.maxUpdateBytes);
    expect(verdict(server, big)).toBe('E_UPDATE_TOO_LARGE');
    expect(verdict(server, big, ctx({ maxBytes: DEFAULT_LIMITS.maxSyncBytes }))).toBe('accepted');
    const small = edit(server, (d) => setAttribute(d, 'gift', 'yes'));
    expect(verdict(server, small, ctx({ maxBytes: small.byteLength - 1 }))).toBe('E_UPDATE_TOO_LARGE');
    expect(verdict(server, small, ctx({ maxBytes: small.byteLength }))).toBe('accepted');
  });
});

describe('validateUpdate: dependencies', () => {
  it('rejects items whose clock skips changes the server does not have', () => {
    const server = serverDoc();
    const device = replicaOf(server);
    captured(device, (d) => setAttribute(d, 'first', '1'));
    const second = captured(device, (d) => setAttribute(d, 'second', '2'));
    expect(verdict(server, second)).toBe('E_UPDATE_MISSING_DEPENDENCY');
  });

  it('rejects an overwrite whose origin the server does not know', () => {
    const server = serverDoc();
    const a = replicaOf(server);
    const b = replicaOf(server);
    const first = captured(a, (d) => setAttribute(d, 'gift', 'a'));
    Y.applyUpdate(b, first);
    const overwrite = captured(b, (d) => setAttribute(d, 'gift', 'b'));
    expect(verdict(server, overwrite)).toBe('E_UPDATE_MISSING_DEPENDENCY');
    expect(verdict(server, Y.mergeUpdates([first, overwrite]))).toBe('accepted');
  });

  it('rejects deleting ids the server does not know', () => {
    const server = serverDoc();
    const a = replicaOf(server);
    const b = replicaOf(server);
    Y.applyUpdate(b, captured(a, (d) => setAttribute(d, 'gift', 'a')));
    const deletion = captured(b, (d) => setAttribute(d, 'gift', null));
    expect(Y.decodeUpdate(deletion).structs).toHaveLength(0);
    expect(verdict(server, deletion)).toBe('E_UPDATE_MISSING_DEPENDENCY');
  });

  it('rejects an update with a gap (a Skip struct)', () => {
    const server = serverDoc();
    const device = replicaOf(server);
    const one = captured(device, (d) => setAttribute(d, 'a1', '1'));
    captured(device, (d) => setAttribute(d, 'a2', '2'));
    const three = captured(device, (d) => setAttribute(d, 'a3', '3'));
    const gappy = Y.mergeUpdates([one, three]);
    expect(Y.decodeUpdate(gappy).structs.some((s) => s instanceof Y.Skip)).toBe(true);
    expect(verdict(server, gappy)).toBe('E_UPDATE_MISSING_DEPENDENCY');
  });

  it('rejects bytes that are not an update', () => {
    expect(verdict(serverDoc(), new Uint8Array([0xff, 0xff, 0xff, 0x01, 0x07]))).toBe('E_UPDATE_MALFORMED');
  });
});

describe('validateUpdate: sync step 2', () => {
  it('accepts a full-state step 2 that repeats server-written facts, deleted facts and others’ lines', () => {
    const server = serverDoc((d) => {
      addLine(d, { sku: 'SHOE-1', quantity: 2 }, BOB);
      d.getMap('facts').set('SHOE-1', { unitPrice: null, listPrice: null, lineTotal: null, available: 1, warnings: [] });
      writeCartFacts(d, { status: 'checking_out' });
      writeCartFacts(d, { status: 'open' });
      applyCoupon(d, 'GONE');
      removeCoupon(d, 'GONE');
    });
    const device = replicaOf(server);
    const full = Y.encodeStateAsUpdate(device);
    const repeat = validateUpdate(server, full, ctx({ maxBytes: DEFAULT_LIMITS.maxSyncBytes }));
    expect(repeat).toEqual({ touchesLines: false, insertedItems: 0, newDeletes: 0 });
    addLine(device, { sku: 'HAT', quantity: 1 }, ALICE);
    const withOfflineEdit = Y.encodeStateAsUpdate(device);
    const result = validateUpdate(server, withOfflineEdit, ctx({ maxBytes: DEFAULT_LIMITS.maxSyncBytes }));
    expect(result.touchesLines).toBe(true);
    expect(result.insertedItems).toBe(2);
    Y.applyUpdate(server, withOfflineEdit);
    expect(quantityOf(server, 'HAT')).toBe(1);
  });
});

describe('validation end to end (raw devices)', () => {
  let node: TestNode;
  let small: TestNode;
  beforeAll(async () => {
    node = await startNode();
    small = await startNode({ limits: { ...DEFAULT_LIMITS, maxLines: 3 } });
  });
  afterAll(async () => {
    await node.close();
    await small.close();
  });

  interface Pair {
    cartId: string;
    a: RawDevice;
    b: RawDevice;
    /** Updates (not step 1/2) b received, in order. */
    bUpdates: Uint8Array[];
    close(): void;
  }

  async function pair(on: TestNode, setup?: (a: RawDevice) => Promise<void>): Promise<Pair> {
    const { cartId } = await on.createCart();
    const a = await RawDevice.open(on.url, await on.token([cartId], { subject: 'alice' }), cartId);
    if (setup) await setup(a);
    const b = await RawDevice.open(on.url, await on.token([cartId], { subject: 'bob', role: 'associate' }), cartId);
    const bUpdates: Uint8Array[] = [];
    b.socket.on('sync', (id, frame, meta) => {
      const msg = decodeSyncFrame(new Uint8Array(frame));
      if (id === cartId && meta !== null && msg.kind === 'update') bUpdates.push(msg.update);
    });
    return {
      cartId,
      a,
      b,
      bUpdates,
      close() {
        a.close();
        b.close();
      },
    };
  }

  /** The update a scratch replica of `device` (with its own client id) produces; `device.doc` is untouched. */
  function forge(device: RawDevice, change: (doc: Y.Doc) => void): Uint8Array {
    return captured(replicaOf(device.doc), change);
  }

  const version = async (on: TestNode, cartId: string): Promise<number> => (await on.node.store.load(cartId, 0)).version;

  /** Send a hostile update from `a`; it must be rejected with `code`, change nothing, reach nobody, and `a` must carry on. */
  async function expectRejected(on: TestNode, p: Pair, update: Uint8Array, code: string): Promise<void> {
    const before = await version(on, p.cartId);
    const ack = await p.a.sendUpdate(update);
    expect(ack).toMatchObject({ ok: false, error: { code } });
    expect(await version(on, p.cartId)).toBe(before);
    const received = p.bUpdates.length;
    const valid = await p.a.change((d) => setAttribute(d, 'after', `v${before}`));
    expect(valid).toEqual({ ok: true, version: before + 1, prev: before });
    await waitFor(() => expect(p.bUpdates.length).toBe(received + 1));
    await waitFor(() => expect(p.b.doc.getMap('attrs').get('after')).toBe(`v${before}`));
    const relayed = Y.decodeUpdate(p.bUpdates[received]!);
    expect(relayed.structs.every((s) => s.id.client === p.a.doc.clientID)).toBe(true);
    expect(readCart(p.b.doc)).toEqual(readCart(p.a.doc));
  }

  const hostile: [string, string, (doc: Y.Doc) => void][] = [
    ['insert into facts', 'E_UPDATE_FORBIDDEN_FIELD', (d) => d.getMap('facts').set('SHOE-1', { unitPrice: null, listPrice: null, lineTotal: null, available: 9, warnings: [] })],
    ['overwrite server-written cart.status', 'E_UPDATE_FORBIDDEN_FIELD', (d) => d.getMap('cart').set('status', 'ordered')],
    ['delete server-written cart.currency', 'E_UPDATE_FORBIDDEN_FIELD', (d) => d.getMap('cart').delete('currency')],
    ['nested Y.Map value', 'E_UPDATE_FORBIDDEN_FIELD', (d) => d.getMap('lines').set('SHOE-1', new Y.Map())],
    ['Y.Array root', 'E_UPDATE_FORBIDDEN_FIELD', (d) => d.getArray('wishlist').insert(0, ['SHOE-1'])],
    ['qset above maxQuantity', 'E_UPDATE_INVALID_VALUE', (d) => d.getMap('qset').set('SHOE-1', { q: 100, id: 'x' })],
    ['qadd n = 0', 'E_UPDATE_INVALID_VALUE', (d) => d.getMap('qadd').set(`SHOE-1#${d.clientID}`, { n: 0, base: null })],
    ['qadd keyed by another client', 'E_UPDATE_INVALID_VALUE', (d) => d.getMap('qadd').set(`SHOE-1#${d.clientID + 1}`, { n: 1, base: null })],
    ['line with an unknown field', 'E_UPDATE_INVALID_VALUE', (d) => d.getMap('lines').set('SHOE-1', { ...line('SHOE-1'), price: 0 })],
    ['line added in the name of bob', 'E_UPDATE_INVALID_VALUE', (d) => addLine(d, { sku: 'SHOE-1', quantity: 1 }, { id: 'bob', role: 'associate' })],
    ['note over maxNoteLength', 'E_UPDATE_INVALID_VALUE', (d) => addLine(d, { sku: 'SHOE-1', quantity: 1, note: 'n'.repeat(501) }, ALICE)],
    ['lowercase coupon', 'E_UPDATE_INVALID_VALUE', (d) => d.getMap('coupons').set('save10', true)],
    ['invalid attribute name', 'E_UPDATE_INVALID_VALUE', (d) => setAttribute(d, '9lives', 'x')],
  ];

  it.each(hostile)('rejects %s with %s, stores and relays nothing, and the device carries on', async (_name, code, change) => {
    const p = await pair(node);
    try {
      await expectRejected(node, p, forge(p.a, change), code);
    } finally {
      p.close();
    }
  });

  it('rejects an update depending on changes the server does not have (E_UPDATE_MISSING_DEPENDENCY)', async () => {
    const p = await pair(node);
    try {
      const scratch = replicaOf(p.a.doc);
      captured(scratch, (d) => setAttribute(d, 'unsent', '1'));
      await expectRejected(node, p, captured(scratch, (d) => setAttribute(d, 'sent', '2')), 'E_UPDATE_MISSING_DEPENDENCY');
    } finally {
      p.close();
    }
  });

  it('rejects a live update over maxUpdateBytes (E_UPDATE_TOO_LARGE) but accepts the same bytes as a sync step 2', async () => {
    const p = await pair(node);
    try {
      const big = forge(p.a, (d) => {
        for (let i = 0; i < 300; i++) setAttribute(d, 'big', String(i).padEnd(node.config.limits.maxAttributeLength, 'x'));
      });
      expect(big.byteLength).toBeGreaterThan(node.config.limits.maxUpdateBytes);
      await expectRejected(node, p, big, 'E_UPDATE_TOO_LARGE');
      const before = await version(node, p.cartId);
      expect(await p.a.sendFrame(writeSyncStep2(big))).toEqual({ ok: true, version: before + 1, prev: before });
      await waitFor(() => expect(p.b.doc.getMap('attrs').get('big')).toBe('299'.padEnd(node.config.limits.maxAttributeLength, 'x')));
    } finally {
      p.close();
    }
  });

  it('rejects a coupon over maxCoupons end to end', async () => {
    const p = await pair(node, async (a) => {
      const ack = await a.change((d) => {
        for (let i = 0; i < node.config.limits.maxCoupons; i++) applyCoupon(d, `CODE${i}`);
      });
      expect(ack.ok).toBe(true);
    });
    try {
      await expectRejected(node, p, forge(p.a, (d) => applyCoupon(d, 'ELEVEN')), 'E_UPDATE_INVALID_VALUE');
    } finally {
      p.close();
    }
  });

  it('rejects a line beyond maxLines on a node configured with maxLines 3 (E_UPDATE_TOO_MANY_LINES)', async () => {
    const p = await pair(small, async (a) => {
      const ack = await a.change((d) => {
        for (let i = 0; i < 3; i++) addLine(d, { sku: `SKU-${i}`, quantity: 1 }, ALICE);
      });
      expect(ack.ok).toBe(true);
    });
    try {
      await expectRejected(small, p, forge(p.a, (d) => addLine(d, { sku: 'FOURTH', quantity: 1 }, ALICE)), 'E_UPDATE_TOO_MANY_LINES');
      expect((await p.a.change((d) => setQuantity(d, 'SKU-0', 5))).ok).toBe(true);
      expect((await p.a.change((d) => removeLine(d, 'SKU-1'))).ok).toBe(true);
      expect((await p.a.change((d) => addLine(d, { sku: 'FOURTH', quantity: 1 }, ALICE))).ok).toBe(true);
      await waitFor(() => expect(readCart(p.b.doc).lines.map((l) => l.lineId).sort()).toEqual(['FOURTH', 'SKU-0', 'SKU-2']));
    } finally {
      p.close();
    }
  });

  it("accepts bob's note edit on alice's line (addedBy kept) end to end", async () => {
    const p = await pair(node, async (a) => {
      expect((await a.change((d) => addLine(d, { sku: 'SHOE-1', quantity: 1 }, ALICE))).ok).toBe(true);
    });
    try {
      const ack = await p.b.change((d) => setNote(d, 'SHOE-1', 'from bob'));
      expect(ack.ok).toBe(true);
      await waitFor(() => expect(readCart(p.a.doc).lines[0]).toMatchObject({ note: 'from bob', addedBy: ALICE }));
    } finally {
      p.close();
    }
  });

  it('accepts a sync step 2 that repeats the full state, server-written facts included', async () => {
    const p = await pair(node);
    try {
      expect(p.a.doc.getMap('cart').get('status')).toBe('open');
      const before = await version(node, p.cartId);
      expect(await p.a.sendFrame(writeSyncStep2(Y.encodeStateAsUpdate(p.a.doc)))).toEqual({ ok: true, version: before, prev: before });
      p.a.doc.getMap('attrs').set('offline', 'edit');
      expect(await p.a.sendFrame(writeSyncStep2(Y.encodeStateAsUpdate(p.a.doc)))).toEqual({ ok: true, version: before + 1, prev: before });
      await waitFor(() => expect(p.b.doc.getMap('attrs').get('offline')).toBe('edit'));
      expect(await version(node, p.cartId)).toBe(before + 1);
    } finally {
      p.close();
    }
  });
});
