/**
 * Relays of a cart's changes and presence to this node's /yjs connections. Each frame is encoded
 * once per cart and the same bytes are sent to every connection; the Socket.IO adapter does not
 * reach these connections, so the count of them is the cart's `followers` (the registry catches a
 * followed cart up at once when another node announces a change).
 */
import { encodeAwarenessUpdate } from 'y-protocols/awareness';
import { encodeWsAwareness, encodeWsSync, writeSyncUpdate } from '../../protocol/index.ts';
import type { HostedCart } from '../cart/hosted-cart.ts';
import type { CartSession } from '../session/cart-session.ts';

type Send = (frame: Uint8Array) => void;

interface Followed {
  sessions: Map<CartSession, Send>;
  stop: () => void;
}

export class YwsFanout {
  private readonly carts = new Map<HostedCart, Followed>();

  /** Relay `cart`'s changes to `session` (through `send`) until the session ends. */
  follow(cart: HostedCart, session: CartSession, send: Send): void {
    let followed = this.carts.get(cart);
    if (!followed) {
      followed = this.subscribe(cart);
      this.carts.set(cart, followed);
    }
    followed.sessions.set(session, send);
    cart.followers = followed.sessions.size;
    session.whenEnded(() => this.unfollow(cart, session));
  }

  private unfollow(cart: HostedCart, session: CartSession): void {
    const followed = this.carts.get(cart);
    if (!followed) return;
    followed.sessions.delete(session);
    cart.followers = followed.sessions.size;
    if (followed.sessions.size > 0) return;
    followed.stop();
    this.carts.delete(cart);
  }

  private subscribe(cart: HostedCart): Followed {
    const sessions = new Map<CartSession, Send>();
    const relay = (frame: Uint8Array, skip: (session: CartSession) => boolean): void => {
      // A copy of the list: a slow consumer closed on the way leaves the map.
      for (const [session, send] of [...sessions]) if (!skip(session)) session.deliver(() => send(frame));
    };
    const stopChanges = cart.onChange((update, _meta, origin) => {
      const frame = encodeWsSync(writeSyncUpdate(update));
      relay(frame, (s) => origin.kind === 'yws' && s.peer.origin.kind === 'yws' && s.peer.origin.connectionId === origin.connectionId);
    });
    const onAwareness = ({ added, updated, removed }: Record<'added' | 'updated' | 'removed', number[]>, origin: unknown): void => {
      const changed = [...added, ...updated, ...removed];
      if (changed.length === 0 || cart.destroyed) return;
      const frame = encodeWsAwareness(encodeAwarenessUpdate(cart.awareness, changed));
      relay(frame, (s) => s.peer.connectionId === origin);
    };
    cart.awareness.on('update', onAwareness);
    return {
      sessions,
      stop: () => {
        stopChanges();
        cart.awareness.off('update', onAwareness);
      },
    };
  }
}
