/**
 * What reaches a log line: errors keep their stack and cause, credentials never appear (the
 * logger's redaction, and the load balancer's lines about `/yjs?token=…` URLs).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { createLogger } from '../core/log.ts';
import { startLoadBalancer } from '../scripts/lb.ts';
import { waitFor } from './helpers/wait.ts';

const SECRET = 'eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl';

function collector(): { lines: string[]; write(line: string): void } {
  const lines: string[] = [];
  return { lines, write: (line: string) => void lines.push(line) };
}

describe('logger', () => {
  it('hole 7: an error keeps its stack and cause; tokens and authorization headers are redacted', () => {
    const out = collector();
    const log = createLogger('info', { role: 'test' }, out);
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:1');
    const err = new Error('append failed', { cause });
    log.error('write failed', { err, token: SECRET, headers: { authorization: `Bearer ${SECRET}` }, url: `/yjs?cart=c1&token=${SECRET}` });
    log.debug('not shown');
    expect(out.lines).toHaveLength(1);
    const line = JSON.parse(out.lines[0]!) as Record<string, any>;
    expect(line.level).toBe('error');
    expect(line.msg).toBe('write failed');
    expect(line.role).toBe('test');
    expect(line.err.stack).toContain('append failed');
    expect(line.err.stack).toMatch(/ops-logging\.test\.ts/);
    expect(JSON.stringify(line.err)).toContain('ECONNREFUSED');
    expect(line.url).toBe('/yjs?cart=c1&token=[Redacted]');
    expect(out.lines[0]).not.toContain(SECRET);
  });
});

describe('load balancer logs', () => {
  it('hole 7: a failed /yjs upgrade or request is logged without its token', async () => {
    for (const kind of ['upgrade', 'request'] as const) {
      const backend = createServer((_req, res) => res.writeHead(200).end('{}'));
      await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', () => resolve()));
      const port = (backend.address() as AddressInfo).port;
      const lines: string[] = [];
      const lb = await startLoadBalancer({ port: 0, healthIntervalMs: 60_000, backends: [{ name: 'n1', host: '127.0.0.1', port }], log: (l) => void lines.push(l) });
      await new Promise<void>((resolve) => backend.close(() => resolve()));
      if (kind === 'upgrade') {
        const ws = new WebSocket(`${lb.url.replace('http', 'ws')}/yjs?cart=c1&token=${SECRET}`);
        await new Promise<void>((resolve) => {
          ws.once('error', () => resolve());
          ws.once('close', () => resolve());
        });
      } else {
        const res = await fetch(`${lb.url}/v1/carts/c1?token=${SECRET}`);
        expect(res.status).toBe(502);
      }
      await waitFor(() => expect(lines.some((l) => l.includes('failed'))).toBe(true));
      await lb.close();
      expect(lines.join('\n')).toContain(kind === 'upgrade' ? 'upgrade /yjs failed' : 'GET /v1/carts/c1 failed');
      expect(lines.join('\n')).not.toContain(SECRET);
    }
  });
});
