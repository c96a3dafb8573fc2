/**
 * Convergence checks of the soak (the same rules as the other scenarios): a cart's devices show the
 * same view, each line the last quantity set on it, priced for it, and REST returns that view.
 */
import type { CartHandle, CartView } from '../../client/index.ts';
import { http } from '../abuse/net.ts';
import type { Convergence } from '../ipc.ts';

export interface RestGet {
  status: number;
  body: unknown;
}

/** GET with the cart's token, from the loopback address `from` (each shopper its own IP). */
export async function restGet(url: string, token: string, from: string): Promise<RestGet> {
  const res = await http(url, { headers: { authorization: `Bearer ${token}` }, from });
  return { status: res.status, body: res.json ?? res.text };
}

type ViewLike = Pick<CartView, 'status' | 'currency' | 'coupons' | 'attributes' | 'totals' | 'warnings'> & { lines: Array<Record<string, unknown>> };

export function canonical(view: ViewLike): string {
  const lines = view.lines.map((l) => [l.lineId, l.sku, l.options, l.quantity, l.note, l.unitPrice, l.listPrice, l.discount, l.lineTotal, l.available, l.addedPrice, l.warnings]);
  return JSON.stringify([view.status, view.currency, lines, view.coupons, view.attributes, view.totals, view.warnings]);
}

type Line = CartView['lines'][number];

/** The quantity the line's facts were priced for, or null when it is not priced. */
export function pricedQuantity(line: Line | undefined): number | null {
  if (!line || !line.unitPrice || !line.lineTotal || !line.discount || line.unitPrice.amount <= 0) return null;
  const q = (line.lineTotal.amount + line.discount.amount) / line.unitPrice.amount;
  return Number.isInteger(q) ? q : null;
}

export interface Problem {
  problem: string;
  /** Lines where a device or REST did not show the last quantity set. */
  lost: number;
}

export function cartProblem(cartId: string, views: Array<{ name: string; view: CartView }>, expected: ReadonlyMap<string, number>): Problem | null {
  const first = views[0];
  if (!first) return { problem: `${cartId}: no device`, lost: 0 };
  const ref = canonical(first.view as unknown as ViewLike);
  const problems: string[] = [];
  let lost = 0;
  for (const v of views.slice(1)) if (canonical(v.view as unknown as ViewLike) !== ref) problems.push(`${v.name} differs from ${first.name}`);
  for (const [sku, q] of expected) {
    for (const v of views) {
      const line = v.view.lines.find((l) => l.lineId === sku);
      if ((line?.quantity ?? 0) !== q) {
        lost += 1;
        problems.push(`${v.name} shows ${sku}=${line?.quantity ?? 0}, last set ${q}`);
      } else if (pricedQuantity(line) !== q) problems.push(`${v.name}: ${sku} not priced for ${q}`);
    }
  }
  if (first.view.lines.length !== expected.size) problems.push(`${first.view.lines.length} lines, expected ${expected.size}`);
  return problems.length === 0 ? null : { problem: `${cartId}: ${problems.slice(0, 3).join('; ')}`, lost };
}

export async function restProblem(url: string, token: string, from: string, cartId: string, deviceView: CartView, expected: ReadonlyMap<string, number>): Promise<Problem | null> {
  const res = await restGet(url, token, from);
  if (res.status !== 200) return { problem: `${cartId}: REST GET ${res.status}`, lost: expected.size };
  const body = res.body as ViewLike;
  if (canonical(body) === canonical(deviceView as unknown as ViewLike)) return null;
  let lost = 0;
  for (const [sku, q] of expected) if ((body.lines.find((l) => l.lineId === sku)?.quantity ?? 0) !== q) lost += 1;
  return { problem: `${cartId}: REST view differs from the devices'`, lost };
}

/** A cart as the convergence gate sees it: its devices, what they must show, where REST is asked. */
export interface CheckedCart {
  cartId: string;
  token: string;
  /** The cart's REST URL on a node, and the loopback address the check calls it from. */
  url: string;
  from: string;
  devices: ReadonlyArray<{ name: string; handle: CartHandle }>;
  expected: ReadonlyMap<string, number>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Wait (bounded by `timeoutMs`) until every device's edits are acknowledged, then until every
 * cart's devices agree, show the expected quantities priced, and equal REST.
 */
export async function converge(list: readonly CheckedCart[], timeoutMs: number, clientErrors: string[] = []): Promise<Convergence> {
  const t0 = performance.now();
  const devices = list.flatMap((c) => c.devices);
  await Promise.race([Promise.allSettled(devices.map((d) => d.handle.whenSaved())), sleep(timeoutMs)]);
  const unsaved = devices.filter((d) => d.handle.saveState !== 'saved').length;
  let problems: Problem[] = [];
  for (;;) {
    const views = (c: CheckedCart): Array<{ name: string; view: CartView }> => c.devices.map((d) => ({ name: d.name, view: d.handle.view }));
    problems = list.map((c) => cartProblem(c.cartId, views(c), c.expected)).filter((x) => x !== null);
    if (problems.length === 0) {
      const rest = await Promise.all(list.map((c) => restProblem(c.url, c.token, c.from, c.cartId, c.devices[0]!.handle.view, c.expected)));
      problems = rest.filter((x) => x !== null);
      if (problems.length === 0) break;
    }
    if (performance.now() - t0 >= timeoutMs) break;
    await sleep(250);
  }
  return {
    ok: problems.length === 0 && unsaved === 0 && clientErrors.length === 0,
    ms: performance.now() - t0,
    carts: list.length,
    devices: devices.length,
    unsaved,
    divergedCarts: problems.length,
    lostEdits: problems.reduce((n, x) => n + x.lost, 0),
    problems: problems.slice(0, 5).map((x) => x.problem),
    clientErrors,
  };
}
