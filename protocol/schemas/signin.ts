/** Sign-in (POST /v1/auth/exchange): the optional guest cart to merge, and the answer. */
import * as z from 'zod';
import { CartId } from './identifiers.ts';

/** How a guest cart's lines meet the active cart's at sign-in (protocol/SPEC.md §2 "Merge on login"). */
export const MERGE_STRATEGIES = ['merge', 'guest', 'customer'] as const;
export type MergeStrategy = (typeof MERGE_STRATEGIES)[number];

export const MergeStrategySchema = z
  .enum(MERGE_STRATEGIES, { error: 'must be merge, guest or customer' })
  .meta({ description: "merge (default): lines with the same identity take the larger quantity, others are added; guest: the guest cart's lines replace the active cart's; customer: the guest cart's lines are discarded." });

/** A livecart token's longest form (server/auth.ts). */
const MAX_TOKEN = 8192;

export const SignInBody = z
  .strictObject({
    guestCartId: CartId.optional().meta({ description: 'A cart the device used before signing in; merged into the active cart (or adopted as it when there is none).' }),
    guestToken: z
      .string({ error: 'must be a string' })
      .min(1, { error: 'must not be empty' })
      .max(MAX_TOKEN, { error: `must be at most ${MAX_TOKEN} characters` })
      .optional()
      .meta({ description: "A livecart token granting guestCartId: proof the device holds the guest cart." }),
    strategy: MergeStrategySchema.optional(),
  })
  .refine((b) => (b.guestCartId === undefined) === (b.guestToken === undefined), { error: 'guestCartId and guestToken go together', path: ['guestToken'] })
  .refine((b) => b.strategy === undefined || b.guestCartId !== undefined, { error: 'strategy needs a guest cart', path: ['strategy'] })
  .meta({ id: 'SignIn' });

export const SignedIn = z
  .strictObject({
    customerId: z.string().meta({ description: "The IdP token's sub." }),
    cartId: CartId.meta({ description: "The customer's active cart: the same on every device she signs in on." }),
    token: z.string().meta({ description: 'A livecart customer token granting the active cart; exchange again to refresh it.' }),
    expiresAt: z.iso.datetime(),
  })
  .meta({ id: 'SignedIn' });
