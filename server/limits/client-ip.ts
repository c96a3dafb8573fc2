/**
 * The client's IP as the limits see it: the TCP peer, or with `trustProxyHops` proxies in front,
 * the address the outermost trusted proxy saw (the same rule as express `trust proxy` = hops, so
 * REST and WebSocket upgrades agree). Entries a client wrote into `X-Forwarded-For` itself sit to
 * the left of what the trusted proxies appended, and are never used.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** `peer`: the TCP peer's address; `headers`: the request's (only X-Forwarded-For is read). */
export function clientIp(peer: string | undefined, headers: IncomingHttpHeaders, trustProxyHops: number): string {
  if (peer === undefined) return 'unknown';
  if (trustProxyHops === 0) return peer;
  const header = headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  // Nearest first: the peer, then what each proxy appended, right to left.
  const chain = [peer, ...forwarded.reverse()];
  return chain[Math.min(trustProxyHops, chain.length - 1)]!;
}
