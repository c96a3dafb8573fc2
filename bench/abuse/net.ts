/**
 * Loopback plumbing of the abuse run: HTTP requests from a chosen source address in 127.0.0.0/8
 * (Linux routes the whole block to lo), so each attacker and each honest device is its own "IP"
 * for the server's per-IP limits; and a tally of what each attack got back.
 */
import { Agent, request } from 'node:http';

/** 127.0.0.2… for honest devices, 127.0.1.x for attackers (one address per attack unless said). */
export const honestAddress = (i: number): string => `127.0.0.${2 + (i % 250)}`;
export const attackerAddress = (attack: number, k = 0): string => `127.0.${1 + attack}.${1 + (k % 250)}`;
/** 127.0.50.1… for the soak's devices: distinct for 50,000 of them. */
export const shopperAddress = (i: number): string => `127.0.${50 + (Math.floor(i / 250) % 200)}.${1 + (i % 250)}`;

const agents = new Map<string, Agent>();
function agentFor(localAddress: string): Agent {
  let a = agents.get(localAddress);
  if (!a) {
    a = new Agent({ keepAlive: true, maxSockets: 32, localAddress } as ConstructorParameters<typeof Agent>[0]);
    agents.set(localAddress, a);
  }
  return a;
}

export function closeAgents(): void {
  for (const a of agents.values()) a.destroy();
  agents.clear();
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  from: string;
  timeoutMs?: number;
}

/** One request from `from`; rejects on a network error or after `timeoutMs` (default 10 s). */
export function http(url: string, o: HttpOptions): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: o.method ?? 'GET', headers: { ...o.headers, ...(o.body !== undefined ? { 'content-length': String(Buffer.byteLength(o.body)) } : {}) }, agent: agentFor(o.from), timeout: o.timeoutMs ?? 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown = null;
        try {
          json = text ? JSON.parse(text) : null;
        } catch {
          // Not JSON.
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}

/** "429 E_RATE_LIMITED", "201", "error ECONNRESET": what a response (or failure) was. */
export function outcome(r: HttpResult | Error): string {
  if (r instanceof Error) return `error ${(r as NodeJS.ErrnoException).code ?? r.message.slice(0, 40)}`;
  const code = (r.json as { error?: { code?: string } } | null)?.error?.code;
  return code ? `${r.status} ${code}` : String(r.status);
}

/** Counts of outcomes, by label. */
export class Tally {
  readonly counts: Record<string, number> = {};
  add(label: string, n = 1): void {
    this.counts[label] = (this.counts[label] ?? 0) + n;
  }
  get total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }
  toString(): string {
    return Object.entries(this.counts)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ');
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Run `fn` until `deadline` (Date.now() ms) or `count` calls, `concurrency` at a time. */
export async function flood(count: number, concurrency: number, deadline: number, fn: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, count) }, async () => {
    for (;;) {
      if (Date.now() >= deadline) return;
      const i = next++;
      if (i >= count) return;
      await fn(i);
    }
  });
  await Promise.all(workers);
  return Math.min(next, count);
}
