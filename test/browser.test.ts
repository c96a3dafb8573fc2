/**
 * The client library in a real browser (Debian's Chromium, driven by playwright-core): the browser
 * bundle syncs a cart, keeps it in IndexedDB, opens it from IndexedDB with the server unreachable,
 * and pushes the edits made offline once the server is back.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as LiveCart from '../client/index.ts';
import { type TestNode, startNode } from './helpers/node.ts';
import { waitFor } from './helpers/wait.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let node: TestNode | undefined;
let page: Page;
let browser: Browser;
let site: Server;
let siteUrl: string;

/** The page: the bundled client library, exposed as `window.livecart`. */
async function startSite(): Promise<void> {
  const bundle = await build({
    stdin: { contents: "export * from './client/index.ts';", resolveDir: new URL('..', import.meta.url).pathname, loader: 'ts' },
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName: 'livecart',
    write: false,
    logLevel: 'silent',
  });
  const script = bundle.outputFiles[0]!.text;
  site = createServer((req, res) => {
    if (req.url === '/livecart.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>livecart</title><script src="/livecart.js"></script>');
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install it (Debian/Ubuntu: apt-get install chromium) or set CHROMIUM_PATH`);
  node = await startNode();
  await startSite();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await (await browser.newContext()).newPage();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  site?.close();
  await node?.close();
});

/** Open the cart in the page (fresh page load), run `edit`, and report what the page sees. */
function inPage(args: { url: string; token: string; cartId: string; add: string | null }): Promise<{ online: boolean; saveState: string; lines: Array<[string, number]> }> {
  return page.evaluate(async ({ url, token, cartId, add }) => {
    const { LiveCartConnection, IndexedDbStorage } = (window as unknown as { livecart: typeof LiveCart }).livecart;
    const conn = new LiveCartConnection({ url, token, storage: new IndexedDbStorage('livecart-test'), openTimeoutMs: 1500, ackTimeoutMs: 1500 });
    const cart = await conn.open(cartId);
    if (add) cart.add({ sku: add, quantity: 1 });
    if (cart.online) await cart.whenSaved();
    const result = { online: cart.online, saveState: cart.saveState, lines: cart.view.lines.map((l): [string, number] => [l.sku, l.quantity]).sort() };
    await conn.close();
    return result;
  }, args);
}

describe('client library in Chromium', () => {
  it('syncs, keeps the cart in IndexedDB, opens it offline, and pushes offline edits when back online', async () => {
    const { cartId, token } = await node!.createCart();
    await page.goto(siteUrl);

    const first = await inPage({ url: node!.url, token, cartId, add: 'SHOE-RUN-01' });
    expect(first).toEqual({ online: true, saveState: 'saved', lines: [['SHOE-RUN-01', 1]] });

    // The server is unreachable now: the cart opens from IndexedDB and takes an offline edit.
    await page.reload();
    const offline = await inPage({ url: 'http://127.0.0.1:9', token, cartId, add: 'BELT-LTH-01' });
    expect(offline).toEqual({ online: false, saveState: 'unsaved', lines: [['BELT-LTH-01', 1], ['SHOE-RUN-01', 1]] });
    const server = await node!.request('GET', `/v1/carts/${cartId}`, { token });
    expect(server.body.lines.map((l: { sku: string }) => l.sku)).toEqual(['SHOE-RUN-01']);

    // Back online after another reload: the edit kept in IndexedDB reaches the server.
    await page.reload();
    const back = await inPage({ url: node!.url, token, cartId, add: null });
    expect(back).toEqual({ online: true, saveState: 'saved', lines: [['BELT-LTH-01', 1], ['SHOE-RUN-01', 1]] });
    await waitFor(async () => {
      const res = await node!.request('GET', `/v1/carts/${cartId}`, { token });
      expect(res.body.lines.map((l: { sku: string }) => l.sku).sort()).toEqual(['BELT-LTH-01', 'SHOE-RUN-01']);
    });
  }, 60_000);
});
