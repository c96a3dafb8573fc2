/** The admin token-minting body (POST /v1/auth/tokens) and its answer. */
import * as z from 'zod';
import { ROLES, type Role } from '../schema.ts';
import { intIn } from './identifiers.ts';
import { plainText } from './text.ts';

/** Segment and region claims: short identifiers. */
const CLAIM = 'must be 1-32 characters of A-Z a-z 0-9 _ -';
const Claim = z.string({ error: CLAIM }).regex(/^[A-Za-z0-9_-]{1,32}$/, { error: CLAIM });

export const MintToken = z
  .strictObject({
    subject: plainText(256, 1).meta({ description: 'Who the token speaks for (a user id).' }),
    role: z.enum(ROLES as [Role, ...Role[]], { error: `must be one of ${ROLES.join(', ')}` }),
    carts: z.array(z.string(), { error: 'must be an array of cart ids' }).max(1000, { error: 'must be an array of at most 1000 cart ids' }),
    ttlSeconds: intIn(60, 366 * 24 * 3600).optional().meta({ description: 'Default 3600.' }),
    segment: Claim.optional().meta({ description: 'Price-list segment claim.' }),
    region: Claim.optional().meta({ description: 'Tax region claim.' }),
  })
  .meta({ id: 'MintToken' });

export const MintedToken = z.strictObject({ token: z.string(), expiresAt: z.iso.datetime() }).meta({ id: 'MintedToken' });

/** Sign-out everywhere (POST /v1/auth/revoke): every token of `subject` issued until now is revoked. */
export const RevokeSubject = z
  .strictObject({ subject: plainText(256, 1).meta({ description: "The subject whose tokens to revoke (a customer id, an associate's id, anon:...)." }) })
  .meta({ id: 'RevokeSubject' });

export const Revoked = z
  .strictObject({ subject: z.string(), revokedAt: z.iso.datetime().meta({ description: 'Tokens of the subject issued until this moment are refused from now on, on every node.' }) })
  .meta({ id: 'Revoked' });
