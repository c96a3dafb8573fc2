/**
 * Every Redis key and channel livecart uses, built in one place. Keys of one cart carry the cart id
 * as a hash tag (`{cartId}`) so a cart's scripts touch one slot on Redis Cluster; keys that are read
 * together in one MULTI share a tag of their own (`{rules}`); everything else is a single key.
 */
import { createHash } from 'node:crypto';

/**
 * An id from outside (a customer id from the shop's IdP, a token subject) as a key part: a digest,
 * so no id can break out of its hash tag or make a key long.
 */
export function idDigest(id: string): string {
  return createHash('sha256').update(id).digest('base64url').slice(0, 22);
}

export class Keys {
  constructor(readonly prefix: string) {}

  /** The cart's log (stream), meta (hash: version, snapshot version, revalidated) and snapshot. */
  cart(cartId: string): { meta: string; log: string; snap: string } {
    const tag = `${this.prefix}:{${cartId}}`;
    return { meta: `${tag}:meta`, log: `${tag}:log`, snap: `${tag}:snap` };
  }

  /**
   * The cart's activity feed: a list of JSON entries, newest first, capped in length and expiring
   * like the cart (server/activity.ts). A list of its own because compaction folds the log.
   */
  activity(cartId: string): string {
    return `${this.prefix}:{${cartId}}:activity`;
  }

  /**
   * One Idempotency-Key record (`digest`: hash of the caller and the key) of a scope: a cart (its
   * records share the cart's slot, so its appends store them), or one caller's cart creations.
   */
  idempotency(scope: string, digest: string): string {
    return `${this.prefix}:{${scope}}:idem:${digest}`;
  }

  /** A scope's Idempotency-Key records by claim time (to keep their number bounded). */
  idempotencyIndex(scope: string): string {
    return `${this.prefix}:{${scope}}:idem`;
  }

  /**
   * A signed-in customer's active cart (a string: its cart id), by a digest of her id (of any
   * characters: the IdP's). Expires like a cart with lines, refreshed at each sign-in.
   */
  activeCart(customerId: string): string {
    return `${this.prefix}:customer:{${idDigest(customerId)}}:cart`;
  }

  /**
   * When every token of a subject issued until then was revoked (ms), by a digest of the subject;
   * kept until the longest-lived of those tokens would have expired (server/revocations.ts).
   */
  revoked(subject: string): string {
    return `${this.prefix}:revoked:{${idDigest(subject)}}`;
  }

  /**
   * A share code (co-browsing): JSON `{ cartId, grantId, expiresAt }`, expiring with the code;
   * redeemed with GETDEL, so two redeems of one code cannot both win.
   */
  shareCode(code: string): string {
    return `${this.prefix}:share:{${code}}`;
  }

  /** A share grant: JSON `{ cartId, code }`, kept as long as the code and the token it mints can live. */
  shareGrant(grantId: string): string {
    return `${this.prefix}:grant:{${grantId}}`;
  }

  /** When a share grant was revoked (ms), kept until the grant's token would have expired. */
  revokedGrant(grantId: string): string {
    return `${this.prefix}:revoked-grant:{${grantId}}`;
  }

  /** Pub/sub channel: a subject's tokens (JSON `{ subject, at }`) or a share grant (`{ grant, at }`) were revoked: nodes cut their sessions. */
  get revokedChannel(): string {
    return `${this.prefix}:revoked`;
  }

  /** The catalog: one hash of products by SKU. */
  get catalog(): string {
    return `${this.prefix}:catalog:products`;
  }

  /** One kind of pricing rule, and the rules' version counter (one slot for their MULTIs). */
  rules(kind: string): string {
    return `${this.prefix}:rules:{rules}:${kind}`;
  }

  get rulesVersion(): string {
    return `${this.prefix}:rules:{rules}:version`;
  }

  /** Set of open carts holding `sku` (one slot per SKU). */
  skuIndex(sku: string): string {
    return `${this.prefix}:idx:sku:{${sku}}`;
  }

  /** Sorted set of carts with lines, by last revalidation time. */
  get openCarts(): string {
    return `${this.prefix}:idx:open`;
  }

  /** A node's liveness key (refreshed every heartbeat, with a TTL). */
  node(nodeId: string): string {
    return `${this.prefix}:node:${nodeId}`;
  }

  /** Pub/sub channel: a cart's log grew ("<cartId> <version>[ n]"). */
  get cartChangedChannel(): string {
    return `${this.prefix}:cart-changed`;
  }

  /** Channel prefix of the Socket.IO Redis adapter. */
  get socketAdapter(): string {
    return `${this.prefix}:sio`;
  }

  /** Prefix of one rate limiter's counters (rate-limiter-flexible appends `:<client key>`; each expires with its window). */
  rateLimit(name: string): string {
    return `${this.prefix}:rl:${name}`;
  }

  /**
   * BullMQ's prefix of one queue: a hash tag of its own, so the queue's keys share a slot on Redis
   * Cluster (BullMQ's scripts touch several) and different queues land on different slots.
   */
  bull(queue: string): string {
    return `{${this.prefix}-bull-${queue}}`;
  }
}
