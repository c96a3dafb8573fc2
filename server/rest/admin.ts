/**
 * Admin routes, guarded by LIVECART_ADMIN_TOKEN (Bearer): minting tokens for customers, associates
 * and services, and signing a subject out everywhere (also open to service tokens). Disabled
 * (403) when no admin token is configured.
 */
import { timingSafeEqual } from 'node:crypto';
import { Router, type Request } from 'express';
import { CartError } from '../../protocol/index.ts';
import type { Auth } from '../auth.ts';
import type { Revocations } from '../revocations.ts';
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
    const isCartToken = await auth.verifySignature(token).then(
      () => true,
      () => false,
    );
    if (isCartToken) throw new CartError('E_AUTH_FORBIDDEN', 'the admin API needs the admin token, not a cart token');
    throw new CartError('E_AUTH_INVALID', 'not the admin token');
  };
}

/** The admin token, or a service token (back-office software signing a customer out). */
function adminOrService(auth: Auth, requireAdmin: AdminGuard): AdminGuard {
  return async (req) => {
    const token = bearer(req);
    const principal = token === undefined ? null : await auth.verify(token).catch(() => null);
    if (principal?.role === 'service') return;
    await requireAdmin(req);
  };
}

export function adminRoutes(auth: Auth, requireAdmin: AdminGuard, revocations: Revocations): Router {
  const router = Router();
  const requireAdminOrService = adminOrService(auth, requireAdmin);
  router.post(ROUTES.revokeSubject.path, async (req, res) => {
    await requireAdminOrService(req);
    const { subject } = parseBody(ROUTES.revokeSubject.body, req.body);
    const at = await revocations.revoke(subject);
    res.json({ subject, revokedAt: new Date(at).toISOString() });
  });
  router.post(ROUTES.mintToken.path, async (req, res) => {
    await requireAdmin(req);
    const body = parseBody(ROUTES.mintToken.body, req.body);
    const minted = await auth.mint({ ...body, ttlSeconds: body.ttlSeconds ?? 3600, segment: body.segment ?? null, region: body.region ?? null });
    res.status(201).json({ token: minted.token, expiresAt: new Date(minted.expiresAt).toISOString() });
  });
  return router;
}
