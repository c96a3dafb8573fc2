/** POST /v1/auth/exchange (server/signin/sign-in.ts): the IdP token in `Authorization`, the guest cart in the body. */
import { Router } from 'express';
import type { SignIn } from '../signin/sign-in.ts';
import { ROUTES } from './api.ts';
import { parseBody } from './body.ts';
import { bearer } from './carts.ts';

export function signInRoutes(signIn: SignIn): Router {
  const router = Router();
  router.post(ROUTES.signIn.path, async (req, res) => {
    const idpToken = bearer(req);
    const body = parseBody(ROUTES.signIn.body, req.body ?? {});
    const signed = await signIn.exchange(idpToken, body);
    res.setHeader('Cache-Control', 'no-store');
    res.json({ ...signed, expiresAt: new Date(signed.expiresAt).toISOString() });
  });
  return router;
}
