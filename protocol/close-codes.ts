/**
 * The closed set of ways a livecart session ends. WebSocket close codes on `/yjs/:cartId`; the same
 * names are the `reason` of a Socket.IO `cart-closed` event (the Socket.IO connection itself stays up
 * for the device's other carts). Codes 4000-4999 are application codes per RFC 6455.
 */
export const CLOSE = {
  /** The device left or the server unloaded an idle cart. */
  NORMAL: { code: 1000, name: 'normal' },
  /** The node is shutting down; reconnect (to any node). */
  SHUTTING_DOWN: { code: 4001, name: 'shutting-down' },
  /** The message could not be decoded; the peer is not speaking the protocol. */
  MALFORMED: { code: 4400, name: 'malformed' },
  /** Token missing, malformed, forged or expired. */
  UNAUTHORIZED: { code: 4401, name: 'unauthorized' },
  /** Token valid but does not grant this cart (or the grant was revoked). */
  FORBIDDEN: { code: 4403, name: 'forbidden' },
  /** A message exceeded the size limit. */
  TOO_LARGE: { code: 4413, name: 'too-large' },
  /** An update broke the document rules; the peer must drop its local state and resync. */
  REJECTED: { code: 4422, name: 'rejected' },
  /** The peer sent messages faster than the limit allows. */
  RATE_LIMITED: { code: 4429, name: 'rate-limited' },
  /** Storage is unavailable; reconnect later, local edits are kept by the client. */
  UNAVAILABLE: { code: 4503, name: 'unavailable' },
  /**
   * The peer reads too slowly: more than the node's buffer limit of sent frames waited for it.
   * Reconnect; the resync brings what it missed.
   */
  SLOW_CONSUMER: { code: 4008, name: 'slow-consumer' },
  /**
   * The cart was merged into another at a sign-in (its status is `merged`). Socket.IO's
   * `cart-closed` carries `mergedInto`; a /yjs close's reason is `E_CART_CLOSED merged-into=<cartId>`.
   * Open that cart (with a token granting it) instead.
   */
  MERGED: { code: 4410, name: 'merged' },
  /** The token was revoked (POST /v1/auth/revoke: its subject signed out everywhere). Get a new token. */
  REVOKED: { code: 4411, name: 'revoked' },
  /** The cart no longer takes changes for another reason (its status left `open`: ordered, expired). */
  CLOSED: { code: 4409, name: 'closed' },
} as const;

export type CloseName = (typeof CLOSE)[keyof typeof CLOSE]['name'];
