/** Co-browsing routes (server/shares/shares.ts): share codes, their redeem, revoking a grant. */
import { Router } from 'express';
import { CartError, isCartId } from '../../protocol/index.ts';
import type { Auth } from '../auth.ts';
import type { Shares } from '../shares/shares.ts';
import { ROUTES } from './api.ts';
import { parseBody, parseParam, parseQuery } from './body.ts';
import { type ActivityFeed } from '../activity.ts';
import { DEFAULT_ACTIVITY_LIMIT } from '../../protocol/schemas/index.ts';
import { bearer } from './carts.ts';
import { GrantId, ShareCode } from '../../protocol/schemas/index.ts';

export function shareRoutes(auth: Auth, shares: Shares, activity: ActivityFeed): Router {
  const router = Router();
  const cartIdOf = (value: unknown): string => {
    if (!isCartId(value)) throw new CartError('E_CART_ID_INVALID');
    return value;
  };
  router.post(ROUTES.createShare.path, async (req, res) => {
    const cartId = cartIdOf(req.params.cartId);
    const principal = await auth.authorize(bearer(req), cartId);
    const { ttlSeconds } = parseBody(ROUTES.createShare.body, req.body ?? {});
    const share = await shares.create(principal, cartId, ttlSeconds);
    res.setHeader('Cache-Control', 'no-store');
    res.status(201).json({ ...share, expiresAt: new Date(share.expiresAt).toISOString() });
  });
  router.post(ROUTES.redeemShare.path, async (req, res) => {
    const token = bearer(req);
    const code = parseParam(ShareCode, req.params.code, 'code');
    const redeemed = await shares.redeem(token, code);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ ...redeemed, expiresAt: new Date(redeemed.expiresAt).toISOString() });
  });
  router.delete(ROUTES.revokeShare.path, async (req, res) => {
    const cartId = cartIdOf(req.params.cartId);
    const principal = await auth.authorize(bearer(req), cartId);
    const grantId = parseParam(GrantId, req.params.grantId, 'grantId');
    await shares.revoke(principal, cartId, grantId);
    res.status(204).end();
  });
  router.get(ROUTES.getActivity.path, async (req, res) => {
    const cartId = cartIdOf(req.params.cartId);
    await auth.authorize(bearer(req), cartId);
    const limit = parseQuery(ROUTES.getActivity.query.shape.limit, req.query.limit, 'limit');
    res.setHeader('Cache-Control', 'no-store');
    res.json({ entries: await activity.list(cartId, limit === undefined ? DEFAULT_ACTIVITY_LIMIT : Number(limit)) });
  });
  return router;
}
