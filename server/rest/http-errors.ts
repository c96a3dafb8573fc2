/** REST error handling: every failure answers `{ error: { code, message, retryable, detail? } }`. */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { CartError } from '../../protocol/index.ts';
import type { Logger } from '../../core/log.ts';
import type { ServerMetrics } from '../../core/metrics.ts';

export function sendError(res: Parameters<RequestHandler>[1], err: CartError): void {
  // A limit's refusal says when to come back (server/limits/rate-limits.ts RetryLaterError).
  const wait = (err as { retryAfterSeconds?: unknown }).retryAfterSeconds;
  if (typeof wait === 'number') res.set('retry-after', String(wait));
  res.status(err.httpStatus).json({ error: err.toWire() });
}

export const notFound: RequestHandler = (_req, res) => sendError(res, new CartError('E_NOT_FOUND'));

const isZlibError = (err: unknown): boolean => typeof (err as { code?: unknown } | null)?.code === 'string' && (err as { code: string }).code.startsWith('Z_');

/** body-parser marks what the client got wrong as a 4xx with `expose`. */
function isClientBodyError(err: unknown): boolean {
  const e = err as { status?: unknown; expose?: unknown } | null;
  return isZlibError(err) || (typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && e.expose === true);
}

/** Maps thrown errors (CartError, body-parser failures, anything else) to the typed JSON form. */
export function errorHandler(log: Logger, metrics: ServerMetrics): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    let cartError: CartError;
    const type = (err as { type?: unknown } | null)?.type;
    if (err instanceof CartError) cartError = err;
    else if (type === 'entity.parse.failed') cartError = new CartError('E_BODY_MALFORMED');
    else if (type === 'entity.too.large') cartError = new CartError('E_BODY_TOO_LARGE');
    else if (type === 'encoding.unsupported' || type === 'charset.unsupported') cartError = new CartError('E_BODY_MALFORMED', 'unsupported encoding');
    // The body could not be read as declared (a gzip Content-Encoding on a plain body, a client
    // that stopped sending): the request is bad, nothing failed here, nothing worth logging.
    else if (isClientBodyError(err)) cartError = new CartError('E_BODY_MALFORMED', isZlibError(err) ? 'the body does not match its Content-Encoding' : 'the body could not be read');
    // The router could not percent-decode a path parameter: the client's URL is bad, not the server.
    else if (err instanceof URIError) cartError = new CartError('E_MESSAGE_MALFORMED', 'malformed percent-encoding in the URL path');
    else {
      log.error('unhandled REST error', { err });
      cartError = new CartError('E_INTERNAL');
    }
    metrics.rejected({ code: cartError.code, transport: 'rest' });
    if (res.headersSent) return;
    sendError(res, cartError);
  };
}
