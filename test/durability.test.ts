/**
 * Guarantee 1: acknowledged means durable. A node process is SIGKILLed right after acking a stream
 * of changes; a restarted node serves every acknowledged change.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { addLine } from '../protocol/index.ts';
import { uniquePrefix } from './helpers/node.ts';
import { type ProcessNode, startProcessNode } from './helpers/process-node.ts';
import { RawDevice } from './helpers/raw-device.ts';

const nodes: ProcessNode[] = [];
afterAll(async () => {
  for (const n of nodes) await n.kill('SIGKILL');
});

describe('durability', () => {
  it('every change acknowledged before a SIGKILL is there after a restart', async () => {
    const env = { REDIS_URL: inject('redisUrl'), LIVECART_KEY_PREFIX: uniquePrefix() };
    const first = await startProcessNode(env);
    nodes.push(first);
    const created = await (await fetch(`${first.url}/v1/carts`, { method: 'POST' })).json();
    const { cartId, token } = created as { cartId: string; token: string };
    const subject = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub as string;
    const device = await RawDevice.open(first.url, token, cartId);

    // Fire 60 changes without waiting, and kill the node the moment the 30th ack arrives.
    const acked: string[] = [];
    let killed: Promise<number | null> | null = null;
    const sends = Array.from({ length: 60 }, (_, i) => {
      const sku = `SKU-${i}`;
      return device
        .change((doc) => addLine(doc, { sku, quantity: 1 + (i % 5) }, { id: subject, role: 'customer' }))
        .then((ack) => {
          if (ack.ok && killed === null) {
            acked.push(sku);
            if (acked.length === 30) killed = first.kill('SIGKILL');
          }
        });
    });
    await Promise.race([Promise.allSettled(sends), new Promise((r) => setTimeout(r, 10_000))]);
    expect(killed, 'the node was killed after 30 acks').not.toBeNull();
    await killed;
    device.close();
    expect(acked.length).toBeGreaterThanOrEqual(30);

    const second = await startProcessNode(env);
    nodes.push(second);
    const res = await fetch(`${second.url}/v1/carts/${cartId}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    const cart = (await res.json()) as { lines: Array<{ sku: string; quantity: number }>; version: number };
    const present = new Map(cart.lines.map((l) => [l.sku, l.quantity]));
    for (const sku of acked) {
      const i = Number(sku.slice(4));
      expect(present.get(sku), `${sku} was acknowledged`).toBe(1 + (i % 5));
    }
    expect(cart.version).toBeGreaterThanOrEqual(acked.length + 1);
  });
});
