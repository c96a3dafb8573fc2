/**
 * livecart client: live, offline-first shopping carts over Socket.IO and Yjs. Browser and Node.
 * The Node-only file storage is a separate entry point: client/file-storage.ts.
 */
export { LiveCartConnection, type LiveCartConnectionEvents, type LiveCartConnectionOptions } from './connection.ts';
export { CartHandle, type CartHandleEvents, type CartHandleStatus, type SaveState } from './cart-handle.ts';
export { MemoryStorage, type CartStorage } from './storage.ts';
export { IndexedDbStorage } from './indexeddb-storage.ts';
export type { CartView, LineView, PresenceState, WireError, AddLineInput, CartLimits, ActivityEntry } from '../protocol/index.ts';
export { CartError } from '../protocol/index.ts';
