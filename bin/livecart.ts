/**
 * Entry point. `--role all` (npm start): server and workers in one process; `--role server` and
 * `--role worker`: the split roles of a cluster. With neither REDIS_URL nor REDIS_CLUSTER_NODES,
 * runs a private redis-server.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { type Workers, providerFromConfig, startWorkers } from '../workers/index.ts';
import { createCartServer, type CartServerNode } from '../server/app.ts';
import { metricsAuthorized } from '../server/limits/metrics-token.ts';
import { CatalogStore, loadSeed } from '../core/catalog/catalog-store.ts';
import { RulesStore, loadRulesSeed } from '../core/catalog/rules-store.ts';
import { ConfigError, loadConfig, type Config } from '../core/config.ts';
import { type EmbeddedRedis, EmbeddedRedisError, devAdminToken, devJwtSecret, startRedisServer } from '../core/embedded-redis.ts';
import { createLogger, maskUrlPassword } from '../core/log.ts';
import { type RedisTarget, connectRedis, describeTarget } from '../core/redis/connect.ts';
import { probeRedis } from '../core/redis/probe.ts';
import { Metrics, registerProcessMetrics } from '../core/metrics.ts';

type Role = 'all' | 'server' | 'worker';

function parseRole(argv: string[]): Role {
  const i = argv.indexOf('--role');
  const role = i >= 0 ? argv[i + 1] : 'all';
  if (role !== 'all' && role !== 'server' && role !== 'worker') throw new ConfigError(`--role must be all, server or worker, got ${String(role)}`);
  return role;
}

async function main(): Promise<void> {
  let config: Config;
  let role: Role;
  try {
    config = loadConfig();
    role = parseRole(process.argv.slice(2));
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`livecart: configuration error: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.logLevel, { role, pid: process.pid });
  // From the first await on: a rejection nobody handled is a bug to report, not a reason to crash.
  process.on('unhandledRejection', (reason) => log.error('unhandled rejection', { err: reason instanceof Error ? reason : String(reason) }));

  let embedded: EmbeddedRedis | null = null;
  let target: RedisTarget | null = config.redis.clusterNodes !== null ? { cluster: config.redis.clusterNodes } : config.redisUrl !== null ? { url: config.redisUrl } : null;
  if (target === null) {
    try {
      embedded = await startRedisServer(`${config.dataDir}/redis`);
    } catch (err) {
      console.error(`livecart: ${err instanceof EmbeddedRedisError ? err.message : String(err)}`);
      process.exit(1);
    }
    target = { url: embedded.url };
    const child = embedded.process;
    // However this process ends (even a failed start), the private redis-server goes with it.
    process.on('exit', () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    });
    log.info('started embedded redis-server', { url: embedded.url, dir: `${config.dataDir}/redis` });
  }
  const jwtSecret = config.jwtSecret ?? devJwtSecret(config.dataDir);
  const generatedAdminToken = config.adminToken === null && !config.production;
  if (generatedAdminToken) config = { ...config, adminToken: devAdminToken(config.dataDir) };

  // A Redis that cannot be reached at start, or lacks the replicas appends wait for, is a
  // configuration problem: one line naming it, exit 1 (rather than a reconnect warning per attempt
  // from every connection, or every change refused).
  const unusable = await probeRedis(target, config.redis.waitReplicas);
  if (unusable !== null) {
    console.error(`livecart: cannot use Redis at ${describeTarget(target, maskUrlPassword)} (${unusable}); check ${'url' in target ? 'REDIS_URL' : 'REDIS_CLUSTER_NODES'} and LIVECART_REDIS_WAIT_REPLICAS`);
    if (embedded) await embedded.stop();
    process.exit(1);
  }
  const redis = connectRedis(target, 'commands');
  redis.on('error', (err: Error) => log.warn('redis connection error', { err }));

  // One registry per process: with --role all, /metrics shows the node's and the workers' series.
  const metrics = new Metrics();
  registerProcessMetrics(metrics);
  let node: CartServerNode | null = null;
  let workers: Workers | null = null;
  let workerHttp: HttpServer | null = null;
  if (role === 'all' || role === 'server') {
    node = createCartServer({ config, redis, jwtSecret, log, metrics });
    if (config.seedCatalog) {
      if (await node.catalog.seedIfEmpty(loadSeed())) log.info('seeded the demo catalog');
      if (await node.rules.seedIfEmpty(loadRulesSeed())) log.info('seeded the demo pricing rules');
    }
    const port = await node.listen();
    const base = `http://localhost:${port}`;
    log.info('livecart listening', { url: base });
    process.stdout.write(
      `livecart is listening on ${base}\n` +
        `  create a cart and get its token:  curl -s -X POST ${base}/v1/carts\n` +
        `  read it:                          curl -s ${base}/v1/carts/<cartId> -H "Authorization: Bearer <token>"\n` +
        `  the catalog:                      curl -s ${base}/v1/catalog/products\n` +
        (generatedAdminToken
          ? `  change a price (dev admin token, from ${config.dataDir}/admin-token; set LIVECART_ADMIN_TOKEN to choose it):\n` +
            `    curl -s -X PATCH ${base}/v1/catalog/products/SHOE-RUN-01 -H "Authorization: Bearer ${config.adminToken}" \\\n` +
            `         -H 'content-type: application/json' -d '{"price":{"amount":7999,"currency":"USD"}}'\n`
          : ''),
    );
  }
  if (role === 'all' || role === 'worker') {
    const workerRedis = connectRedis(target, 'blocking');
    workerRedis.on('error', (err: Error) => log.warn('worker redis connection error', { err }));
    const catalog = new CatalogStore(redis, config.keyPrefix);
    workers = startWorkers({
      connection: workerRedis,
      redis,
      config,
      metrics,
      log,
      provider: providerFromConfig(config, catalog, log),
      catalog,
      rules: new RulesStore(redis, config.keyPrefix),
    });
    log.info('workers started', { queues: ['compact', 'revalidate', 'fanout'], pricing: config.pricingUrl ?? 'built-in catalog', inventory: config.inventoryUrl ?? 'built-in catalog' });
    if (role === 'worker') workerHttp = await serveWorkerHealth(config, metrics);
  }

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    const deadline = setTimeout(() => process.exit(1), config.shutdownGraceMs + 5000);
    deadline.unref();
    let code = 0;
    try {
      if (node) await node.close();
      workerHttp?.close();
      if (workers) await workers.close();
      redis.disconnect();
      if (embedded) await embedded.stop();
    } catch (err) {
      log.error('shutdown failed', { err: err instanceof Error ? err : String(err) });
      code = 1;
    } finally {
      process.exit(code);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** A worker-only process answers GET /healthz and GET /metrics on PORT (for probes and scrapers). */
function serveWorkerHealth(config: Config, metrics: Metrics): Promise<HttpServer> {
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    } else if (req.url === '/metrics' && !metricsAuthorized(config.abuse.metricsToken, req.headers.authorization)) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' }).end('{"error":{"code":"E_AUTH_INVALID","message":"The token is malformed or its signature is wrong.","retryable":false}}');
    } else if (req.url === '/metrics') {
      metrics.render().then(
        (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text),
        () => res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"code":"E_INTERNAL","message":"Internal error.","retryable":true}}'),
      );
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"E_NOT_FOUND","message":"No such route.","retryable":false}}');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve(server));
  });
}

main().catch((err: unknown) => {
  console.error('livecart: failed to start:', err instanceof Error ? (err.stack ?? err.message) : String(err));
  process.exit(1);
});
