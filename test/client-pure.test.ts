import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { CartError, DEFAULT_LIMITS, addLine, wireError } from '../protocol/index.ts';
import { checkAdd, checkAttribute, checkCoupon, checkSetQuantity } from '../client/checks.ts';
import { preferenceOrder, resolveOptions } from '../client/options.ts';
import { reactionToClose, reactionToError } from '../client/policy.ts';
import { actorFromToken } from '../client/token.ts';
import { VersionTracker } from '../client/version-tracker.ts';

const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('VersionTracker (gap detection)', () => {
  it('advances on consecutive changes, in any arrival order', () => {
    const t = new VersionTracker();
    expect(t.note(0, 1)).toBe(false);
    expect(t.note(2, 3)).toBe(true); // 2 is missing for now
    expect(t.note(1, 2)).toBe(false); // arrived late: closes the gap
    expect(t.version).toBe(3);
  });

  it('a pull covers what was missing before it and keeps what arrives during it', () => {
    const t = new VersionTracker();
    t.note(0, 1);
    expect(t.note(4, 5)).toBe(true);
    t.beginPull();
    expect(t.note(6, 7)).toBe(false); // not judged while pulling
    expect(t.pulled(6)).toBe(false);
    expect(t.version).toBe(7);
    expect(t.gap).toBe(false);
  });

  it('accepts a lower version after a pull (the server log restarted)', () => {
    const t = new VersionTracker();
    t.note(0, 9);
    t.beginPull();
    expect(t.pulled(2)).toBe(false);
    expect(t.version).toBe(2);
    expect(t.note(2, 3)).toBe(false);
  });
});

describe('actorFromToken', () => {
  it('reads sub and role without verifying', () => {
    expect(actorFromToken(`h.${b64url({ sub: 'anon:ü', role: 'associate' })}.sig`)).toEqual({ id: 'anon:ü', role: 'associate' });
  });
  it('returns null for anything else', () => {
    expect(actorFromToken('not-a-jwt')).toBeNull();
    expect(actorFromToken(`h.${b64url({ sub: 'u', role: 'admin' })}.s`)).toBeNull();
    expect(actorFromToken('h.%%%.s')).toBeNull();
  });
});

describe('error and close policy', () => {
  it('maps errors to reactions', () => {
    expect(reactionToError(wireError('E_STORAGE_UNAVAILABLE'))).toBe('retry');
    expect(reactionToError(wireError('E_RATE_LIMITED'))).toBe('retry');
    expect(reactionToError(wireError('E_UPDATE_MISSING_DEPENDENCY'))).toBe('retry-full');
    expect(reactionToError(wireError('E_UPDATE_FORBIDDEN_FIELD'))).toBe('reject');
    expect(reactionToError(wireError('E_CART_NOT_JOINED'))).toBe('rejoin');
    expect(reactionToError(wireError('E_AUTH_EXPIRED'))).toBe('stop');
  });
  it('maps close reasons to reactions', () => {
    expect(reactionToClose('forbidden')).toBe('stop');
    expect(reactionToClose('rejected')).toBe('reject');
    expect(reactionToClose('too-large')).toBe('reject');
    expect(reactionToClose('shutting-down')).toBe('rejoin');
    expect(reactionToClose('unavailable')).toBe('rejoin');
  });
});

describe('client-side checks mirror the server limits', () => {
  const limits = { ...DEFAULT_LIMITS, maxLines: 2, maxCoupons: 1, maxAttributes: 1 };
  const actor = { id: 'u', role: 'customer' as const };

  it('rejects what the server would reject, synchronously', () => {
    const doc = new Y.Doc();
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (err) {
        return err instanceof CartError ? err.code : 'not a CartError';
      }
      return undefined;
    };
    expect(code(() => checkAdd(doc, { sku: '-bad', quantity: 1 }, limits))).toBe('E_UPDATE_INVALID_VALUE');
    expect(code(() => checkAdd(doc, { sku: 'A', quantity: 0 }, limits))).toBe('E_UPDATE_INVALID_VALUE');
    expect(code(() => checkAdd(doc, { sku: 'A', quantity: 1.5 }, limits))).toBe('E_UPDATE_INVALID_VALUE');
    expect(code(() => checkAdd(doc, { sku: 'A', quantity: 1, note: 'x'.repeat(501) }, limits))).toBe('E_UPDATE_INVALID_VALUE');
    expect(code(() => checkAdd(doc, { sku: 'A', quantity: 1, options: { '1x': 'y' } }, limits))).toBe('E_UPDATE_INVALID_VALUE');
    expect(code(() => checkSetQuantity(doc, 'A', 2, limits))).toBe('E_LINE_NOT_FOUND');
    addLine(doc, { sku: 'A', quantity: 1 }, actor, limits);
    addLine(doc, { sku: 'B', quantity: 1 }, actor, limits);
    expect(code(() => checkAdd(doc, { sku: 'C', quantity: 1 }, limits))).toBe('E_UPDATE_TOO_MANY_LINES');
    expect(code(() => checkAdd(doc, { sku: 'A', quantity: 1 }, limits))).toBeUndefined();
    expect(code(() => checkSetQuantity(doc, 'A', 100, limits))).toBe('E_UPDATE_INVALID_VALUE');
    expect(checkSetQuantity(doc, 'NOT-THERE', 0, limits)).toBe(false);
    expect(code(() => checkCoupon(doc, 'bad code', limits))).toBe('E_UPDATE_INVALID_VALUE');
    doc.getMap('coupons').set('ONE', true);
    expect(code(() => checkCoupon(doc, 'two', limits))).toBe('E_UPDATE_INVALID_VALUE');
    expect(code(() => checkCoupon(doc, 'one', limits))).toBeUndefined();
    expect(code(() => checkAttribute(doc, '9x', 'v', limits))).toBe('E_UPDATE_INVALID_VALUE');
    doc.getMap('attrs').set('gift', 'yes');
    expect(code(() => checkAttribute(doc, 'other', 'v', limits))).toBe('E_UPDATE_INVALID_VALUE');
    expect(code(() => checkAttribute(doc, 'other', null, limits))).toBeUndefined();
  });
});

describe('server URLs', () => {
  const urls = ['http://a:1', 'http://b:2', 'http://c:3', 'http://d:4'];

  it('without affinity, are tried in the order given', () => {
    expect(preferenceOrder(urls, '')).toEqual(urls);
    expect(resolveOptions({ url: 'http://x', token: 't' }).urls).toEqual(['http://x']);
  });

  it('with affinity, every device of a cart prefers the same node; removing a node moves only its carts', () => {
    const carts = Array.from({ length: 200 }, (_, i) => `cart-${i}-abcdefghijkl`);
    const first = new Map(carts.map((c) => [c, preferenceOrder(urls, c)[0]]));
    // Same answer whatever order the URLs are listed in (each device may list them differently).
    for (const c of carts) expect(preferenceOrder([...urls].reverse(), c)[0]).toBe(first.get(c));
    // Spread over all nodes.
    expect(new Set(first.values()).size).toBe(4);
    const without = urls.filter((u) => u !== 'http://b:2');
    for (const c of carts) {
      const order = preferenceOrder(urls, c);
      // A cart's failover target is where it goes when its node is removed.
      expect(preferenceOrder(without, c)[0]).toBe(first.get(c) === 'http://b:2' ? order[1] : first.get(c));
    }
  });

  it('rejects an empty list, duplicates and non-strings', () => {
    for (const url of [[], ['http://a', 'http://a'], ['http://a', 3], [''], 42]) {
      expect(() => resolveOptions({ url: url as string[], token: 't' })).toThrow(CartError);
    }
  });
});
