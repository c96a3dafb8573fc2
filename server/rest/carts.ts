/**
 * REST cart routes. Each mutation is a server-origin change of the cart document (through the same
 * log append as a device's change), so connected devices see it live. Mutations honour
 * Idempotency-Key (see idempotency.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import {
  type Actor,
  CartError,
  type CartView,
  type LineView,
  addLine,
  isCartId,
  lineIdOf,
  lineLimitExceeded,
  readCart,
  removeLine,
  setCoupons,
  setNote,
  setQuantity,
  writeCartFacts,
} from '../../protocol/index.ts';
import { newCartFacts } from '../../core/cart/restore.ts';
import { cartSchemas } from '../../protocol/schemas/index.ts';
import type { Auth, Principal } from '../auth.ts';
import { type ActivityFeed, actorOf as activityActor } from '../activity.ts';
import type { HostedCart } from '../cart/hosted-cart.ts';
import type { CartRegistry } from '../cart/registry.ts';
import type { Config } from '../../core/config.ts';
import type { ServerMetrics } from '../../core/metrics.ts';
import { ROUTES } from './api.ts';
import { parseBody } from './body.ts';
import { type Claim, type Idempotency, type Outcome, scopeOfCreations } from './idempotency.ts';

export interface CartRoutesDeps {
  registry: CartRegistry;
  auth: Auth;
  config: Config;
  idempotency: Idempotency;
  metrics: ServerMetrics;
  activity: ActivityFeed;
}

export function bearer(req: Request): string | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new CartError('E_AUTH_INVALID', 'Authorization must be "Bearer <token>"');
  return match[1];
}

function idempotencyKey(req: Request): string | undefined {
  const v = req.headers['idempotency-key'];
  return Array.isArray(v) ? v[0] : v;
}

/** The JSON form of a cart (GET /v1/carts/:cartId). */
export function cartJson(cartId: string, version: number, view: CartView): Record<string, unknown> {
  return { cartId, version, ...view };
}

function send(res: Response, outcome: Outcome & { replayed: boolean }): void {
  if (outcome.replayed) res.setHeader('Idempotent-Replayed', 'true');
  if (outcome.status === 204) res.status(204).end();
  else res.status(outcome.status).json(outcome.body);
}

export function cartRoutes(deps: CartRoutesDeps): Router {
  const { registry, auth, config, idempotency, metrics, activity } = deps;
  const router = Router();

  const cartIdParam = (req: Request): string => {
    const cartId = req.params.cartId;
    if (!isCartId(cartId)) throw new CartError('E_CART_ID_INVALID');
    return cartId;
  };

  /** The cart, kept loaded until the response is done. */
  const holdCart = async (cartId: string, res: Response): Promise<HostedCart> => {
    const cart = await registry.acquire(cartId);
    // The client may have gone while the cart loaded: 'close' has fired already, release now.
    if (res.destroyed || res.writableFinished || res.socket === null || res.socket.destroyed) {
      registry.release(cart);
      throw new CartError('E_INTERNAL', 'the client went away');
    }
    res.once('close', () => registry.release(cart));
    return cart;
  };

  /** Authorize, then load the cart; 404 when it does not exist. */
  const openCart = async (req: Request, res: Response): Promise<{ cartId: string; principal: Principal; cart: HostedCart }> => {
    const cartId = cartIdParam(req);
    const principal = await auth.authorize(bearer(req), cartId);
    const cart = await holdCart(cartId, res);
    if (cart.version === 0) throw new CartError('E_CART_NOT_FOUND');
    return { cartId, principal, cart };
  };

  const actorOf = (p: Principal): Actor => ({ id: p.subject, role: p.role, ...(p.name === null ? {} : { name: p.name }) });

  /**
   * Change the cart and answer with `respond`. With a claimed Idempotency-Key, the answer is
   * computed on the changed document before the append and stored by it (see idempotency.ts).
   */
  const mutate = async <T>(cart: HostedCart, principal: Principal, claim: Claim | null, change: (doc: HostedCart['doc']) => T, respond: (view: CartView, result: T, version: number) => Outcome): Promise<Outcome> => {
    await cart.stampClaims(principal);
    const status = readCart(cart.doc).status;
    if (status !== 'open') throw new CartError('E_CART_CLOSED', `status is ${status}`);
    const record = claim && ((doc: HostedCart['doc'], result: T, version: number) => claim.record(respond(readCart(doc, config.limits), result, version)));
    const watch = activity.watch(cart, activityActor(principal, 'rest'));
    const { result, version, recorded } = await cart.applyServerChange(change, { kind: 'rest', requestId: randomUUID() }, record ?? undefined, undefined, watch);
    if (recorded && claim) claim.stored = true;
    metrics.changes({ origin: 'rest' });
    return respond(readCart(cart.doc, config.limits), result, version);
  };

  const findLine = (view: CartView, lineId: string): LineView => {
    const line = view.lines.find((l) => l.lineId === lineId);
    if (!line) throw new CartError('E_LINE_NOT_FOUND');
    return line;
  };

  router.post(ROUTES.createCart.path, async (req, res) => {
    const token = bearer(req);
    const principal = token === undefined ? null : await auth.verify(token);
    parseBody(ROUTES.createCart.body, req.body ?? {});
    // Keys are scoped by caller; an anonymous caller has no scope of its own, and a replay would
    // hand a stranger the first caller's token: its key is not honoured. The token is never stored:
    // a replay mints a new one for the same caller and cart.
    const key = principal === null ? undefined : idempotencyKey(req);
    const scope = { scope: scopeOfCreations(principal?.subject ?? ''), subject: principal?.subject ?? '' };
    const outcome = await idempotency.run(key, scope, { route: 'create' }, async () => {
      const cartId = randomBytes(16).toString('base64url');
      const cart = await holdCart(cartId, res);
      await cart.applyServerChange((doc) => writeCartFacts(doc, newCartFacts()), { kind: 'rest', requestId: randomUUID() });
      return { status: 201, body: { cartId } };
    });
    const { cartId } = outcome.body as { cartId: string };
    const minted = await auth.mint({
      subject: principal?.subject ?? `anon:${randomBytes(12).toString('base64url')}`,
      role: principal?.role ?? 'customer',
      carts: [cartId],
      ttlSeconds: config.cartTokenTtlSeconds,
    });
    send(res, { ...outcome, body: { cartId, token: minted.token, expiresAt: new Date(minted.expiresAt).toISOString() } });
  });

  router.get(ROUTES.getCart.path, async (req, res) => {
    const { cartId, cart } = await openCart(req, res);
    res.setHeader('Cache-Control', 'no-store');
    res.json(cartJson(cartId, cart.version, readCart(cart.doc, config.limits)));
  });

  router.post(ROUTES.addLine.path, async (req, res) => {
    const { cartId, principal, cart } = await openCart(req, res);
    const body: unknown = req.body;
    const parsed = parseBody(cartSchemas(config.limits).addLine, body);
    const input = { ...parsed, options: parsed.options ?? {} };
    const outcome = await idempotency.run(idempotencyKey(req), { scope: cartId, subject: principal.subject }, { route: 'add', body }, (claim) =>
      mutate(
        cart,
        principal,
        claim,
        (doc) => {
          const exceeded = lineLimitExceeded(doc, [lineIdOf(input.sku, input.options)], config.limits);
          if (exceeded !== null) throw new CartError('E_UPDATE_TOO_MANY_LINES', exceeded);
          return addLine(doc, input, actorOf(principal), config.limits);
        },
        (view, lineId, version) => ({ status: 201, body: { ...findLine(view, lineId), version } }),
      ),
    );
    send(res, outcome);
  });

  router.patch(ROUTES.patchLine.path, async (req, res) => {
    const { cartId, principal, cart } = await openCart(req, res);
    const lineId = String(req.params.lineId);
    const body: unknown = req.body;
    const { quantity, note } = parseBody(cartSchemas(config.limits).patchLine, body);
    const outcome = await idempotency.run(idempotencyKey(req), { scope: cartId, subject: principal.subject }, { route: 'patch', lineId, body }, async (claim) => {
      findLine(readCart(cart.doc, config.limits), lineId);
      return mutate(
        cart,
        principal,
        claim,
        (doc) => {
          if (note !== undefined) setNote(doc, lineId, note);
          if (quantity !== undefined) setQuantity(doc, lineId, quantity, actorOf(principal));
        },
        (view, _, version) => (quantity === 0 ? { status: 204, body: null } : { status: 200, body: { ...findLine(view, lineId), version } }),
      );
    });
    send(res, outcome);
  });

  router.delete(ROUTES.deleteLine.path, async (req, res) => {
    const { cartId, principal, cart } = await openCart(req, res);
    const lineId = String(req.params.lineId);
    const outcome = await idempotency.run(idempotencyKey(req), { scope: cartId, subject: principal.subject }, { route: 'delete', lineId }, async (claim) => {
      findLine(readCart(cart.doc, config.limits), lineId);
      return mutate(cart, principal, claim, (doc) => removeLine(doc, lineId, actorOf(principal)), () => ({ status: 204, body: null }));
    });
    send(res, outcome);
  });

  router.put(ROUTES.setCoupons.path, async (req, res) => {
    const { cartId, principal, cart } = await openCart(req, res);
    const body: unknown = req.body;
    const codes = [...new Set(parseBody(cartSchemas(config.limits).coupons, body).codes.map((c) => c.toUpperCase()))];
    const outcome = await idempotency.run(idempotencyKey(req), { scope: cartId, subject: principal.subject }, { route: 'coupons', body }, (claim) =>
      mutate(cart, principal, claim, (doc) => setCoupons(doc, codes), (view, _, version) => ({ status: 200, body: { coupons: view.coupons, version } })),
    );
    send(res, outcome);
  });

  return router;
}
