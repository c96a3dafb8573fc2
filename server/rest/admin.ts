/**
 * Admin routes, guarded by LIVECART_ADMIN_TOKEN (Bearer): minting tokens for customers, associates
 * and services. Disabled (403) when no admin token is configured.
 */
import { timingSafeEqual } from 'node:crypto';
import { Router, type Request } from 'express';
import { CartError, ROLES, type Role } from '../../protocol/index.ts';
import type { Auth } from '../auth.ts';
import { asObject, intField, onlyKeys } from './body.ts';
import { bearer } from './carts.ts';

export function requireAdmin(req: Request, adminToken: string | null): void {
  const token = bearer(req);
  if (token === undefined) throw new CartError('E_AUTH_MISSING');
  if (adminToken === null) throw new CartError('E_AUTH_FORBIDDEN', 'the admin API is disabled (set LIVECART_ADMIN_TOKEN)');
  const a = Buffer.from(token);
  const b = Buffer.from(adminToken);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new CartError('E_AUTH_INVALID', 'not the admin token');
}

export function adminRoutes(auth: Auth, adminToken: string | null): Router {
  const router = Router();
  router.post('/v1/auth/tokens', async (req, res) => {
    requireAdmin(req, adminToken);
    const body = asObject(req.body);
    onlyKeys(body, ['subject', 'role', 'carts', 'ttlSeconds', 'segment', 'region']);
    const { subject, role, carts } = body;
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > 256) throw new CartError('E_VALIDATION', 'subject must be a string of 1-256 characters');
    if (typeof role !== 'string' || !ROLES.includes(role as Role)) throw new CartError('E_VALIDATION', `role must be one of ${ROLES.join(', ')}`);
    if (!Array.isArray(carts) || carts.length > 1000 || !carts.every((c) => typeof c === 'string')) throw new CartError('E_VALIDATION', 'carts must be an array of cart ids');
    const ttlSeconds = body.ttlSeconds === undefined ? 3600 : intField(body, 'ttlSeconds', 60, 366 * 24 * 3600);
    for (const claim of ['segment', 'region'] as const) {
      if (body[claim] !== undefined && typeof body[claim] !== 'string') throw new CartError('E_VALIDATION', `${claim} must be a string`);
    }
    const minted = await auth.mint({ subject, role: role as Role, carts: carts as string[], ttlSeconds, segment: (body.segment as string | undefined) ?? null, region: (body.region as string | undefined) ?? null });
    res.status(201).json({ token: minted.token, expiresAt: new Date(minted.expiresAt).toISOString() });
  });
  return router;
}
