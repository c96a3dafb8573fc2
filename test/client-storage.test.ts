import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { FileStorage } from '../client/file-storage.ts';
import { type CartStorage, MemoryStorage } from '../client/storage.ts';

const CART = 'cart-0001';
const OTHER = 'cart-0002';

function sampleState(): Uint8Array {
  const doc = new Y.Doc();
  doc.getMap('lines').set('SHOE-1', { sku: 'SHOE-1' });
  return Y.encodeStateAsUpdate(doc);
}

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'livecart-client-storage-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** The contract every CartStorage must meet. */
function contract(name: string, make: () => Promise<CartStorage>): void {
  describe(`${name} (CartStorage contract)`, () => {
    it('returns null for a cart never saved', async () => {
      const storage = await make();
      expect(await storage.load(CART)).toBeNull();
    });

    it('round-trips the bytes, per cart', async () => {
      const storage = await make();
      const state = sampleState();
      await storage.save(CART, state);
      await storage.save(OTHER, new Uint8Array([1, 2, 3]));
      const loaded = await storage.load(CART);
      expect(loaded).toBeInstanceOf(Uint8Array);
      expect([...(loaded ?? [])]).toEqual([...state]);
      const doc = new Y.Doc();
      Y.applyUpdate(doc, loaded!);
      expect(doc.getMap('lines').get('SHOE-1')).toEqual({ sku: 'SHOE-1' });
      expect([...((await storage.load(OTHER)) ?? [])]).toEqual([1, 2, 3]);
    });

    it('a later save replaces the earlier one', async () => {
      const storage = await make();
      await storage.save(CART, new Uint8Array([1, 1, 1, 1]));
      await storage.save(CART, new Uint8Array([2]));
      expect([...((await storage.load(CART)) ?? [])]).toEqual([2]);
    });

    it('keeps its own copy of the saved bytes', async () => {
      const storage = await make();
      const state = new Uint8Array([5, 6, 7]);
      await storage.save(CART, state);
      state[0] = 99;
      expect([...((await storage.load(CART)) ?? [])]).toEqual([5, 6, 7]);
    });

    it('clear forgets one cart and is a no-op when nothing is saved', async () => {
      const storage = await make();
      await storage.save(CART, new Uint8Array([1]));
      await storage.save(OTHER, new Uint8Array([2]));
      await storage.clear(CART);
      await storage.clear('cart-never-saved');
      expect(await storage.load(CART)).toBeNull();
      expect([...((await storage.load(OTHER)) ?? [])]).toEqual([2]);
    });
  });
}

contract('MemoryStorage', async () => new MemoryStorage());
contract('FileStorage', async () => new FileStorage(join(await tempDir(), 'carts')));

describe('FileStorage', () => {
  it('creates its directory on the first save', async () => {
    const dir = join(await tempDir(), 'nested', 'carts');
    await new FileStorage(dir).save(CART, new Uint8Array([1]));
    expect(await readdir(dir)).toHaveLength(1);
  });

  it('writes atomically: no temporary file is left, concurrent saves end with one whole state', async () => {
    const dir = await tempDir();
    const storage = new FileStorage(dir);
    const states = Array.from({ length: 20 }, (_, i) => new Uint8Array(1000 + i).fill(i));
    await Promise.all(states.map((s) => storage.save(CART, s)));
    const files = await readdir(dir);
    expect(files).toHaveLength(1);
    expect(files.some((f) => f.endsWith('.tmp'))).toBe(false);
    const loaded = (await storage.load(CART))!;
    const i = loaded.byteLength - 1000;
    expect(loaded.every((b) => b === i)).toBe(true);
  });

  it('ignores a leftover temporary file of a crashed write', async () => {
    const dir = await tempDir();
    const storage = new FileStorage(dir);
    await storage.save(CART, new Uint8Array([1, 2]));
    const file = (await readdir(dir))[0]!;
    await writeFile(join(dir, `${file}.123.abc.tmp`), new Uint8Array([9, 9, 9]).subarray(0, 1));
    expect([...((await storage.load(CART)) ?? [])]).toEqual([1, 2]);
  });

  it('keeps a cart id inside its directory', async () => {
    const dir = await tempDir();
    const storage = new FileStorage(join(dir, 'carts'));
    await storage.save('../escape', new Uint8Array([1]));
    expect(await readdir(dir)).toEqual(['carts']);
    expect([...((await storage.load('../escape')) ?? [])]).toEqual([1]);
  });

  it('a missing directory loads as null and clears without error', async () => {
    const storage = new FileStorage(join(await tempDir(), 'absent'));
    expect(await storage.load(CART)).toBeNull();
    await expect(storage.clear(CART)).resolves.toBeUndefined();
  });
});
