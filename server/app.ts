/**
 * One livecart server node: express (REST, health, metrics) + Socket.IO + the /yjs endpoint on one
 * HTTP server. Infrastructure (the Redis connection) is injected; nothing here connects on its own.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import helmet from 'helmet';
import { Server } from 'socket.io';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { type ActivityEntry, CLOSE, CartError } from '../protocol/index.ts';
import { ActivityFeed } from './activity.ts';
import { Auth, type Principal } from './auth.ts';
import { CartRegistry } from './cart/registry.ts';
import { NodeHeartbeat } from './cluster/heartbeat.ts';
import { CatalogStore } from '../core/catalog/catalog-store.ts';
import type { CatalogChangeSink } from '../core/catalog/change-sink.ts';
import { RulesStore } from '../core/catalog/rules-store.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../core/log.ts';
import { Metrics, createServerMetrics } from '../core/metrics.ts';
import { dropNodePresence, presenceNodes } from './presence.ts';
import { Queues } from '../core/queues.ts';
import { fanoutSink } from './revalidation/fanout-sink.ts';
import { publishCartChanged, subscribeCartChanged } from '../core/revalidation/notify.ts';
import { RevalidationRequester } from './revalidation/requester.ts';
import { Keys } from '../core/keys.ts';
import { CartStore } from '../core/redis/cart-store.ts';
import { type RedisClient, duplicateRedis } from '../core/redis/connect.ts';
import { adminGuard, adminRoutes } from './rest/admin.ts';
import { adminCatalogRoutes } from './rest/admin-catalog.ts';
import { ROUTES, allRoutes } from './rest/api.ts';
import { cartRoutes } from './rest/carts.ts';
import { signInRoutes } from './rest/signin.ts';
import { shareRoutes } from './rest/shares.ts';
import { Shares } from './shares/shares.ts';
import { ShareStore } from '../core/redis/share-store.ts';
import { IdpVerifier } from './idp.ts';
import { type Revocation, Revocations, covers } from './revocations.ts';
import { SignIn } from './signin/sign-in.ts';
import { CartStatusStore } from '../core/redis/cart-status-store.ts';
import { CustomerCarts } from '../core/redis/customer-carts.ts';
import { catalogRoutes } from './rest/catalog.ts';
import { errorHandler, notFound, sendError } from './rest/http-errors.ts';
import { Idempotency } from './rest/idempotency.ts';
import { openApiDocument } from './rest/openapi.ts';
import { type CartServer, attachSocketTransport, roomOf } from './transport/socketio.ts';
import { createYwsEndpoint } from './transport/yws.ts';
import { clientIp } from './limits/client-ip.ts';
import { ConnectionCaps } from './limits/connection-caps.ts';
import { metricsAuthorized } from './limits/metrics-token.ts';
import { RateLimits } from './limits/rate-limits.ts';
import type { SessionContext } from './session/cart-session.ts';
import { defaultHooks } from './session/hooks.ts';
import { Step1Answers } from './session/step1-answers.ts';

export interface CartServerOptions {
  config: Config;
  /**
   * The Redis connection for cart logs, catalog and queues (not closed by close()): one Redis or a
   * Redis Cluster (core/redis/connect.ts); the node's subscribers are duplicated from it.
   */
  redis: RedisClient;
  /** Secret for HS256 tokens (config.jwtSecret, or the dev secret bin/livecart.ts generated). */
  jwtSecret: string;
  log: Logger;
  /** Shared with the workers when they run in the same process (one /metrics for both). */
  metrics?: Metrics;
  /** Told about every catalog and pricing-rule change the admin API stores (default: nobody). */
  catalogSink?: CatalogChangeSink;
}

export interface CartServerNode {
  /** Identifies this node to the others (presence relayed from here, its liveness key). */
  nodeId: string;
  http: HttpServer;
  /** The express app behind `http` (REST); its routes are the OpenAPI document's (test/openapi.test.ts). */
  app: express.Express;
  io: CartServer;
  auth: Auth;
  registry: CartRegistry;
  store: CartStore;
  catalog: CatalogStore;
  rules: RulesStore;
  metrics: Metrics;
  serverMetrics: ReturnType<typeof createServerMetrics>;
  /** Revalidations this node asked for; close() waits until they reached the queue. */
  revalidation: RevalidationRequester;
  /** Start listening; resolves with the bound port. */
  listen(): Promise<number>;
  /**
   * Graceful stop: refuse new work (E_SHUTTING_DOWN, /readyz 503), let changes already received
   * be appended and answered (at most config.shutdownGraceMs), then tell devices to reconnect
   * elsewhere and close every connection.
   */
  close(): Promise<void>;
}

/**
 * The adapter sends commands it never awaits (`publish` fire and forget). Commands still waiting
 * for Redis when the node closes its connections (an outage, then a shutdown) reject with
 * "Connection is closed" where nobody listens: they are logged here instead of left unhandled.
 */
function handleEveryCommand(client: RedisClient, log: Logger): void {
  const send = client.sendCommand.bind(client) as (...args: unknown[]) => Promise<unknown>;
  (client as unknown as { sendCommand: (...args: unknown[]) => Promise<unknown> }).sendCommand = (...args) => {
    const sent = send(...args);
    if (sent instanceof Promise) sent.catch((err: unknown) => log.debug('socket adapter command failed', { err: err instanceof Error ? err : String(err) }));
    return sent;
  };
}

export function createCartServer(opts: CartServerOptions): CartServerNode {
  const { config, redis, log } = opts;
  const nodeId = randomUUID();
  const clustered = config.socketAdapter !== 'local';
  let draining = false;
  /** REST requests being answered (a drain waits for them). */
  let requestsInFlight = 0;
  const metrics = opts.metrics ?? new Metrics();
  const serverMetrics = createServerMetrics(metrics);
  const revocations = new Revocations(redis, config.keyPrefix, log);
  const auth = new Auth(opts.jwtSecret, revocations);
  const store = new CartStore(redis, config.keyPrefix, { replicas: config.redis.waitReplicas, timeoutMs: config.redis.waitTimeoutMs });
  const catalog = new CatalogStore(redis, config.keyPrefix);
  const rules = new RulesStore(redis, config.keyPrefix);
  const queues = new Queues(redis, config.keyPrefix, (err) => log.warn('queue error', { err }));
  const revalidation = new RevalidationRequester(queues, log, config.revalidateDelayMs);
  const idempotency = new Idempotency(redis, config.keyPrefix, config.idempotencyTtlSeconds, config.maxIdempotencyKeys);
  const limits = new RateLimits(
    redis,
    config.keyPrefix,
    config.abuse,
    log,
    metrics,
    { perIp: config.idp.signInPerIp, windowSeconds: config.idp.signInWindowSeconds },
    { perIp: config.idp.shareRedeemPerIp, windowSeconds: config.idp.shareRedeemWindowSeconds },
  );
  const connectionCaps = new ConnectionCaps(config.abuse.maxConnectionsPerIp);
  const registry = new CartRegistry({
    store,
    limits: config.limits,
    emptyCartTtlMs: config.emptyCartTtlSeconds * 1000,
    cartTtlMs: config.cartTtlSeconds * 1000,
    compactAfterChanges: config.compactAfterChanges,
    compactAfterBytes: config.abuse.compactAfterBytes,
    chargeWrite: (cartId, subject, bytes) => limits.chargeWrite(cartId, subject, bytes),
    idleUnloadMs: config.idleUnloadMs,
    requestCompaction: (cartId) => {
      queues.requestCompaction(cartId).catch((err: unknown) => log.warn('could not enqueue compaction', { cartId, err }));
    },
    requestRevalidation: (cartId) => revalidation.request(cartId),
    // With several nodes, others hosting the cart catch up (their /yjs clients get no adapter relay).
    announce: (cartId, version) => {
      if (clustered) publishCartChanged(redis, config.keyPrefix, cartId, version, true).catch((err: unknown) => log.debug('could not announce a change', { cartId, err }));
    },
    log,
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', config.abuse.trustProxyHops);
  // Answers are JSON: nothing may run, frame or sniff them as HTML. HSTS only when clients come over TLS.
  app.use(
    helmet({
      contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      strictTransportSecurity: config.abuse.hstsMaxAgeSeconds > 0 ? { maxAge: config.abuse.hstsMaxAgeSeconds, includeSubDomains: false } : false,
    }),
  );
  // Built on first request: most nodes (and tests) never serve it.
  let openapi: string | null = null;
  app.get(ROUTES.openapi.path, (_req, res) => {
    openapi ??= JSON.stringify(openApiDocument(config.limits));
    res.type('application/json').send(openapi);
  });
  app.get(ROUTES.health.path, (_req, res) => {
    res.json({ ok: true });
  });
  app.get(ROUTES.ready.path, async (_req, res) => {
    if (draining) {
      res.status(503).json({ ready: false, redis: 'unknown', draining: true });
      return;
    }
    const ready = await Promise.race([
      redis.ping().then(
        () => true,
        () => false,
      ),
      new Promise<boolean>((resolve) => setTimeout(resolve, 1000, false).unref()),
    ]);
    res.status(ready ? 200 : 503).json({ ready, redis: ready ? 'ok' : 'unavailable' });
  });
  app.get(ROUTES.metrics.path, async (req, res) => {
    if (!metricsAuthorized(config.abuse.metricsToken, req.headers.authorization)) {
      res.set('www-authenticate', 'Bearer');
      sendError(res, new CartError(req.headers.authorization === undefined ? 'E_AUTH_MISSING' : 'E_AUTH_INVALID'));
      return;
    }
    res.type('text/plain; version=0.0.4').send(await metrics.render());
  });
  app.use((req, res, next) => {
    if (draining) {
      res.set('connection', 'close').set('retry-after', '1');
      sendError(res, new CartError('E_SHUTTING_DOWN'));
      return;
    }
    requestsInFlight += 1;
    let counted = true;
    const finished = (): void => {
      if (counted) requestsInFlight -= 1;
      counted = false;
    };
    res.once('finish', finished);
    res.once('close', finished);
    next();
  });
  // Limits first: a refused request costs no body parsing.
  app.use(limits.rest(auth));
  // Bulk routes carry up to 1000 products: their own limit, parsed before the general one.
  for (const route of allRoutes().filter((r) => r.bulk === true)) app.use(route.path, express.json({ limit: config.maxBulkJsonBytes }));
  app.use(express.json({ limit: config.maxJsonBytes }));
  // The activity feed reaches devices through Socket.IO, created below with the HTTP server.
  let emitActivity: (cartId: string, entry: ActivityEntry) => void = () => undefined;
  const activity = new ActivityFeed(redis, config.keyPrefix, config.cartTtlSeconds * 1000, log, (cartId, entry) => emitActivity(cartId, entry));
  app.use(cartRoutes({ registry, auth, config, idempotency, metrics: serverMetrics, activity }));
  app.use(catalogRoutes(catalog));
  const statuses = new CartStatusStore(redis, config.keyPrefix);
  const signIn = new SignIn({
    idp: IdpVerifier.fromConfig(config.idp),
    auth,
    tokenTtlSeconds: config.idp.tokenTtlSeconds,
    counted: ((count) => (outcome: string) => count({ outcome }))(metrics.counter('livecart_signins_total', 'Sign-ins (POST /v1/auth/exchange) answered, by outcome: signed-in, adopted, merged, already-merged, in-progress.')),
    registry,
    statuses,
    customers: new CustomerCarts(redis, config.keyPrefix, config.cartTtlSeconds * 1000),
    activity,
    limits: config.limits,
    // A cart that stopped taking changes must end its sessions on every node, Socket.IO ones too.
    announceEverywhere: (cartId, version) => {
      publishCartChanged(redis, config.keyPrefix, cartId, version, false).catch((err: unknown) => log.warn('could not announce a closed cart', { cartId, err }));
    },
    log,
  });
  app.use(signInRoutes(signIn));
  app.use(
    shareRoutes(
      auth,
      new Shares({
        auth,
        idp: IdpVerifier.fromConfig(config.idp),
        store: new ShareStore(redis, config.keyPrefix),
        revocations,
        cartExists: (cartId) => store.exists(cartId),
        grantTtlSeconds: config.idp.shareGrantTtlSeconds,
        activity,
      }),
      activity,
    ),
  );
  const requireAdmin = adminGuard(auth, config.adminToken);
  app.use(adminRoutes(auth, requireAdmin, revocations));
  app.use(adminCatalogRoutes({ catalog, rules, sink: opts.catalogSink ?? fanoutSink(queues, log), requireAdmin, log }));
  app.use(notFound);
  app.use(errorHandler(log, serverMetrics));

  const http = createServer(app);
  const io: CartServer = new Server(http, {
    maxHttpBufferSize: config.maxHttpBufferSize,
    perMessageDeflate: false,
    transports: ['websocket'],
    // Upgrades to paths other than /socket.io/ (our /yjs endpoint) must be left alone.
    destroyUpgrade: false,
  });
  // Relays reach a cart's devices on other nodes through Redis pub/sub. It drops messages across a
  // reconnect; devices detect the gap in versions and pull (protocol/SPEC.md §6).
  const adapterClients: RedisClient[] = [];
  if (clustered) {
    // The adapter publishes without handling failures: its commands wait for Redis to come back
    // (maxRetriesPerRequest: null) instead of rejecting where nobody catches them.
    const pub = duplicateRedis(redis, 'blocking');
    const sub = duplicateRedis(redis, config.socketAdapter === 'sharded' ? 'sharded-subscriber' : 'subscriber');
    for (const client of [pub, sub]) {
      client.on('error', (err: Error) => log.warn('socket adapter connection error', { err }));
      handleEveryCommand(client, log);
      adapterClients.push(client);
    }
    const adapterFor =
      config.socketAdapter === 'sharded'
        ? createShardedAdapter(pub, sub, { channelPrefix: new Keys(config.keyPrefix).socketAdapter, subscriptionMode: 'dynamic' })
        : createAdapter(pub, sub, { key: new Keys(config.keyPrefix).socketAdapter });
    // Socket.IO constructs the adapter with `new`: a function expression, not an arrow.
    io.adapter(function guardedAdapter(nsp: unknown) {
      const adapter = adapterFor(nsp);
      // Its close() fires UNSUBSCRIBEs without handling their failure, which with Redis gone are
      // unhandled rejections. Its connections are ours and are closed with the node: nothing to do.
      adapter.close = async () => undefined;
      return adapter;
    });
  }
  // Socket.IO keeps each connection's HTTP upgrade request (headers, buffers) for its whole life;
  // nothing here reads it after the handshake (socket.handshake keeps what auth needs).
  // Connections per IP: counted per engine connection (whatever its namespaces do), refused in the
  // first middleware with a typed error the client can read.
  const overCap = new WeakSet<object>();
  io.engine.on('connection', (raw: { request: { socket: { remoteAddress?: string }; headers: IncomingHttpHeaders } | null; once(event: 'close', fn: () => void): void }) => {
    const ip = raw.request ? clientIp(raw.request.socket.remoteAddress, raw.request.headers, config.abuse.trustProxyHops) : 'unknown';
    if (connectionCaps.tryOpen(ip)) raw.once('close', () => connectionCaps.close(ip));
    else overCap.add(raw);
    raw.request = null;
  });
  io.use((socket, next) => {
    if (!overCap.has(socket.conn)) return next();
    const wire = new CartError('E_TOO_MANY_CONNECTIONS').toWire();
    serverMetrics.rejected({ code: wire.code, transport: 'socketio' });
    next(Object.assign(new Error(wire.message), { data: wire }));
  });
  const sessions: SessionContext = {
    registry,
    config,
    log,
    metrics: serverMetrics,
    hooks: defaultHooks(log, serverMetrics),
    step1: new Step1Answers(() => serverMetrics.step1Encoded()),
    chargeAnswer: (subject, bytes) => limits.chargeAnswer(subject, bytes),
    draining: () => draining,
    revocations,
    activity,
  };
  // Through the adapter: the cart's devices on every node.
  emitActivity = (cartId, entry) => io.to(roomOf(cartId)).emit('activity', cartId, entry);
  const mergedInto = async (cartId: string): Promise<string | null> => {
    const status = await statuses.status(cartId);
    return status?.status === 'merged' ? status.mergedInto : null;
  };
  const transport = attachSocketTransport(io, { auth, session: sessions, clustered, nodeId, mergedInto });
  const yws = createYwsEndpoint({ auth, session: sessions });
  http.on('upgrade', (req, socket, head) => {
    if ((req.url ?? '').startsWith('/yjs')) {
      const ip = clientIp(req.socket.remoteAddress, req.headers, config.abuse.trustProxyHops);
      if (!connectionCaps.tryOpen(ip)) {
        serverMetrics.rejected({ code: 'E_TOO_MANY_CONNECTIONS', transport: 'yws' });
        const body = JSON.stringify({ error: new CartError('E_TOO_MANY_CONNECTIONS').toWire() });
        socket.end(`HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 1\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
        return;
      }
      socket.once('close', () => connectionCaps.close(ip));
    }
    if (yws.handleUpgrade(req, socket, head)) return;
    if (!(req.url ?? '').startsWith('/socket.io/')) socket.destroy();
  });

  // Corrections written by workers reach this node's devices through a catch-up from the log.
  const subscriber = duplicateRedis(redis, 'subscriber');
  subscriber.on('error', (err: Error) => log.warn('subscriber connection error', { err }));
  const changed = (cartId: string, version?: number, byNode?: boolean): void => {
    registry.changedElsewhere(cartId, version, byNode).catch((err: unknown) => log.warn('catch-up after a change elsewhere failed', { cartId, err }));
  };
  const subscribed = subscribeCartChanged(subscriber, config.keyPrefix, changed, () => {
    // Notices sent while the subscription was down are lost: catch every hosted cart up (devices
    // on /yjs have no gap detection of their own).
    log.info('cart-changed subscription restored; catching up hosted carts', { carts: registry.size });
    for (const cartId of registry.ids()) changed(cartId);
  }).catch((err: unknown) => log.error('could not subscribe to cart changes', { err }));
  // Sign-out everywhere: a revocation cuts the subject's sessions here as soon as it is announced.
  // A withdrawn share grant cuts the associate's sessions the same way.
  const cut = (revocation: Revocation): void => {
    const revoked = (p: Principal): boolean => covers(revocation, p);
    transport.cut(revoked);
    yws.cut(revoked);
  };
  const revocationsHeard = revocations
    .subscribe(subscriber, cut, () => {
      const principals = [...transport.principals(), ...yws.principals()];
      void revocations.stored([...new Set(principals.map((p) => p.subject))]).then(
        (found) => {
          for (const [subject, at] of found) cut({ subject, at });
        },
        (err: unknown) => log.warn('could not re-check revocations', { err }),
      );
      void revocations.storedGrants([...new Set(principals.flatMap((p) => (p.grant === null ? [] : [p.grant])))]).then(
        (found) => {
          for (const grant of found) cut({ grant, at: Date.now() });
        },
        (err: unknown) => log.warn('could not re-check revoked grants', { err }),
      );
    })
    .catch((err: unknown) => log.error('could not subscribe to revocations', { err }));

  // A node that holds presence relayed from another node drops it when that node stops beating.
  const heartbeat = clustered ? new NodeHeartbeat(redis, config.keyPrefix, nodeId, config.nodeHeartbeatMs, log) : null;
  const dropGoneNodes = async (): Promise<void> => {
    if (!heartbeat) return;
    const carts = registry.ids().flatMap((id) => registry.peek(id) ?? []);
    const held = new Set(carts.flatMap((cart) => [...presenceNodes(cart)]));
    for (const gone of await heartbeat.gone(held)) {
      log.info('a node stopped beating: dropping its devices\' presence', { node: gone });
      for (const cart of carts) dropNodePresence(cart, gone);
    }
  };

  metrics.gauge('livecart_hosted_carts', 'Carts loaded on this node.', () => registry.size);
  // A loaded cart's memory grows with its history: every overwritten value stays as a tombstone.
  metrics.gauge('livecart_hosted_doc_structs', 'Yjs structs (items and tombstones) held by the carts loaded on this node.', () => registry.structs());

  return {
    nodeId,
    http,
    app,
    io,
    auth,
    registry,
    store,
    catalog,
    rules,
    metrics,
    serverMetrics,
    revalidation,
    listen: async () => {
      await subscribed;
      await revocationsHeard;
      await heartbeat?.start(dropGoneNodes);
      return new Promise((resolve, reject) => {
        http.once('error', reject);
        http.listen(config.port, config.host, () => resolve((http.address() as AddressInfo).port));
      });
    },
    async close() {
      if (draining) return;
      draining = true;
      // No new connections; the load balancer sees /readyz 503 on those still open.
      http.close();
      const deadline = Date.now() + config.shutdownGraceMs;
      const drained = (async () => {
        await Promise.all([transport.drain(), yws.drain()]);
        await registry.settled();
        // Changes appended during the drain asked for revalidations: they reach the queue before it closes.
        await revalidation.settled();
        while (requestsInFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
        return requestsInFlight === 0;
      })();
      const grace = new Promise<false>((resolve) => setTimeout(resolve, config.shutdownGraceMs, false).unref());
      if (!(await Promise.race([drained, grace]))) log.warn('shutdown grace ran out with work in flight', { requestsInFlight, revalidationsPending: revalidation.pending });
      await heartbeat?.stop();
      transport.stop();
      yws.closeAll(CLOSE.SHUTTING_DOWN);
      // Tell this node's devices why their carts go quiet, so they reconnect (elsewhere) instead of
      // waiting. Only this node's: a room through the adapter would close the cart on every node.
      for (const cartId of registry.ids()) io.local.to(roomOf(cartId)).emit('cart-closed', cartId, { reason: CLOSE.SHUTTING_DOWN.name });
      await new Promise<void>((resolve) => io.close(() => resolve()));
      http.closeAllConnections();
      registry.clear();
      await queues.close();
      await subscribed;
      subscriber.disconnect();
      for (const client of adapterClients) client.disconnect();
    },
  };
}

