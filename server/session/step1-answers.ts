/**
 * Answers to sync step 1, cached per cart version. A device's first step 1 carries an empty state
 * vector, and many devices send the same one: encoding a large cart for each of them (or for a
 * client that repeats it in a loop) is the most expensive thing a stranger can ask a node for. An
 * answer depends only on the document and the state vector, and the document changes only with the
 * version, so the same question at the same version is answered from the cache.
 */
import * as Y from 'yjs';
import { writeSyncStep2 } from '../../protocol/index.ts';
import type { HostedCart } from '../cart/hosted-cart.ts';

/** Distinct state vectors cached per cart (the empty one, and a few devices' current ones). */
const MAX_ENTRIES = 4;
/** State vectors longer than this (many writers) are answered without caching. */
const MAX_KEY_BYTES = 2048;

interface CartAnswers {
  version: number;
  frames: Map<string, Uint8Array>;
}

export class Step1Answers {
  private readonly byCart = new WeakMap<HostedCart, CartAnswers>();

  /** `encoded` counts answers computed from the document (cache misses). */
  constructor(private readonly encoded: () => void) {}

  /** The sync step 2 frame answering `stateVector` on `cart` as it is now. */
  answer(cart: HostedCart, stateVector: Uint8Array): Uint8Array {
    let cached = this.byCart.get(cart);
    if (!cached || cached.version !== cart.version) {
      cached = { version: cart.version, frames: new Map() };
      this.byCart.set(cart, cached);
    }
    const key = stateVector.byteLength <= MAX_KEY_BYTES ? Buffer.from(stateVector).toString('latin1') : null;
    const hit = key === null ? undefined : cached.frames.get(key);
    if (hit) return hit;
    this.encoded();
    const frame = writeSyncStep2(Y.encodeStateAsUpdate(cart.doc, stateVector));
    if (key !== null) {
      if (cached.frames.size >= MAX_ENTRIES) cached.frames.delete(cached.frames.keys().next().value as string);
      cached.frames.set(key, frame);
    }
    return frame;
  }
}
