/**
 * A tiny load balancer for a local cluster (scripts/cluster.ts): HTTP proxying, WebSocket upgrade
 * pass-through, active health checks (GET /readyz), and cart affinity. Requests whose URL carries
 * `?cart=<id>` are placed on a consistent-hash ring, so every device of a cart lands on one node
 * (its relays stay local, cheaper than relaying through Redis) and a node going down moves only its
 * own carts; other requests go round-robin.
 * Not for production: deploy/nginx.conf does the same job in docker-compose.yml.
 */
import { createHash } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, Agent, createServer, request as httpRequest } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';

/** A URL's path without its query: `/yjs?token=…` carries a credential, which never goes to a log. */
export function pathOnly(url: string | undefined): string {
  const path = url ?? '';
  const q = path.indexOf('?');
  return q < 0 ? path : path.slice(0, q);
}

export interface Backend {
  /** Shown in logs ("node-1"); also the ring's seed, so a backend keeps its carts across restarts. */
  name: string;
  host: string;
  port: number;
}

export interface LoadBalancerOptions {
  backends: readonly Backend[];
  /** 0 picks a free port (tests). */
  port: number;
  host?: string;
  /** Health check period. Default 1 s: a dead node stops getting new requests within about a second. */
  healthIntervalMs?: number;
  /** A /readyz slower than this counts as a failure. Default 800 ms. Rounds never overlap: the next starts a period after the last ended. */
  healthTimeoutMs?: number;
  /** One line per health change and per proxy failure. Default: nothing. */
  log?: (line: string) => void;
}

export interface LoadBalancer {
  readonly port: number;
  readonly url: string;
  /** Names of the backends that passed their last health check. */
  healthy(): string[];
  /** The backend a request with this cart id (null: none) would go to now. */
  pick(cartId: string | null): Backend | null;
  close(): Promise<void>;
}

/** Ring points per backend: enough for an even spread over a handful of nodes. */
const VIRTUAL_NODES = 128;

function hash32(key: string): number {
  return createHash('md5').update(key).digest().readUInt32BE(0);
}

class Ring {
  private readonly points: Array<{ at: number; backend: number }> = [];

  constructor(backends: readonly Backend[]) {
    backends.forEach((b, i) => {
      for (let v = 0; v < VIRTUAL_NODES; v++) this.points.push({ at: hash32(`${b.name}#${v}`), backend: i });
    });
    this.points.sort((a, b) => a.at - b.at);
  }

  /** The first point at or after the key's hash whose backend is up (walks the ring at most once). */
  lookup(key: string, isUp: (backend: number) => boolean): number | null {
    const h = hash32(key);
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]!.at < h) lo = mid + 1;
      else hi = mid;
    }
    for (let i = 0; i < this.points.length; i++) {
      const point = this.points[(lo + i) % this.points.length]!;
      if (isUp(point.backend)) return point.backend;
    }
    return null;
  }
}

function cartOf(url: string | undefined): string | null {
  try {
    const cart = new URL(url ?? '/', 'http://lb.invalid').searchParams.get('cart');
    return cart === null || cart === '' ? null : cart;
  } catch {
    return null;
  }
}

export async function startLoadBalancer(opts: LoadBalancerOptions): Promise<LoadBalancer> {
  const { backends } = opts;
  if (backends.length === 0) throw new Error('the load balancer needs at least one backend');
  const host = opts.host ?? '127.0.0.1';
  const intervalMs = opts.healthIntervalMs ?? 1000;
  const timeoutMs = opts.healthTimeoutMs ?? 800;
  const log = opts.log ?? ((): void => undefined);
  const ring = new Ring(backends);
  // Unknown until the first check: nothing is routed to a node that has not answered yet.
  const up = backends.map(() => false);
  const agent = new Agent({ keepAlive: true });
  const tunnels = new Set<Duplex>();
  let rr = 0;
  let closed = false;

  const setUp = (i: number, ok: boolean, why: string): void => {
    if (up[i] === ok) return;
    up[i] = ok;
    log(`${backends[i]!.name} is ${ok ? 'up' : `down (${why})`}`);
  };

  const pickIndex = (cartId: string | null): number | null => {
    if (cartId !== null) return ring.lookup(cartId, (i) => up[i]!);
    for (let n = 0; n < backends.length; n++) {
      const i = rr++ % backends.length;
      if (up[i]) return i;
    }
    return null;
  };

  const check = async (i: number): Promise<void> => {
    const b = backends[i]!;
    try {
      const res = await fetch(`http://${b.host}:${b.port}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer();
      setUp(i, res.status === 200, `readyz ${res.status}`);
    } catch (err) {
      setUp(i, false, err instanceof Error ? err.message : String(err));
    }
  };

  let timer: NodeJS.Timeout | null = null;
  let round: Promise<void> = Promise.resolve();
  // Rounds run one after the other: a slow backend delays the next round, never overlaps it.
  const runRound = async (): Promise<void> => {
    await Promise.all(backends.map((_, i) => check(i)));
    if (!closed) timer = setTimeout(() => (round = runRound()), intervalMs);
  };
  round = runRound();
  await round;

  const fail = (res: ServerResponse, status: number, message: string): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end(`${message}\n`);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const i = pickIndex(cartOf(req.url));
    if (i === null) {
      fail(res, 503, 'no healthy backend');
      return;
    }
    const b = backends[i]!;
    const forwardedFor = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
    const upstream = httpRequest(
      { host: b.host, port: b.port, method: req.method, path: req.url, headers: { ...req.headers, 'x-forwarded-for': forwardedFor }, agent },
      (proxied) => {
        res.writeHead(proxied.statusCode ?? 502, proxied.rawHeaders);
        proxied.pipe(res);
        proxied.on('error', () => res.destroy());
      },
    );
    upstream.on('error', (err) => {
      log(`${b.name}: ${req.method} ${pathOnly(req.url)} failed: ${err.message}`);
      // Passive check: a refused connection takes the node out until its next good /readyz.
      if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') setUp(i, false, 'connection refused');
      fail(res, 502, 'bad gateway');
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  };

  const onUpgrade = (req: IncomingMessage, client: Duplex, head: Buffer): void => {
    const i = pickIndex(cartOf(req.url));
    if (i === null) {
      client.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const b = backends[i]!;
    const upstream: Socket = connect(b.port, b.host);
    tunnels.add(client);
    tunnels.add(upstream);
    let connected = false;
    let done = false;
    const drop = (): void => {
      if (done) return;
      done = true;
      tunnels.delete(client);
      tunnels.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    upstream.once('connect', () => {
      connected = true;
      // Replay the client's request as received (raw header names and order), then splice the sockets.
      // X-Forwarded-For gains the client's address, as on proxied requests (the nodes' per-IP limits).
      let head0 = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
      for (let h = 0; h < req.rawHeaders.length; h += 2) {
        if (req.rawHeaders[h]!.toLowerCase() !== 'x-forwarded-for') head0 += `${req.rawHeaders[h]}: ${req.rawHeaders[h + 1]}\r\n`;
      }
      head0 += `X-Forwarded-For: ${[req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ')}\r\n`;
      upstream.write(`${head0}\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', (err) => {
      if (connected || done) return drop();
      done = true;
      log(`${b.name}: upgrade ${pathOnly(req.url)} failed: ${err.message}`);
      if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') setUp(i, false, 'connection refused');
      tunnels.delete(upstream);
      client.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    });
    upstream.on('close', drop);
    client.on('error', drop);
    client.on('close', () => {
      tunnels.delete(client);
      drop();
    });
  };

  const server: Server = createServer(onRequest);
  server.on('upgrade', onUpgrade);
  // A client that disconnects mid-request must not take the process down.
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    url: `http://${host}:${port}`,
    healthy: () => backends.filter((_, i) => up[i]).map((b) => b.name),
    pick: (cartId) => {
      const i = pickIndex(cartId);
      return i === null ? null : backends[i]!;
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await round;
      if (timer) clearTimeout(timer);
      for (const s of tunnels) s.destroy();
      tunnels.clear();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      await done;
    },
  };
}
