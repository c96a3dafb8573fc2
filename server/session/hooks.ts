/**
 * Where features plug into every cart session, whatever its transport (after Hocuspocus' hooks):
 * the session calls them at fixed points of its lifecycle. `defaultHooks` is livecart's behaviour.
 */
import type { ChangeMeta } from '../../protocol/index.ts';
import { Auth, type Principal } from '../auth.ts';
import type { HostedCart } from '../cart/hosted-cart.ts';
import type { Logger } from '../../core/log.ts';
import type { ServerMetrics } from '../../core/metrics.ts';
import type { SessionEnd } from './cart-session.ts';

export interface SessionInfo {
  cartId: string;
  principal: Principal;
  transport: 'socketio' | 'yws';
}

export interface SessionHooks {
  /** May `principal` use the cart (on open, and on a token refresh)? Throws CartError when not. */
  authenticate(session: SessionInfo): void;
  /** The cart is loaded and the peer welcomed. */
  loaded(session: SessionInfo, cart: HostedCart): void;
  /** A change the session's peer sent was appended to the log. */
  changed(session: SessionInfo, meta: ChangeMeta): void;
  /** The session ended (`end.by`: the peer left, or the server ended it with `end.close`). */
  disconnected(session: SessionInfo, end: SessionEnd): void;
}

export function defaultHooks(log: Logger, metrics: ServerMetrics): SessionHooks {
  return {
    authenticate({ principal, cartId }) {
      Auth.checkGrant(principal, cartId);
    },
    loaded({ principal, cartId }, cart) {
      // The worker prices the cart for the token's segment and region.
      cart.stampClaims(principal).catch((err: unknown) => log.warn('could not stamp token claims on the cart', { cartId, err }));
    },
    changed({ transport }, meta) {
      if (meta.prev !== meta.version) metrics.changes({ origin: transport === 'yws' ? 'yws' : 'client' });
    },
    disconnected({ transport }, end) {
      if (end.by === 'server') metrics.sessionsClosed({ reason: end.close.name, transport });
    },
  };
}
