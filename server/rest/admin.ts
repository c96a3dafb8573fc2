/**
 * Admin routes, guarded by LIVECART_ADMIN_TOKEN (Bearer): minting tokens for customers, associates
 * and services. Disabled (403) when no admin token is configured.
 */
import { timingSafeEqual } from 'node:crypto';
import { Router, type Request } from 'express';
import { CartError } from '../../protocol/index.ts';
import type { Auth } from '../auth.ts';
import { ROUTES } from './api.ts';
import { parseBody } from './body.ts';
import { bearer } from './carts.ts';

/** Checks a request carries the admin token; see adminGuard. */
export type AdminGuard = (req: Request) => Promise<void>;

/**
 * The admin check. A valid livecart token that is not the admin token (a customer's cart token)
 * is authenticated but not allowed: 403 E_AUTH_FORBIDDEN, not "signature is wrong".
 */
export function adminGuard(auth: Auth, adminToken: string | null): AdminGuard {
  return async (req) => {
    const token = bearer(req);
    if (token === undefined) throw new CartError('E_AUTH_MISSING');
    if (adminToken === null) throw new CartError('E_AUTH_FORBIDDEN', 'the admin API is disabled (set LIVECART_ADMIN_TOKEN)');
    const a = Buffer.from(token);
    const b = Buffer.from(adminToken);
    if (a.length === b.length && timingSafeEqual(a, b)) return;
    const isCartToken = await auth.verify(token).then(
      () => true,
      () => false,
    );
    if (isCartToken) throw new CartError('E_AUTH_FORBIDDEN', 'the admin API needs the admin token, not a cart token');
    throw new CartError('E_AUTH_INVALID', 'not the admin token');
  };
}

export function adminRoutes(auth: Auth, requireAdmin: AdminGuard): Router {
  const router = Router();
  router.post(ROUTES.mintToken.path, async (req, res) => {
    await requireAdmin(req);
    const body = parseBody(ROUTES.mintToken.body, req.body);
    const minted = await auth.mint({ ...body, ttlSeconds: body.ttlSeconds ?? 3600, segment: body.segment ?? null, region: body.region ?? null });
    res.status(201).json({ token: minted.token, expiresAt: new Date(minted.expiresAt).toISOString() });
  });
  return router;
}
