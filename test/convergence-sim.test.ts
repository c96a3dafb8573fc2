/**
 * Seeded randomized convergence on the document level: 6 devices make random cart operations,
 * their messages reach the server (validation + ordered log) in order per device, and the other
 * devices in random order (Yjs holds back what arrives early),
 * devices go offline and come back with a sync step 1/2 exchange. At the end every replica equals
 * the server. Honest devices (the cart ops) must never be rejected.
 */
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import {
  type Actor,
  DEFAULT_LIMITS,
  addLine,
  applyCoupon,
  readCart,
  removeCoupon,
  removeLine,
  setNote,
  setQuantity,
  validateUpdate,
  writeCartFacts,
} from '../protocol/index.ts';
import { int, pick, prng } from './helpers/prng.ts';

const SKUS = ['SHOE', 'BELT', 'SOCK', 'CAP', 'BAG'];
const COUPONS = ['SPRING10', 'VIP'];

interface Device {
  doc: Y.Doc;
  actor: Actor;
  online: boolean;
  /** Updates sent to the server, not yet delivered. */
  outbox: Uint8Array[];
  /** Server log entries not yet delivered to this device. */
  inbox: Uint8Array[];
}

function runSeed(seed: number, steps: number): void {
  const rand = prng(seed);
  const server = new Y.Doc();
  writeCartFacts(server, { status: 'open', currency: 'USD' });
  const actor: Actor = { id: 'ana', role: 'customer' };
  const devices: Device[] = Array.from({ length: 6 }, (_, i) => {
    const doc = new Y.Doc();
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(server));
    const device: Device = { doc, actor: i === 5 ? { id: 'lee', role: 'associate' } : actor, online: true, outbox: [], inbox: [] };
    doc.on('update', (u: Uint8Array, origin: unknown) => {
      if (origin !== 'remote' && device.online) device.outbox.push(u);
    });
    return device;
  });

  const accept = (update: Uint8Array, from: Device | null): void => {
    validateUpdate(server, update, { limits: DEFAULT_LIMITS, actor: from?.actor ?? actor, maxBytes: DEFAULT_LIMITS.maxSyncBytes });
    Y.applyUpdate(server, update, 'remote');
    for (const d of devices) if (d !== from && d.online) d.inbox.push(update);
  };

  const reconnect = (d: Device): void => {
    d.online = true;
    d.outbox = [];
    d.inbox = [];
    Y.applyUpdate(d.doc, Y.encodeStateAsUpdate(server, Y.encodeStateVector(d.doc)), 'remote');
    const up = Y.encodeStateAsUpdate(d.doc, Y.encodeStateVector(server));
    accept(up, d);
  };

  for (let step = 0; step < steps; step++) {
    const d = pick(rand, devices);
    const r = rand();
    if (r < 0.35) {
      const sku = pick(rand, SKUS);
      const op = rand();
      if (op < 0.45) addLine(d.doc, { sku, quantity: int(rand, 1, 5) }, d.actor);
      else if (op < 0.65) setQuantity(d.doc, sku, int(rand, 0, 9));
      else if (op < 0.8) removeLine(d.doc, sku);
      else if (op < 0.9) setNote(d.doc, sku, `note ${int(rand, 0, 99)}`);
      else if (op < 0.95) applyCoupon(d.doc, pick(rand, COUPONS));
      else removeCoupon(d.doc, pick(rand, COUPONS));
    } else if (r < 0.6) {
      // One connection delivers a device's own messages in order (Socket.IO is FIFO per socket).
      if (d.online && d.outbox.length > 0) accept(d.outbox.shift()!, d);
    } else if (r < 0.85) {
      if (d.online && d.inbox.length > 0) Y.applyUpdate(d.doc, d.inbox.splice(int(rand, 0, d.inbox.length - 1), 1)[0]!, 'remote');
    } else if (r < 0.93) {
      if (d.online) {
        d.online = false;
        d.outbox = [];
        d.inbox = [];
      } else {
        reconnect(d);
      }
    } else if (r < 0.96) {
      // A server-side change (REST or worker) goes through the log like any other.
      const scratch = new Y.Doc();
      Y.applyUpdate(scratch, Y.encodeStateAsUpdate(server));
      const before = Y.encodeStateVector(scratch);
      writeCartFacts(scratch, { currency: pick(rand, ['USD', 'EUR']) });
      const u = Y.encodeStateAsUpdate(scratch, before);
      Y.applyUpdate(server, u, 'remote');
      for (const x of devices) if (x.online) x.inbox.push(u);
    }
  }
  for (const d of devices) reconnect(d);
  for (const d of devices) Y.applyUpdate(d.doc, Y.encodeStateAsUpdate(server, Y.encodeStateVector(d.doc)), 'remote');

  const expected = readCart(server);
  const sv = Y.encodeStateVector(server);
  devices.forEach((d, i) => {
    expect(readCart(d.doc), `seed ${seed} device ${i}`).toEqual(expected);
    expect(Y.encodeStateVector(d.doc), `seed ${seed} device ${i} state vector`).toEqual(sv);
  });
}

describe('randomized convergence (documents)', () => {
  it('every replica equals the server after random ops, delivery order and disconnects (300 seeds)', () => {
    for (let seed = 1; seed <= 300; seed++) runSeed(seed, 250);
  });
});
