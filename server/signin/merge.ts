/**
 * Merge on login: a guest cart's lines go into the customer's active cart, then the guest cart
 * becomes `merged` (with `mergedInto`) and its devices, on every node, are told to follow.
 *
 * 1. Claim the guest cart in Redis (claimMerge-1.lua): one exchange at a time holds it, and from
 *    then on nobody else may append to it, so the lines read next are its final ones. Already
 *    merged: nothing to do (merging twice is a no-op).
 * 2. Write the lines into the active cart through its one write path (logged, relayed, revalidated).
 * 3. Write the guest cart's status fact `merged` with the claim: the same append moves the meta
 *    hash to `merged` and drops the claim.
 * 4. Tell every node hosting the guest cart to catch up: the status fact ends their sessions of it
 *    (cart-closed `merged`, /yjs close 4410).
 *
 * A process that dies between 1 and 3 leaves a claim that runs out after MERGE_LEASE_MS; the next
 * exchange with that guest cart merges again, which every strategy makes idempotent.
 */
import {
  CartError,
  type CartLimits,
  type MergeStrategyName,
  type MergeSummary,
  canTransition,
  mergeCarts,
  writeCartFacts,
} from '../../protocol/index.ts';
import type { CartStatusStore } from '../../core/redis/cart-status-store.ts';
import type { Logger } from '../../core/log.ts';
import type { CartRegistry } from '../cart/registry.ts';
import type { ActivityFeed } from '../activity.ts';

/** How long a merge's claim on a guest cart holds (a merge takes a few Redis round trips). */
export const MERGE_LEASE_MS = 30_000;

export interface MergeDeps {
  registry: CartRegistry;
  statuses: CartStatusStore;
  limits: CartLimits;
  /** Tell every node hosting `cartId` to catch up to `version` now (not only those with /yjs clients). */
  announceEverywhere: (cartId: string, version: number) => void;
  /** The active cart's activity feed gets a `cart.merged` entry (absent: not recorded). */
  activity?: Pick<ActivityFeed, 'record'>;
  log: Logger;
}

export type MergeOutcome = { merged: true; summary: MergeSummary } | { merged: false; why: 'already-merged' | 'in-progress' };

export async function mergeGuestCart(deps: MergeDeps, guestId: string, targetId: string, customerId: string, strategy: MergeStrategyName): Promise<MergeOutcome> {
  const { registry, statuses, limits, log } = deps;
  if (!canTransition('open', 'merged')) throw new Error('cart-status: open → merged must be allowed');
  const claim = await statuses.claimMerge(guestId, targetId, customerId, MERGE_LEASE_MS);
  switch (claim.kind) {
    case 'gone':
      throw new CartError('E_CART_NOT_FOUND', 'the guest cart does not exist (or expired)');
    case 'owned':
      throw new CartError('E_AUTH_FORBIDDEN', 'the guest cart belongs to another customer');
    case 'closed':
      throw new CartError('E_CART_CLOSED', `the guest cart's status is ${claim.status}`);
    case 'merged':
      return { merged: false, why: 'already-merged' };
    case 'busy':
      return { merged: false, why: 'in-progress' };
    case 'claimed':
      break;
  }
  const origin = { kind: 'merge', subject: customerId, from: guestId } as const;
  const guest = await registry.acquire(guestId);
  try {
    const target = await registry.acquire(targetId);
    let summary: MergeSummary;
    try {
      ({ result: summary } = await target.applyServerChange((doc) => mergeCarts(doc, guest.doc, strategy, limits), origin));
    } finally {
      registry.release(target);
    }
    const { version } = await guest.applyServerChange((doc) => writeCartFacts(doc, { status: 'merged', mergedInto: targetId }), origin, undefined, { lock: claim.lock, setStatus: 'merged' });
    deps.announceEverywhere(guestId, version);
    // One entry for the whole merge, on the cart the customer goes on with (the guest cart is closed).
    deps.activity?.record(targetId, { id: customerId, role: 'customer', name: null, device: null }, [{ action: 'cart.merged' }]);
    log.info('guest cart merged at sign-in', { guestId, targetId, strategy, ...summary });
    return { merged: true, summary };
  } finally {
    registry.release(guest);
  }
}
