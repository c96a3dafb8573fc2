/**
 * Reading a `/yjs/:cartId?token=...` upgrade request, and refusing one with an HTTP answer (a
 * stock Yjs client shows the status; the JSON body names the error code).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERRORS, type ErrorCode, isCartId } from '../../protocol/index.ts';

const PATH = /^\/yjs\/([^/?]+)$/;

/** The cart and token an upgrade asks for; `refused` when its path is ours but unusable; null: not ours. */
export function readUpgrade(req: IncomingMessage): { cartId: string; token: string | null } | { refused: ErrorCode } | null {
  let url: URL;
  let cartId: string;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
    const match = PATH.exec(url.pathname);
    if (!match) return null;
    cartId = decodeURIComponent(match[1] ?? '');
  } catch {
    // A malformed URL (bad percent-encoding) must never throw out of the upgrade listener.
    return (req.url ?? '').startsWith('/yjs/') ? { refused: 'E_CART_ID_INVALID' } : null;
  }
  if (!isCartId(cartId)) return { refused: 'E_CART_ID_INVALID' };
  return { cartId, token: url.searchParams.get('token') };
}

export function refuse(socket: Duplex, status: number, code: ErrorCode): void {
  const body = JSON.stringify({ error: { code, message: ERRORS[code].message } });
  socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
