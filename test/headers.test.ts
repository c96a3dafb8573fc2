/**
 * Response headers and exposure: nothing a node answers can be sniffed or run as HTML, HSTS is
 * sent when configured (behind TLS), and /metrics can require a token.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, type AbuseConfig } from '../core/config.ts';
import { type TestNode, startNode } from './helpers/node.ts';

const nodes: TestNode[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.close();
});

async function nodeWith(abuse: Partial<AbuseConfig>): Promise<TestNode> {
  const node = await startNode({ abuse: { ...DEFAULT_CONFIG.abuse, ...abuse } });
  nodes.push(node);
  return node;
}

describe('headers', () => {
  it('finding 10: every answer says nosniff and carries a CSP that allows nothing; no HSTS by default', async () => {
    const node = await nodeWith({});
    for (const [method, path] of [
      ['GET', '/healthz'],
      ['GET', '/v1/catalog/products'],
      ['POST', '/v1/carts'],
      ['GET', '/no/such/route'],
    ] as const) {
      const res = await node.request(method, path);
      expect(res.headers.get('x-content-type-options'), path).toBe('nosniff');
      expect(res.headers.get('content-security-policy'), path).toContain("default-src 'none'");
      expect(res.headers.get('content-security-policy'), path).toContain("frame-ancestors 'none'");
      expect(res.headers.get('strict-transport-security'), path).toBeNull();
      expect(res.headers.get('x-powered-by'), path).toBeNull();
    }
  });

  it('finding 10: HSTS is sent when LIVECART_HSTS_MAX_AGE_SECONDS is set', async () => {
    const node = await nodeWith({ hstsMaxAgeSeconds: 31_536_000 });
    const res = await node.request('GET', '/healthz');
    expect(res.headers.get('strict-transport-security')).toBe('max-age=31536000');
  });

  it('finding 10: /metrics requires LIVECART_METRICS_TOKEN when it is set', async () => {
    const token = 'metrics-token-0123456789';
    const node = await nodeWith({ metricsToken: token });
    expect((await node.request('GET', '/metrics')).status).toBe(401);
    const wrong = await node.request('GET', '/metrics', { token: 'metrics-token-wrong-6789' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('E_AUTH_INVALID');
    const right = await node.request('GET', '/metrics', { token });
    expect(right.status).toBe(200);
    expect(String(right.body)).toContain('livecart_hosted_carts');
    const open = await nodeWith({});
    expect((await open.request('GET', '/metrics')).status).toBe(200);
  });
});
