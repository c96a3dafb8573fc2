/**
 * Browser storage of carts in IndexedDB (raw `indexedDB` global, no wrapper library): one database,
 * one object store 'carts', keyed by cart id, values are the state bytes.
 */
import type { CartStorage } from './storage.ts';

const STORE = 'carts';

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

/** Keeps carts in the browser's IndexedDB, so offline edits survive reloads and restarts. */
export class IndexedDbStorage implements CartStorage {
  private db: Promise<IDBDatabase> | null = null;

  /** @param dbName name of the IndexedDB database (one per app; default 'livecart'). */
  constructor(private readonly dbName = 'livecart') {}

  private open(): Promise<IDBDatabase> {
    if (!this.db) {
      this.db = new Promise<IDBDatabase>((resolve, reject) => {
        const req = indexedDB.open(this.dbName, 1);
        req.onupgradeneeded = () => {
          if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
        };
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error ?? new Error('IndexedDB open failed'));
        req.onblocked = () => reject(new Error('IndexedDB open blocked by another tab'));
      });
      // A failed open is retried on the next call instead of being cached forever.
      this.db.catch(() => {
        this.db = null;
      });
    }
    return this.db;
  }

  private async run<T>(mode: IDBTransactionMode, op: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const db = await this.open();
    const tx = db.transaction(STORE, mode);
    const result = request(op(tx.objectStore(STORE)));
    // For writes, resolve only once the transaction committed, not when the request succeeded.
    const done = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    });
    const [value] = await Promise.all([result, done]);
    return value;
  }

  async load(cartId: string): Promise<Uint8Array | null> {
    const value: unknown = await this.run('readonly', (s) => s.get(cartId));
    if (value instanceof Uint8Array) return value;
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    return null;
  }

  async save(cartId: string, state: Uint8Array): Promise<void> {
    await this.run('readwrite', (s) => s.put(state.slice(), cartId));
  }

  async clear(cartId: string): Promise<void> {
    await this.run('readwrite', (s) => s.delete(cartId));
  }
}
