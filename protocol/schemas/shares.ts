/** Co-browsing (protocol/SPEC.md §2 "Co-browsing"): share codes, their redeem, grants. */
import * as z from 'zod';
import { ACTIVITY_ACTIONS } from '../activity.ts';
import { CartId, intIn } from './identifiers.ts';

/** Characters of a share code (core/redis/share-store.ts draws from the same): no 0/O, 1/I/L. */
export const SHARE_CODE_PATTERN = /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$/;
export const MAX_SHARE_TTL_SECONDS = 3600;
export const DEFAULT_SHARE_TTL_SECONDS = 600;

export const CreateShare = z
  .strictObject({
    ttlSeconds: intIn(60, MAX_SHARE_TTL_SECONDS).optional().meta({ description: `How long the code can be redeemed; default ${DEFAULT_SHARE_TTL_SECONDS}.` }),
  })
  .meta({ id: 'CreateShare' });

/** A code as typed: either case (the server reads it upper-cased). */
export const ShareCode = z
  .string({ error: 'must be a share code' })
  .regex(/^[23456789ABCDEFGHJKMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz]{6}$/, { error: 'must be 6 characters of 23456789ABCDEFGHJKMNPQRSTUVWXYZ (case does not matter)' })
  .meta({ description: 'A share code as the customer shows it (case-insensitive).' });

export const GrantId = z
  .string({ error: 'must be a grant id' })
  .regex(/^[A-Za-z0-9_-]{22}$/, { error: 'must be a grant id (22 characters of A-Z a-z 0-9 _ -)' })
  .meta({ description: 'A share grant id, as POST /v1/carts/:cartId/shares answered it.' });

export const ShareCreated = z
  .strictObject({
    code: z.string().meta({ description: 'Six characters the customer shows or reads out; redeemable once.' }),
    grantId: GrantId,
    expiresAt: z.iso.datetime().meta({ description: 'When the code can no longer be redeemed.' }),
  })
  .meta({ id: 'ShareCreated' });

export const ShareRedeemed = z
  .strictObject({
    cartId: CartId,
    token: z.string().meta({ description: "A livecart token with role associate, the associate's id as subject, granting this cart only and carrying the grant id." }),
    grantId: GrantId,
    expiresAt: z.iso.datetime().meta({ description: "When the associate's token expires." }),
  })
  .meta({ id: 'ShareRedeemed' });

/** GET /v1/carts/:cartId/activity (protocol/SPEC.md §2 "Activity"). */
export const DEFAULT_ACTIVITY_LIMIT = 50;
export const MAX_ACTIVITY_LIMIT = 200;

export const ActivityQuery = z.object({
  limit: z
    .string({ error: `must be an integer from 1 to ${MAX_ACTIVITY_LIMIT}` })
    .regex(/^(?:[1-9]\d{0,2})$/, { error: `must be an integer from 1 to ${MAX_ACTIVITY_LIMIT}` })
    .refine((v) => Number(v) <= MAX_ACTIVITY_LIMIT, { error: `must be an integer from 1 to ${MAX_ACTIVITY_LIMIT}` })
    .optional()
    .meta({ description: `Newest entries to return; default ${DEFAULT_ACTIVITY_LIMIT}.` }),
});

const ActivityActorSchema = z.strictObject({ id: z.string(), role: z.string(), name: z.string().nullable(), device: z.string().nullable() });

export const ActivityList = z
  .strictObject({
    entries: z.array(
      z.strictObject({
        at: z.iso.datetime(),
        actor: ActivityActorSchema,
        action: z.enum(ACTIVITY_ACTIONS),
        lineId: z.string().optional(),
        sku: z.string().optional(),
        from: z.number().optional(),
        to: z.number().optional(),
      }),
    ),
  })
  .meta({ id: 'ActivityList', description: 'Newest first.' });
