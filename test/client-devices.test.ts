import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { CartError, LiveCartConnection, MemoryStorage, type CartHandle } from '../client/index.ts';
import { FileStorage } from '../client/file-storage.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { waitFor } from './helpers/wait.ts';

let node: TestNode;
const conns: LiveCartConnection[] = [];
beforeAll(async () => {
  node = await startNode();
});
afterAll(async () => {
  await Promise.all(conns.map((c) => c.close()));
  await node.close();
});
function connect(token: string, extra: Partial<ConstructorParameters<typeof LiveCartConnection>[0]> = {}): LiveCartConnection {
  const c = new LiveCartConnection({ url: node.url, token, retryMinMs: 50, retryMaxMs: 300, ackTimeoutMs: 2000, ...extra });
  conns.push(c);
  return c;
}
const sock = (c: LiveCartConnection) => (c as unknown as { socket: { disconnect(): void; connect(): void } }).socket;
const qty = (h: CartHandle) => h.view.lines.map((l) => [l.lineId, l.quantity]);

describe('client library against a real node', () => {
  it('two devices sync live both ways; acks turn saving into saved; presence comes and goes', async () => {
    const { cartId, token } = await node.createCart();
    const a = await connect(token, { device: 'phone' }).open(cartId);
    const b = await connect(token, { device: 'laptop' }).open(cartId);
    expect(a.online).toBe(true);
    const statuses: string[] = [];
    a.on('status', (s) => statuses.push(s.saveState));
    a.add({ sku: 'SHOE-1', quantity: 2, note: 'size 40' });
    expect(a.saveState).toBe('saving');
    await a.whenSaved();
    expect(a.saveState).toBe('saved');
    expect(statuses).toEqual(['saving', 'saved']);
    await waitFor(() => expect(qty(b)).toEqual([['SHOE-1', 2]]));
    b.setQuantity('SHOE-1', 5);
    await b.whenSaved();
    await waitFor(() => expect(qty(a)).toEqual([['SHOE-1', 5]]));
    expect(a.version).toBe(b.version);
    expect(a.version).toBeGreaterThan(0);
    a.setViewing('SHOE-1');
    await waitFor(() => expect(b.presence.map((p) => [p.device, p.viewing])).toEqual([['phone', 'SHOE-1']]));
    expect(b.presence[0]!.role).toBe('customer');
    await a.close();
    await waitFor(() => expect(b.presence).toEqual([]));
    await b.close();
  });

  it('the library refuses invalid edits synchronously instead of producing updates the server rejects', async () => {
    const { cartId, token } = await node.createCart();
    const a = await connect(token).open(cartId);
    expect(() => a.add({ sku: 'bad sku', quantity: 1 })).toThrow(CartError);
    expect(() => a.add({ sku: 'A1', quantity: 100 })).toThrow(/quantity/);
    expect(() => a.setQuantity('nope', 2)).toThrow(/No such line/);
    expect(() => a.setAttribute('giftWrap', 'x'.repeat(300))).toThrow(CartError);
    a.applyCoupon('save10');
    a.setAttribute('giftWrap', 'yes');
    await a.whenSaved();
    expect(a.view.coupons).toEqual(['SAVE10']);
    await a.close();
  });

  it('offline edits are kept locally (file storage), survive a restart of the client, and flow up on reconnect', async () => {
    const { cartId, token } = await node.createCart();
    const dir = await mkdtemp(join(tmpdir(), 'lc-e2e-'));
    const storage = new FileStorage(dir);
    const ca = connect(token, { storage });
    const a = await ca.open(cartId);
    const b = await connect(token).open(cartId);
    a.add({ sku: 'A1', quantity: 1 });
    await a.whenSaved();
    sock(ca).disconnect();
    await waitFor(() => expect(a.online).toBe(false));
    a.add({ sku: 'B2', quantity: 3 });
    b.add({ sku: 'C3', quantity: 1 });
    await b.whenSaved();
    expect(a.saveState).toBe('unsaved');
    sock(ca).connect();
    await a.whenSaved();
    await a.whenSynced();
    await waitFor(() => expect(qty(b).sort()).toEqual([['A1', 1], ['B2', 3], ['C3', 1]]));
    await waitFor(() => expect(qty(a).sort()).toEqual([['A1', 1], ['B2', 3], ['C3', 1]]));
    // Restart from the file: offline open against an unreachable server resolves with local state.
    await ca.close();
    const dead = new LiveCartConnection({ url: 'http://127.0.0.1:1', token, storage, ackTimeoutMs: 1000 });
    conns.push(dead);
    const offline = await dead.open(cartId);
    expect(offline.online).toBe(false);
    expect(qty(offline).sort()).toEqual([['A1', 1], ['B2', 3], ['C3', 1]]);
    offline.add({ sku: 'D4', quantity: 1 });
    expect(offline.saveState).toBe('unsaved');
    await dead.close();
    // Back online with the stored offline edit: it reaches the server under a new client id.
    const back = await connect(token, { storage }).open(cartId);
    await back.whenSaved();
    await waitFor(() => expect(qty(b).sort()).toEqual([['A1', 1], ['B2', 3], ['C3', 1], ['D4', 1]]));
    await back.close();
    await b.close();
  });

  it('a rejected update drops local state and reloads the server state', async () => {
    const { cartId, token } = await node.createCart();
    const storage = new MemoryStorage();
    const a = await connect(token, { storage }).open(cartId);
    a.add({ sku: 'A1', quantity: 1 });
    await a.whenSaved();
    const rejected: string[] = [];
    a.on('rejected', (e) => rejected.push(e.code));
    const oldDoc = a.doc;
    a.doc.getMap('cart').set('status', 'ordered'); // a fact: forbidden to clients
    const saved = a.whenSaved();
    await expect(saved).rejects.toThrow(CartError);
    expect(rejected).toEqual(['E_UPDATE_FORBIDDEN_FIELD']);
    expect(a.doc).not.toBe(oldDoc);
    await a.whenSynced();
    await waitFor(() => expect(qty(a)).toEqual([['A1', 1]]));
    expect(a.view.status).toBe('open');
    a.add({ sku: 'B2', quantity: 1 });
    await a.whenSaved();
    await a.close();
  });

  it('a bad token rejects open; a token without the cart is forbidden', async () => {
    const { cartId } = await node.createCart();
    const bad = connect('x.eyJzdWIiOiJ1MSIsInJvbGUiOiJjdXN0b21lciJ9.y');
    await expect(bad.open(cartId)).rejects.toMatchObject({ code: 'E_AUTH_INVALID' });
    const other = await node.createCart();
    const c = connect(other.token);
    await expect(c.open(cartId)).rejects.toMatchObject({ code: 'E_AUTH_FORBIDDEN' });
  });

  it('a restored device never reuses its old Yjs client id', async () => {
    const { cartId, token } = await node.createCart();
    const storage = new MemoryStorage();
    const c1 = connect(token, { storage });
    const a = await c1.open(cartId);
    const id1 = a.doc.clientID;
    a.add({ sku: 'A1', quantity: 1 });
    await a.close();
    const a2 = await connect(token, { storage }).open(cartId);
    expect(a2.doc.clientID).not.toBe(id1);
    a2.add({ sku: 'A1', quantity: 2 });
    await a2.whenSaved();
    expect(qty(a2)).toEqual([['A1', 3]]);
    const state = Y.encodeStateVector(a2.doc);
    expect(state.byteLength).toBeGreaterThan(0);
    await a2.close();
  });
});
