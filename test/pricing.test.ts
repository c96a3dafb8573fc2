/**
 * priceCart, rule by rule (protocol/pricing.ts header): catalog, price lists, tiers, stock,
 * PRICE_CHANGED, promotions and coupons, shipping, tax, rounding.
 */
import { describe, expect, it } from 'vitest';
import {
  EMPTY_RULES,
  type Coupon,
  type PriceList,
  type PricingInput,
  type PricingLineInput,
  type PricingRules,
  type ProductFacts,
  type Promotion,
  type PromotionEffect,
  priceCart,
} from '../protocol/index.ts';

const NOW = 1_700_000_000_000;

function product(price: number | null, extra: Partial<ProductFacts> = {}): ProductFacts {
  return { name: 'Thing', category: 'misc', prices: price === null ? null : { USD: price }, stock: 100, ...extra };
}

function line(sku: string, quantity: number, extra: Partial<PricingLineInput> = {}): PricingLineInput {
  return { lineId: sku, sku, quantity, addedPrice: null, lastUnitPrice: null, ...extra };
}

function cart(
  lines: PricingLineInput[],
  products: Record<string, ProductFacts | null>,
  rules: Partial<PricingRules> = {},
  extra: Partial<PricingInput> = {},
): PricingInput {
  return {
    currency: 'USD',
    segment: null,
    region: null,
    now: NOW,
    lines,
    coupons: [],
    products: new Map(Object.entries(products)),
    rules: { ...EMPTY_RULES, ...rules },
    ...extra,
  };
}

function promo(id: string, effect: PromotionEffect, extra: Partial<Promotion> = {}): Promotion {
  return { id, name: id, currency: 'USD', effect, startsAt: null, endsAt: null, ...extra };
}

function coupon(code: string, effect: PromotionEffect, extra: Partial<Coupon> = {}): Coupon {
  return { code, name: code, currency: 'USD', effect, startsAt: null, endsAt: null, usageLimit: null, used: 0, ...extra };
}

const usd = (amount: number) => ({ amount, currency: 'USD' });
const codes = (warnings: { code: string }[]) => warnings.map((w) => w.code);
const amounts = (input: PricingInput) => {
  const t = priceCart(input).totals;
  return { subtotal: t.subtotal.amount, discount: t.discount.amount, tax: t.tax.amount, shipping: t.shipping.amount, total: t.total.amount };
};

describe('catalog facts', () => {
  it('prices a line at the list price, in input order, with money in the cart currency', () => {
    const r = priceCart(cart([line('B', 2), line('A', 1)], { A: product(500), B: product(1999) }));
    expect(r.lines.map((l) => l.lineId)).toEqual(['B', 'A']);
    expect(r.lines[0]?.facts).toEqual({
      unitPrice: usd(1999),
      listPrice: usd(1999),
      discount: usd(0),
      lineTotal: usd(3998),
      available: 100,
      addedPrice: usd(1999),
      warnings: [],
      quantity: 2,
    });
    expect(r.totals).toEqual({ subtotal: usd(4498), discount: usd(0), tax: usd(0), shipping: usd(0), total: usd(4498) });
    expect(r.warnings).toEqual([]);
  });

  it('an unknown SKU (missing or null) is shown, warned and left out of the totals', () => {
    const r = priceCart(cart([line('GONE', 1), line('NULL', 1), line('A', 1)], { NULL: null, A: product(100) }));
    for (const l of r.lines.slice(0, 2)) {
      expect(l.facts.warnings).toEqual([{ code: 'UNKNOWN_SKU', message: 'We no longer sell this item.' }]);
      expect(l.facts).toMatchObject({ unitPrice: null, listPrice: null, lineTotal: null, discount: null });
    }
    expect(r.totals.subtotal).toEqual(usd(100));
  });

  it('no price in the cart currency: NO_PRICE, not priced', () => {
    const r = priceCart(cart([line('A', 1)], { A: { ...product(null), prices: { EUR: 100 } } }));
    expect(codes(r.lines[0]!.facts.warnings)).toEqual(['NO_PRICE']);
    expect(r.lines[0]!.facts.lineTotal).toBeNull();
    expect(r.totals.total).toEqual(usd(0));
  });

  it('unverified prices show the last verified price, count at it, and flag the cart once', () => {
    const input = cart([line('A', 2, { lastUnitPrice: 700, addedPrice: 800 }), line('B', 1)], { A: product(null), B: product(null) });
    const r = priceCart(input);
    expect(r.lines[0]!.facts).toMatchObject({ unitPrice: usd(700), listPrice: null, lineTotal: usd(1400), addedPrice: usd(800) });
    expect(codes(r.lines[0]!.facts.warnings)).toEqual(['PRICE_UNVERIFIED']);
    expect(r.lines[1]!.facts).toMatchObject({ unitPrice: null, lineTotal: null });
    expect(r.totals.subtotal).toEqual(usd(1400));
    expect(codes(r.warnings)).toEqual(['FACTS_UNVERIFIED']);
  });
});

describe('price lists and volume tiers', () => {
  const products = { A: product(1000), B: product(1000) };
  const priceLists: PriceList[] = [
    { segment: 'vip', currency: 'USD', prices: { A: 900 } },
    { segment: 'vip', currency: 'USD', prices: { A: 850 } },
    { segment: 'vip', currency: 'EUR', prices: { B: 1 } },
    { segment: 'staff', currency: 'USD', prices: { B: 1200 } },
  ];

  it("a segment's price overrides the list price (the lowest of its lists), even upwards", () => {
    const vip = priceCart(cart([line('A', 1), line('B', 1)], products, { priceLists }, { segment: 'vip' }));
    expect(vip.lines.map((l) => [l.facts.unitPrice?.amount, l.facts.listPrice?.amount])).toEqual([[850, 1000], [1000, 1000]]);
    const staff = priceCart(cart([line('B', 1)], products, { priceLists }, { segment: 'staff' }));
    expect(staff.lines[0]!.facts.unitPrice).toEqual(usd(1200));
    expect(priceCart(cart([line('A', 1)], products, { priceLists })).lines[0]!.facts.unitPrice).toEqual(usd(1000));
  });

  it('the cheapest tier reached applies when lower than the segment price', () => {
    const volumeTiers = [
      { sku: 'A', currency: 'USD', minQuantity: 5, unitPrice: 800 },
      { sku: 'A', currency: 'USD', minQuantity: 10, unitPrice: 700 },
      { sku: 'A', currency: 'EUR', minQuantity: 1, unitPrice: 1 },
    ];
    const at = (q: number, segment: string | null = null) =>
      priceCart(cart([line('A', q)], products, { volumeTiers, priceLists }, { segment })).lines[0]!.facts.unitPrice?.amount;
    expect([at(4), at(5), at(9), at(10), at(50)]).toEqual([1000, 800, 800, 700, 700]);
    expect([at(4, 'vip'), at(5, 'vip')]).toEqual([850, 800]);
  });

  it('tiers see the quantity after a stock clamp', () => {
    const volumeTiers = [{ sku: 'A', currency: 'USD', minQuantity: 5, unitPrice: 800 }];
    const r = priceCart(cart([line('A', 6)], { A: product(1000, { stock: 4 }) }, { volumeTiers }));
    expect(r.lines[0]).toMatchObject({ quantity: 4, clampedFrom: 6 });
    expect(r.lines[0]!.facts.unitPrice).toEqual(usd(1000));
  });
});

describe('stock', () => {
  it('clamps to what is left and says so', () => {
    const r = priceCart(cart([line('A', 5)], { A: product(100, { stock: 3 }) }));
    expect(r.lines[0]).toMatchObject({ quantity: 3, clampedFrom: 5 });
    expect(r.lines[0]!.facts.available).toBe(3);
    expect(r.lines[0]!.facts.warnings).toEqual([
      { code: 'INSUFFICIENT_STOCK', message: 'Only 3 left; we changed the quantity from 5 to 3.', data: { requested: 5, available: 3 } },
    ]);
    expect(r.totals.subtotal).toEqual(usd(300));
  });

  it('out of stock keeps the quantity and the price on show but leaves the totals', () => {
    const r = priceCart(cart([line('A', 2), line('B', 1)], { A: product(100, { stock: 0 }), B: product(50) }));
    expect(r.lines[0]).toMatchObject({ quantity: 2, clampedFrom: null });
    expect(r.lines[0]!.facts).toMatchObject({ unitPrice: usd(100), lineTotal: null, discount: null, available: 0 });
    expect(r.lines[0]!.facts.warnings[0]).toMatchObject({ code: 'OUT_OF_STOCK', message: 'Out of stock.' });
    expect(r.totals.subtotal).toEqual(usd(50));
  });

  it('hole 5: stock is the SKU\'s, shared by its lines in line order (2 + 2 of stock 3: the second line gets 1)', () => {
    const shoe = (size: string, q: number) => line('SHOE', q, { lineId: `SHOE?size=${size}` });
    const r = priceCart(cart([shoe('42', 2), shoe('43', 2), line('SOCK', 1)], { SHOE: product(1000, { stock: 3 }), SOCK: product(100) }));
    expect(r.lines.map((l) => [l.quantity, l.clampedFrom, l.facts.available])).toEqual([[2, null, 3], [1, 2, 1], [1, null, 100]]);
    expect(r.lines[0]!.facts.warnings).toEqual([]);
    expect(r.lines[1]!.facts.warnings).toEqual([
      {
        code: 'INSUFFICIENT_STOCK',
        message: 'Only 3 left and 2 are in another line of your cart; we changed the quantity from 2 to 1.',
        data: { requested: 2, available: 1, inOtherLines: 2 },
      },
    ]);
    expect(r.totals.subtotal).toEqual(usd(3100));

    // Earlier lines holding all of it: the later line stays, unpriced, as when out of stock.
    const full = priceCart(cart([shoe('42', 3), shoe('43', 2)], { SHOE: product(1000, { stock: 3 }) }));
    expect(full.lines.map((l) => [l.quantity, l.clampedFrom, l.facts.available, l.facts.lineTotal])).toEqual([[3, null, 3, usd(3000)], [2, null, 0, null]]);
    expect(full.lines[1]!.facts.warnings).toEqual([
      { code: 'OUT_OF_STOCK', message: 'The last 3 are in another line of your cart.', data: { available: 0, inOtherLines: 3 } },
    ]);
    expect(full.totals.subtotal).toEqual(usd(3000));

    // Unverified or zero stock takes nothing from the lines after it.
    const outOfStock = priceCart(cart([shoe('42', 2), shoe('43', 2)], { SHOE: product(1000, { stock: 0 }) }));
    expect(outOfStock.lines.map((l) => codes(l.facts.warnings))).toEqual([['OUT_OF_STOCK'], ['OUT_OF_STOCK']]);
    const unverified = priceCart(cart([shoe('42', 2), shoe('43', 2)], { SHOE: product(1000, { stock: null }) }));
    expect(unverified.lines.map((l) => l.quantity)).toEqual([2, 2]);
  });

  it('unverified stock warns, does not clamp, and flags the cart', () => {
    const r = priceCart(cart([line('A', 50)], { A: product(100, { stock: null }) }));
    expect(r.lines[0]).toMatchObject({ quantity: 50, clampedFrom: null });
    expect(r.lines[0]!.facts.available).toBeNull();
    expect(codes(r.lines[0]!.facts.warnings)).toEqual(['STOCK_UNVERIFIED']);
    expect(codes(r.warnings)).toEqual(['FACTS_UNVERIFIED']);
    expect(r.totals.subtotal).toEqual(usd(5000));
  });
});

describe('PRICE_CHANGED', () => {
  it('says when the price went down or up, with the change', () => {
    const down = priceCart(cart([line('A', 1, { addedPrice: 8999 })], { A: product(7999) })).lines[0]!.facts;
    expect(down.warnings).toEqual([
      { code: 'PRICE_CHANGED', message: 'Price went down from $89.99 to $79.99.', data: { was: 8999, now: 7999, change: -1000 } },
    ]);
    expect(down.addedPrice).toEqual(usd(8999));
    const up = priceCart(cart([line('A', 1, { addedPrice: 5 })], { A: product(1200) })).lines[0]!.facts;
    expect(up.warnings[0]).toMatchObject({ message: 'Price went up from $0.05 to $12.00.', data: { change: 1195 } });
  });

  it('formats other currencies with their code, and is silent when the price is the same', () => {
    const eur = { ...product(null), prices: { EUR: 1050 } };
    const r = priceCart(cart([line('A', 1, { addedPrice: 1000 })], { A: eur }, {}, { currency: 'EUR' }));
    expect(r.lines[0]!.facts.warnings[0]!.message).toBe('Price went up from 10.00 EUR to 10.50 EUR.');
    expect(r.lines[0]!.facts.unitPrice).toEqual({ amount: 1050, currency: 'EUR' });
    expect(priceCart(cart([line('A', 1, { addedPrice: 100 })], { A: product(100) })).lines[0]!.facts.warnings).toEqual([]);
  });
});

describe('promotions', () => {
  const products = { A: product(1000, { category: 'shoes' }), B: product(2000, { category: 'shoes' }), C: product(333, { category: 'belts' }) };
  const items = [line('A', 2), line('B', 1), line('C', 3)]; // 2000 + 2000 + 999 = 4999

  it('percent off a SKU or a category discounts those lines only', () => {
    const bySku = priceCart(cart(items, products, { promotions: [promo('p', { kind: 'percent_off', percent: 10, target: { sku: 'A' } })] }));
    expect(bySku.lines.map((l) => l.facts.discount?.amount)).toEqual([200, 0, 0]);
    expect(bySku.lines[0]!.facts.lineTotal).toEqual(usd(1800));
    const byCat = priceCart(cart(items, products, { promotions: [promo('p', { kind: 'percent_off', percent: 25, target: { category: 'shoes' } })] }));
    expect(byCat.lines.map((l) => l.facts.discount?.amount)).toEqual([500, 500, 0]);
    expect(byCat.totals.discount).toEqual(usd(1000));
  });

  it('amount off is per unit and never takes a line below zero', () => {
    const per = priceCart(cart(items, products, { promotions: [promo('p', { kind: 'amount_off', amount: 150, target: { category: 'belts' } })] }));
    expect(per.lines[2]!.facts.discount).toEqual(usd(450));
    const capped = priceCart(cart(items, products, { promotions: [promo('p', { kind: 'amount_off', amount: 500, target: { sku: 'C' } })] }));
    expect(capped.lines[2]!.facts).toMatchObject({ discount: usd(999), lineTotal: usd(0) });
  });

  it('cartOver applies once to the cart, against the subtotal after line discounts', () => {
    const cartPct = promo('z', { kind: 'percent_off', percent: 10, target: { cartOver: 4000 } });
    const r = priceCart(cart(items, products, { promotions: [cartPct] }));
    expect(r.lines.map((l) => l.facts.discount?.amount)).toEqual([0, 0, 0]);
    expect(amounts(cart(items, products, { promotions: [cartPct] }))).toMatchObject({ discount: 500, total: 4499 });
    // A 1000 line discount first brings the cart to 3999, below the threshold.
    const line1000 = promo('a', { kind: 'amount_off', amount: 1000, target: { sku: 'B' } });
    expect(amounts(cart(items, products, { promotions: [cartPct, line1000] }))).toMatchObject({ discount: 1000, total: 3999 });
    const cartAmount = promo('y', { kind: 'amount_off', amount: 999_999, target: { cartOver: 0 } });
    expect(amounts(cart(items, products, { promotions: [cartAmount] }))).toMatchObject({ discount: 4999, total: 0 });
  });

  it('buy X get Y: every full buyQuantity of one SKU earns getQuantity of another', () => {
    const bxgy = promo('p', { kind: 'buy_x_get_y', buySku: 'A', buyQuantity: 2, getSku: 'C', getQuantity: 1, percentOff: 100 });
    const at = (qa: number, qc: number) =>
      priceCart(cart([line('A', qa), line('C', qc)], products, { promotions: [bxgy] })).lines[1]!.facts.discount?.amount;
    expect([at(1, 3), at(2, 3), at(5, 3), at(6, 3), at(8, 3)]).toEqual([0, 333, 666, 999, 999]);
    const half = promo('p', { ...bxgy.effect, percentOff: 50 } as PromotionEffect);
    expect(priceCart(cart([line('A', 2), line('C', 1)], products, { promotions: [half] })).lines[1]!.facts.discount).toEqual(usd(167));
  });

  it('buy X get Y on one SKU: a unit is bought or got, never both', () => {
    const b2g1 = promo('p', { kind: 'buy_x_get_y', buySku: 'C', buyQuantity: 2, getSku: 'C', getQuantity: 1, percentOff: 100 });
    const free = (q: number) => priceCart(cart([line('C', q)], products, { promotions: [b2g1] })).lines[0]!.facts.discount!.amount / 333;
    expect([1, 2, 3, 5, 6, 9].map(free)).toEqual([0, 0, 1, 1, 2, 3]);
    const b1g2 = promo('p', { kind: 'buy_x_get_y', buySku: 'C', buyQuantity: 1, getSku: 'C', getQuantity: 2, percentOff: 100 });
    const free2 = (q: number) => priceCart(cart([line('C', q)], products, { promotions: [b1g2] })).lines[0]!.facts.discount!.amount / 333;
    expect([1, 2, 3, 4, 5].map(free2)).toEqual([0, 1, 2, 2, 3]);
  });

  it('buy X get Y discounts the cheapest units of the get SKU first, across its lines', () => {
    const tiers = [{ sku: 'A', currency: 'USD', minQuantity: 3, unitPrice: 600 }];
    const bxgy = promo('p', { kind: 'buy_x_get_y', buySku: 'B', buyQuantity: 1, getSku: 'A', getQuantity: 2, percentOff: 100 });
    const lines = [line('A', 1, { lineId: 'A?c=red' }), line('A', 3, { lineId: 'A?c=blue' }), line('B', 1)];
    const r = priceCart(cart(lines, products, { promotions: [bxgy], volumeTiers: tiers }));
    expect(r.lines.map((l) => l.facts.discount?.amount)).toEqual([0, 1200, 0]);
  });

  it('promotions stack in id order, each percent taking off what is left; then coupons', () => {
    const promotions = [
      promo('b', { kind: 'amount_off', amount: 100, target: { sku: 'A' } }),
      promo('a', { kind: 'percent_off', percent: 50, target: { sku: 'A' } }),
    ];
    // 2000 → 50 % → 1000 → 100/unit ×2 → 800; then the coupon's 10 % → 720.
    const coupons = [coupon('TEN', { kind: 'percent_off', percent: 10, target: { sku: 'A' } })];
    const r = priceCart(cart([line('A', 2)], products, { promotions, coupons }, { coupons: ['TEN'] }));
    expect(r.lines[0]!.facts).toMatchObject({ discount: usd(1280), lineTotal: usd(720) });
    expect(r.warnings).toEqual([]);
  });

  it('ignores promotions outside their window ([startsAt, endsAt)) or in another currency', () => {
    const effect: PromotionEffect = { kind: 'percent_off', percent: 50, target: { sku: 'A' } };
    const off = (p: Promotion) => amounts(cart([line('A', 1)], products, { promotions: [p] })).discount;
    expect(off(promo('p', effect, { startsAt: NOW, endsAt: NOW + 1 }))).toBe(500);
    expect(off(promo('p', effect, { startsAt: NOW + 1 }))).toBe(0);
    expect(off(promo('p', effect, { endsAt: NOW }))).toBe(0);
    expect(off(promo('p', effect, { currency: 'EUR' }))).toBe(0);
  });
});

describe('coupons', () => {
  const products = { A: product(1000, { category: 'shoes' }) };
  const effect: PromotionEffect = { kind: 'amount_off', amount: 100, target: { sku: 'A' } };
  const reasonOf = (c: Coupon | null, code = 'SAVE') => {
    const r = priceCart(cart([line('A', 1)], products, { coupons: c ? [c] : [] }, { coupons: [code] }));
    return r.warnings.map((w) => w.data?.reason);
  };

  it('applies a valid coupon (codes match case-insensitively) without a warning', () => {
    const r = priceCart(cart([line('A', 1)], products, { coupons: [coupon('save', effect)] }, { coupons: ['SAVE'] }));
    expect(r.totals.discount).toEqual(usd(100));
    expect(r.warnings).toEqual([]);
  });

  it('gives one COUPON_NOT_APPLICABLE per code, with the reason', () => {
    expect(reasonOf(null)).toEqual(['unknown']);
    expect(reasonOf(coupon('SAVE', effect, { startsAt: NOW + 1 }))).toEqual(['not_started']);
    expect(reasonOf(coupon('SAVE', effect, { endsAt: NOW }))).toEqual(['expired']);
    expect(reasonOf(coupon('SAVE', effect, { usageLimit: 3, used: 3 }))).toEqual(['usage_limit']);
    expect(reasonOf(coupon('SAVE', effect, { usageLimit: 3, used: 2 }))).toEqual([]);
    expect(reasonOf(coupon('SAVE', effect, { currency: 'EUR' }))).toEqual(['currency']);
    expect(reasonOf(coupon('SAVE', { ...effect, target: { category: 'hats' } }))).toEqual(['no_matching_items']);
    expect(reasonOf(coupon('SAVE', { ...effect, target: { cartOver: 1001 } }))).toEqual(['below_threshold']);
    expect(reasonOf(coupon('SAVE', { ...effect, target: { cartOver: 1000 } }))).toEqual([]);
    const bxgy = { kind: 'buy_x_get_y', buySku: 'A', buyQuantity: 1, getSku: 'A', getQuantity: 1, percentOff: 100 } as const;
    expect(reasonOf(coupon('SAVE', bxgy))).toEqual(['below_threshold']);
    expect(reasonOf(coupon('SAVE', { ...bxgy, getSku: 'B' }))).toEqual(['no_matching_items']);
  });

  it('writes human messages, sorted by code, once per code', () => {
    const coupons = [coupon('BIG', { kind: 'percent_off', percent: 10, target: { cartOver: 5000 } })];
    const r = priceCart(cart([line('A', 1)], products, { coupons }, { coupons: ['ZZZ', 'BIG', 'ZZZ'] }));
    expect(r.warnings).toEqual([
      { code: 'COUPON_NOT_APPLICABLE', message: 'Coupon BIG applies to orders of $50.00 or more.', data: { code: 'BIG', reason: 'below_threshold' } },
      { code: 'COUPON_NOT_APPLICABLE', message: "Coupon ZZZ doesn't exist.", data: { code: 'ZZZ', reason: 'unknown' } },
    ]);
  });

  it('cart coupons stack after line discounts and never take the cart below zero', () => {
    const coupons = [coupon('HALF', { kind: 'percent_off', percent: 50, target: { cartOver: 0 } }), coupon('ALL', { kind: 'amount_off', amount: 10_000, target: { cartOver: 0 } })];
    expect(amounts(cart([line('A', 1)], products, { coupons }, { coupons: ['HALF'] }))).toMatchObject({ discount: 500, total: 500 });
    expect(amounts(cart([line('A', 1)], products, { coupons }, { coupons: ['HALF', 'ALL'] }))).toMatchObject({ discount: 1000, total: 0 });
  });

  it('removing a coupon can lower the total when it drops the cart over a threshold (why the property is restricted)', () => {
    const coupons = [coupon('FIVE', { kind: 'amount_off', amount: 200, target: { sku: 'A' } })];
    const shipping = [{ currency: 'USD', flat: 500, freeOver: 1000 }];
    const withCoupon = amounts(cart([line('A', 1)], products, { coupons, shipping }, { coupons: ['FIVE'] }));
    const without = amounts(cart([line('A', 1)], products, { coupons, shipping }));
    expect([withCoupon.total, without.total]).toEqual([1300, 1000]);
  });
});

describe('shipping and tax', () => {
  const products = { A: product(1000), B: product(100, { stock: 0 }) };
  const shipping = [{ currency: 'EUR', flat: 1, freeOver: null }, { currency: 'USD', flat: 499, freeOver: 5000 }];

  it('charges the flat rate until the discounted subtotal reaches freeOver', () => {
    expect(amounts(cart([line('A', 4)], products, { shipping }))).toMatchObject({ shipping: 499, total: 4499 });
    expect(amounts(cart([line('A', 5)], products, { shipping }))).toMatchObject({ shipping: 0, total: 5000 });
    const promotions = [promo('p', { kind: 'amount_off', amount: 1, target: { sku: 'A' } })];
    expect(amounts(cart([line('A', 5)], products, { shipping, promotions }))).toMatchObject({ shipping: 499, total: 5494 });
  });

  it('charges nothing without priced lines or without a rule for the currency', () => {
    expect(amounts(cart([line('B', 1)], products, { shipping })).shipping).toBe(0);
    expect(amounts(cart([line('A', 1)], products)).shipping).toBe(0);
  });

  it('adds exclusive tax on the discounted subtotal, rounded half up', () => {
    const taxRules = [{ region: 'US-TX', rateBps: 825, inclusive: false }];
    // 1000 × 8.25 % = 82.5 → 83.
    expect(amounts(cart([line('A', 1)], products, { taxRules }, { region: 'US-TX' }))).toEqual({ subtotal: 1000, discount: 0, tax: 83, shipping: 0, total: 1083 });
    const promotions = [promo('p', { kind: 'percent_off', percent: 10, target: { sku: 'A' } })];
    expect(amounts(cart([line('A', 1)], products, { taxRules, promotions, shipping }, { region: 'US-TX' }))).toEqual({ subtotal: 1000, discount: 100, tax: 74, shipping: 499, total: 1473 });
    expect(amounts(cart([line('A', 1)], products, { taxRules }, { region: 'US-CA' })).tax).toBe(0);
    expect(amounts(cart([line('A', 1)], products, { taxRules })).tax).toBe(0);
  });

  it('reports the tax included in inclusive prices without adding it', () => {
    const taxRules = [{ region: 'DE', rateBps: 1900, inclusive: true }];
    // 1000 / 1.19 = 840.34 → 840 net, 160 tax.
    expect(amounts(cart([line('A', 1)], products, { taxRules }, { region: 'DE' }))).toEqual({ subtotal: 1000, discount: 0, tax: 160, shipping: 0, total: 1000 });
  });
});

describe('rounding', () => {
  it('rounds percent discounts half up, per line', () => {
    const products = { A: product(5), B: product(333), C: product(15) };
    const promotions = [promo('p', { kind: 'percent_off', percent: 10, target: { category: 'misc' } }), promo('q', { kind: 'percent_off', percent: 15, target: { sku: 'B' } })];
    // A: 0.5 → 1. B: 33.3 → 33, then 15 % of 300 = 45. C: 4.5 → 5 (3 units: 45 → 4.5).
    const r = priceCart(cart([line('A', 1), line('B', 1), line('C', 3)], products, { promotions }));
    expect(r.lines.map((l) => l.facts.discount?.amount)).toEqual([1, 78, 5]);
  });
});
