/**
 * GET /metrics behind an optional bearer token (LIVECART_METRICS_TOKEN): the series name carts,
 * queues and error rates, which an outsider should not read when the port is public.
 */
import { timingSafeEqual } from 'node:crypto';

/** Whether a request with this Authorization header may read the metrics (always, without a token). */
export function metricsAuthorized(token: string | null, header: string | undefined): boolean {
  if (token === null) return true;
  const given = Buffer.from(/^Bearer\s+(\S+)$/i.exec(header ?? '')?.[1] ?? '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}
