/**
 * Origins of the Yjs transactions the client library makes itself, as tagged values. Any other
 * origin (the cart operations use none) is a local edit and is sent to the server.
 */
export type ClientOrigin =
  /** A change received from the server (sync step 2 or a relayed change): never echoed back. */
  | { readonly kind: 'server' }
  /** State restored from local storage: reaches the server through the sync step 2, not as an update. */
  | { readonly kind: 'storage' };

export const SERVER_ORIGIN: ClientOrigin = Object.freeze({ kind: 'server' });
export const STORAGE_ORIGIN: ClientOrigin = Object.freeze({ kind: 'storage' });

/** True for a transaction made on this device (to be sent to the server). */
export function isLocalOrigin(origin: unknown): boolean {
  return origin !== SERVER_ORIGIN && origin !== STORAGE_ORIGIN;
}
