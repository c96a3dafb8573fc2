/**
 * A shop's own pricing and inventory services as real HTTP servers on 127.0.0.1:0, speaking the
 * provider HTTP API (protocol/SPEC.md §13). Each can be made to answer, fail with a status, hang
 * past the client's timeout, or stop listening; every request it receives is recorded.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ServiceMode = { kind: 'ok' } | { kind: 'status'; status: number } | { kind: 'slow'; delayMs: number };

export class ServiceServer {
  mode: ServiceMode = { kind: 'ok' };
  /** Parsed JSON bodies of every request received, oldest first. */
  readonly requests: unknown[] = [];
  url = '';
  private server: Server | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly answer: (body: unknown) => unknown) {}

  async start(): Promise<this> {
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    return this;
  }

  /** Stop listening and drop open connections (clients then get ECONNREFUSED). */
  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const server = this.server;
    this.server = null;
    if (server === null) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: unknown = null;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = null;
      }
      this.requests.push(body);
      const mode = this.mode;
      const send = (status: number, payload: unknown): void => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
      };
      if (mode.kind === 'status') send(mode.status, { error: 'failing on purpose' });
      else if (mode.kind === 'slow') {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          send(200, this.answer(body));
        }, mode.delayMs);
        this.timers.add(timer);
      } else send(200, this.answer(body));
    });
  }
}

export interface PricedProduct {
  name: string;
  category: string;
  prices: Record<string, number>;
}

/** A pricing service answering from `products`. */
export function pricingService(products: Map<string, PricedProduct>): ServiceServer {
  return new ServiceServer((body) => {
    const skus = (body as { skus?: string[] } | null)?.skus ?? [];
    return { products: skus.flatMap((sku) => (products.has(sku) ? [{ sku, ...products.get(sku)! }] : [])) };
  });
}

/** An inventory service answering from `stock`. */
export function inventoryService(stock: Map<string, number>): ServiceServer {
  return new ServiceServer((body) => {
    const skus = (body as { skus?: string[] } | null)?.skus ?? [];
    return { stock: Object.fromEntries(skus.flatMap((sku) => (stock.has(sku) ? [[sku, stock.get(sku)!]] : []))) };
  });
}
