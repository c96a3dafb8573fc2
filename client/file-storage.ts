/**
 * Node-only storage of carts in files: one file per cart in a directory. A separate entry point
 * (import 'livecart/client/file-storage.ts'), so browser bundles never pull in `node:` modules.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { CartStorage } from './storage.ts';

const SUFFIX = '.ycart';

/** Keeps each cart in `<dir>/<cartId>.ycart`. Writes are atomic (temporary file, fsync, rename). */
export class FileStorage implements CartStorage {
  /** @param dir directory for the cart files; created on the first save. */
  constructor(private readonly dir: string) {}

  private fileOf(cartId: string): string {
    // Cart ids are URL-safe already; encoding keeps any other string from escaping the directory.
    return join(this.dir, encodeURIComponent(cartId) + SUFFIX);
  }

  async load(cartId: string): Promise<Uint8Array | null> {
    try {
      const buf = await readFile(this.fileOf(cartId));
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async save(cartId: string, state: Uint8Array): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const file = this.fileOf(cartId);
    // A unique temporary name, so concurrent saves never write into each other's file.
    const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(state);
      await handle.sync();
    } catch (err) {
      await handle.close();
      await rm(tmp, { force: true });
      throw err;
    }
    await handle.close();
    try {
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async clear(cartId: string): Promise<void> {
    await rm(this.fileOf(cartId), { force: true });
  }
}
