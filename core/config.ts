/**
 * Server configuration: declared once, read from environment variables, validated at start-up.
 * Unknown LIVECART_* variables and bad values are rejected loudly; nothing falls back silently.
 */
import { createPublicKey } from 'node:crypto';
import * as z from 'zod';
import { DEFAULT_LIMITS, type CartLimits } from '../protocol/index.ts';
import { HttpUrl } from '../protocol/schemas/index.ts';
import { type ClusterSeed, parseClusterSeeds } from './redis/connect.ts';

export interface Config {
  /** HTTP port for REST, Socket.IO and /yjs. 0 picks a free port (tests). */
  port: number;
  /** Interface to listen on. */
  host: string;
  /** Redis to use. Unset (and no `redis.clusterNodes`): `npm start` runs a private redis-server under `dataDir`. */
  redisUrl: string | null;
  /** Redis Cluster seeds and the replica wait of appends: see the end of this file. */
  redis: RedisConfig;
  /** Prefix of every Redis key and BullMQ queue, so several deployments (or tests) share one Redis. */
  keyPrefix: string;
  /** HS256 secret for tokens. Unset outside production: generated once and kept under `dataDir`. */
  jwtSecret: string | null;
  /** Bearer token for the admin API (minting tokens, catalog changes). Unset: admin API disabled. */
  adminToken: string | null;
  /** Where the embedded Redis and the dev JWT secret live. */
  dataDir: string;
  production: boolean;
  /** Lifetime of the anonymous cart tokens POST /v1/carts returns. */
  cartTokenTtlSeconds: number;
  /** Carts with no live line expire this long after their last change (they cost memory for nothing). */
  emptyCartTtlSeconds: number;
  /** Carts with lines expire this long after their last change (abandoned carts are worth keeping). */
  cartTtlSeconds: number;
  /** Fold the log into the snapshot once this many changes piled up since the last snapshot. */
  compactAfterChanges: number;
  /** Unload a cart from a node's memory this long after its last device left. */
  idleUnloadMs: number;
  /** Keep Idempotency-Key results at least this long (the contract promises 24 h). */
  idempotencyTtlSeconds: number;
  /** Per-socket message budget: sustained messages per second, and the burst allowed above it. */
  socketRatePerSecond: number;
  socketBurst: number;
  /** Carts one Socket.IO connection may have joined at once. */
  maxCartsPerSocket: number;
  /** Largest Socket.IO message; above the largest legit sync so oversize events get typed errors. */
  maxHttpBufferSize: number;
  /** Largest REST JSON body. */
  maxJsonBytes: number;
  limits: CartLimits;
  /**
   * Seed the demo catalog when it is empty, and the demo pricing rules when none were ever stored.
   * Default: on outside production, off with NODE_ENV=production.
   */
  seedCatalog: boolean;
  /** A shop's own pricing / inventory services (see protocol/SPEC.md §13); unset: the built-in catalog. */
  pricingUrl: string | null;
  inventoryUrl: string | null;
  /** Time budget of one provider request; past it the request counts as failed (and is retried). */
  providerTimeoutMs: number;
  /** How long a worker holds a job before another worker may take it over (a crashed worker's jobs wait this long). */
  jobLockMs: number;
  /** Revalidations one worker process runs at once. */
  workerConcurrency: number;
  /**
   * How long a revalidation waits after the change that asked for it: changes of the cart within
   * this window are priced by the same job (a longer wait coalesces more, corrections come later).
   */
  revalidateDelayMs: number;
  /**
   * How Socket.IO reaches a cart's devices on other nodes: 'redis' (@socket.io/redis-adapter,
   * classic pub/sub: every node receives every relay), 'sharded' (Redis 7 sharded pub/sub with a
   * channel per cart: only nodes hosting the cart receive its relays), or 'local' for a single
   * node (no pub/sub per relay).
   */
  socketAdapter: 'redis' | 'sharded' | 'local';
  /**
   * How often a node refreshes its liveness key; a killed node's devices disappear from presence
   * on other nodes within about four beats.
   */
  nodeHeartbeatMs: number;
  /** On SIGTERM, how long in-flight appends and REST calls get before the node closes anyway. */
  shutdownGraceMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /**
   * Largest JSON body of a bulk route (POST /v1/catalog/products/bulk): 1000 products of about a
   * kilobyte each, with room for long names and image URLs.
   */
  maxBulkJsonBytes: number;
  /**
   * How long a removed line's records stay in the document before a worker deletes them. While
   * they stay, the removal wins over an add made offline before it (SPEC §4) and the line id counts
   * against the record limit; longer protects devices offline longer, shorter frees the limit sooner.
   */
  removedLineGraceSeconds: number;
  /**
   * Idempotency-Key records kept per scope (one cart, or one caller's cart creations): a new key
   * beyond it evicts the scope's oldest, so no caller can grow Redis with keys.
   */
  maxIdempotencyKeys: number;
  /** Limits against abuse (rates per IP and subject, byte budgets, connection caps) and exposure: see the end of this file. */
  abuse: AbuseConfig;
  /**
   * Messages one session (a connection's use of one cart) may have waiting to be handled; past it
   * a message is refused (E_RATE_LIMITED; /yjs closes with 4429). Each waiting message can cost a
   * full sync's CPU, so this bounds the work a client can leave behind.
   */
  sessionQueueMax: number;
  /** Bytes of messages one session may have waiting (a /yjs client sends before its cart loaded). */
  sessionQueueBytes: number;
  /**
   * Bytes a connection may leave unread (sent by the node, not yet taken by the peer) before the
   * node closes it as a slow consumer (4008): a reader that stops must not hold a copy of every
   * relayed change.
   */
  maxBufferedBytes: number;
  /**
   * Bytes of sync step 1 answers one connection is sent per second, after a burst of twice
   * maxSyncBytes: a device asks for the whole cart once per connection, then for what it lacks
   * (small); a client repeating full-state requests is refused (E_RATE_LIMITED) instead of making
   * the node send the cart over and over.
   */
  syncAnswerBytesPerSecond: number;
  /** Sign-in with the shop's identity provider (POST /v1/auth/exchange): see the end of this file. */
  idp: IdpConfig;
}

export const DEFAULT_CONFIG: Config = {
  port: 3000,
  host: '0.0.0.0',
  redisUrl: null,
  redis: { clusterNodes: null, waitReplicas: 0, waitTimeoutMs: 1000 },
  keyPrefix: 'lc',
  jwtSecret: null,
  adminToken: null,
  dataDir: './data',
  production: false,
  cartTokenTtlSeconds: 30 * 24 * 3600,
  emptyCartTtlSeconds: 24 * 3600,
  cartTtlSeconds: 30 * 24 * 3600,
  compactAfterChanges: 200,
  idleUnloadMs: 60_000,
  idempotencyTtlSeconds: 25 * 3600,
  socketRatePerSecond: 100,
  socketBurst: 300,
  maxCartsPerSocket: 16,
  maxHttpBufferSize: 2 * 1024 * 1024,
  maxJsonBytes: 64 * 1024,
  limits: DEFAULT_LIMITS,
  seedCatalog: true,
  pricingUrl: null,
  inventoryUrl: null,
  providerTimeoutMs: 800,
  jobLockMs: 30_000,
  workerConcurrency: 16,
  revalidateDelayMs: 15,
  socketAdapter: 'redis',
  nodeHeartbeatMs: 1000,
  shutdownGraceMs: 5000,
  logLevel: 'info',
  maxBulkJsonBytes: 2 * 1024 * 1024,
  removedLineGraceSeconds: 24 * 3600,
  maxIdempotencyKeys: 1000,
  abuse: abuseDefaults(),
  sessionQueueMax: 64,
  sessionQueueBytes: 4 * 1024 * 1024,
  maxBufferedBytes: 2 * 1024 * 1024,
  syncAnswerBytesPerSecond: 64 * 1024,
  idp: idpDefaults(),
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type IntKey = {
  [K in keyof Config]: Config[K] extends number ? K : never;
}[keyof Config];

/** Environment variable → integer option, with its allowed range. */
const INT_VARS: Record<string, [IntKey, number, number]> = {
  PORT: ['port', 0, 65535],
  LIVECART_CART_TOKEN_TTL_SECONDS: ['cartTokenTtlSeconds', 60, 366 * 24 * 3600],
  LIVECART_EMPTY_CART_TTL_SECONDS: ['emptyCartTtlSeconds', 60, 366 * 24 * 3600],
  LIVECART_CART_TTL_SECONDS: ['cartTtlSeconds', 60, 366 * 24 * 3600],
  LIVECART_COMPACT_AFTER_CHANGES: ['compactAfterChanges', 10, 1_000_000],
  LIVECART_IDLE_UNLOAD_MS: ['idleUnloadMs', 0, 24 * 3600_000],
  LIVECART_IDEMPOTENCY_TTL_SECONDS: ['idempotencyTtlSeconds', 24 * 3600, 30 * 24 * 3600],
  LIVECART_SOCKET_RATE: ['socketRatePerSecond', 1, 100_000],
  LIVECART_SOCKET_BURST: ['socketBurst', 1, 1_000_000],
  LIVECART_MAX_CARTS_PER_SOCKET: ['maxCartsPerSocket', 1, 1000],
  LIVECART_MAX_JSON_BYTES: ['maxJsonBytes', 1024, 16 * 1024 * 1024],
  LIVECART_PROVIDER_TIMEOUT_MS: ['providerTimeoutMs', 50, 60_000],
  LIVECART_JOB_LOCK_MS: ['jobLockMs', 500, 600_000],
  LIVECART_WORKER_CONCURRENCY: ['workerConcurrency', 1, 256],
  LIVECART_REVALIDATE_DELAY_MS: ['revalidateDelayMs', 0, 10_000],
  LIVECART_NODE_HEARTBEAT_MS: ['nodeHeartbeatMs', 100, 60_000],
  LIVECART_SHUTDOWN_GRACE_MS: ['shutdownGraceMs', 0, 120_000],
  LIVECART_MAX_BULK_JSON_BYTES: ['maxBulkJsonBytes', 64 * 1024, 64 * 1024 * 1024],
  LIVECART_REMOVED_LINE_GRACE_SECONDS: ['removedLineGraceSeconds', 0, 366 * 24 * 3600],
  LIVECART_MAX_IDEMPOTENCY_KEYS: ['maxIdempotencyKeys', 1, 1_000_000],
  LIVECART_SESSION_QUEUE_MAX: ['sessionQueueMax', 1, 100_000],
  LIVECART_SESSION_QUEUE_BYTES: ['sessionQueueBytes', 64 * 1024, 1024 * 1024 * 1024],
  LIVECART_MAX_BUFFERED_BYTES: ['maxBufferedBytes', 64 * 1024, 1024 * 1024 * 1024],
  LIVECART_SYNC_ANSWER_BYTES_PER_SECOND: ['syncAnswerBytesPerSecond', 1024, 1024 * 1024 * 1024],
};

const LIMIT_VARS: Record<string, [keyof CartLimits, number, number]> = {
  LIVECART_MAX_LINES: ['maxLines', 1, 10_000],
  LIVECART_MAX_QUANTITY: ['maxQuantity', 1, 1_000_000],
  LIVECART_MAX_NOTE_LENGTH: ['maxNoteLength', 0, 10_000],
  LIVECART_MAX_COUPONS: ['maxCoupons', 0, 100],
  LIVECART_MAX_UPDATE_BYTES: ['maxUpdateBytes', 1024, 16 * 1024 * 1024],
  LIVECART_MAX_SYNC_BYTES: ['maxSyncBytes', 1024, 64 * 1024 * 1024],
};

const STRING_VARS = new Set([
  'REDIS_URL',
  'HOST',
  'LIVECART_JWT_SECRET',
  'LIVECART_ADMIN_TOKEN',
  'LIVECART_DATA_DIR',
  'LIVECART_KEY_PREFIX',
  'LIVECART_SEED_CATALOG',
  'LIVECART_LOG_LEVEL',
  'LIVECART_PRICING_URL',
  'LIVECART_INVENTORY_URL',
  'LIVECART_SOCKET_ADAPTER',
]);

/** Every environment variable the server reads (README "Configuration" documents each). */
export const CONFIG_VARIABLES: readonly string[] = [...STRING_VARS, ...Object.keys(INT_VARS), ...Object.keys(LIMIT_VARS), ...abuseVariables(), ...idpVariables(), ...redisVariables()];

/** `raw` by `schema`, or a ConfigError naming the variable. */
function envValue<S extends z.ZodType>(name: string, schema: S, raw: string): z.output<S> {
  const result = schema.safeParse(raw);
  if (!result.success) throw new ConfigError(`${name} ${result.error.issues[0]?.message ?? 'is invalid'}`);
  return result.data;
}

function parseInteger(name: string, raw: string, min: number, max: number): number {
  const integer = z
    .string()
    .regex(/^\s*-?\d+\s*$/, { error: `must be an integer, got ${JSON.stringify(raw)}` })
    .transform(Number)
    .pipe(z.number().min(min, { error: `must be between ${min} and ${max}, got ${Number(raw)}` }).max(max, { error: `must be between ${min} and ${max}, got ${Number(raw)}` }));
  return envValue(name, integer, raw);
}

const choice = <T extends string>(values: readonly [T, ...T[]], what: string) => z.enum(values, { error: `must be ${what}` });
const LOG_LEVEL = choice(['debug', 'info', 'warn', 'error', 'silent'], 'debug, info, warn, error or silent');
const SOCKET_ADAPTER = choice(['redis', 'sharded', 'local'], 'redis, sharded or local');
const BOOLEAN = choice(['true', 'false'], 'true or false');

/** Set `target[key]` from every variable of `table` that `env` sets: an integer within its bounds. */
function readIntegers<K extends string>(env: NodeJS.ProcessEnv, table: Record<string, readonly [K, number, number]>, target: Record<K, number>): void {
  for (const [name, [key, min, max]] of Object.entries(table)) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') target[key] = parseInteger(name, raw, min, max);
  }
}

/** Build the configuration from `env` on top of `base`. Throws ConfigError naming the bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, base: Config = DEFAULT_CONFIG): Config {
  const config: Config = { ...base, limits: { ...base.limits }, abuse: { ...base.abuse }, idp: { ...base.idp }, redis: { ...base.redis } };
  const abuseNames = new Set([...abuseVariables(), ...idpVariables(), ...redisVariables()]);
  for (const name of Object.keys(env)) {
    if (name.startsWith('LIVECART_') && !STRING_VARS.has(name) && !(name in INT_VARS) && !(name in LIMIT_VARS) && !abuseNames.has(name)) {
      throw new ConfigError(`unknown setting ${name} (see README "Configuration")`);
    }
  }
  readIntegers(env, INT_VARS, config);
  readIntegers(env, LIMIT_VARS, config.limits);
  const str = (name: string): string | null => {
    const raw = env[name];
    return raw === undefined || raw === '' ? null : raw;
  };
  config.production = env.NODE_ENV === 'production';
  config.redisUrl = str('REDIS_URL') ?? config.redisUrl;
  config.host = str('HOST') ?? config.host;
  config.jwtSecret = str('LIVECART_JWT_SECRET') ?? config.jwtSecret;
  config.adminToken = str('LIVECART_ADMIN_TOKEN') ?? config.adminToken;
  config.dataDir = str('LIVECART_DATA_DIR') ?? config.dataDir;
  config.keyPrefix = str('LIVECART_KEY_PREFIX') ?? config.keyPrefix;
  config.pricingUrl = str('LIVECART_PRICING_URL') ?? config.pricingUrl;
  config.inventoryUrl = str('LIVECART_INVENTORY_URL') ?? config.inventoryUrl;
  for (const [name, url] of [['LIVECART_PRICING_URL', config.pricingUrl], ['LIVECART_INVENTORY_URL', config.inventoryUrl]] as const) {
    if (url !== null) envValue(name, HttpUrl, url);
  }
  const adapter = str('LIVECART_SOCKET_ADAPTER');
  if (adapter !== null) config.socketAdapter = envValue('LIVECART_SOCKET_ADAPTER', SOCKET_ADAPTER, adapter);
  const seed = str('LIVECART_SEED_CATALOG');
  if (seed !== null) config.seedCatalog = envValue('LIVECART_SEED_CATALOG', BOOLEAN, seed) === 'true';
  // Demo products in a real shop's catalog would be sold: production seeds only when asked.
  else if (config.production) config.seedCatalog = false;
  const level = str('LIVECART_LOG_LEVEL');
  if (level !== null) config.logLevel = envValue('LIVECART_LOG_LEVEL', LOG_LEVEL, level);
  loadAbuseConfig(env, config.abuse);
  loadIdpConfig(env, config.idp);
  loadRedisConfig(env, config);
  validateConfig(config);
  return config;
}

export function validateConfig(config: Config): void {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(config.keyPrefix)) throw new ConfigError('LIVECART_KEY_PREFIX must be 1-32 characters of A-Z a-z 0-9 _ -');
  if (config.jwtSecret !== null && config.jwtSecret.length < 32) throw new ConfigError('LIVECART_JWT_SECRET must be at least 32 characters');
  if (config.adminToken !== null && config.adminToken.length < 16) throw new ConfigError('LIVECART_ADMIN_TOKEN must be at least 16 characters');
  if (config.production && config.jwtSecret === null) throw new ConfigError('NODE_ENV=production requires LIVECART_JWT_SECRET');
  if (config.production && config.redisUrl === null && config.redis.clusterNodes === null) throw new ConfigError('NODE_ENV=production requires REDIS_URL or REDIS_CLUSTER_NODES');
  if (config.redisUrl !== null && config.redis.clusterNodes !== null) throw new ConfigError('REDIS_URL and REDIS_CLUSTER_NODES are exclusive: set one');
  if (config.redisUrl !== null && !/^rediss?:\/\//.test(config.redisUrl)) throw new ConfigError('REDIS_URL must start with redis:// or rediss://');
  if (config.limits.maxUpdateBytes > config.limits.maxSyncBytes) throw new ConfigError('LIVECART_MAX_UPDATE_BYTES must not exceed LIVECART_MAX_SYNC_BYTES');
  if (config.maxHttpBufferSize <= config.limits.maxSyncBytes + 4096) {
    config.maxHttpBufferSize = config.limits.maxSyncBytes * 2 + 4096;
  }
  if (config.sessionQueueBytes < config.limits.maxSyncBytes + 1024) throw new ConfigError('LIVECART_SESSION_QUEUE_BYTES must exceed LIVECART_MAX_SYNC_BYTES');
  if (config.emptyCartTtlSeconds > config.cartTtlSeconds) throw new ConfigError('LIVECART_EMPTY_CART_TTL_SECONDS must not exceed LIVECART_CART_TTL_SECONDS');
}

// ---- Abuse limits and exposure (protocol/SPEC.md "Limits"). Every limit holds against an
// anonymous client: rates are counted cluster-wide in Redis, connection caps per node. Defaults are
// generous for hundreds of shoppers behind one shared IP (a store's Wi-Fi, a carrier's NAT) and
// refuse floods from one address well before they cost anything.

export interface AbuseConfig {
  /**
   * Proxies in front of the node whose `X-Forwarded-For` entry is trusted (express `trust proxy`
   * hops). 0: the client IP is the TCP peer, the header is ignored (a client could forge it).
   */
  trustProxyHops: number;
  /** `POST /v1/carts` per IP: a burst of this many per `cartCreateBurstSeconds`… */
  cartCreateBurst: number;
  cartCreateBurstSeconds: number;
  /** …and this many per hour (the sustained rate). */
  cartCreatePerHour: number;
  /** Every REST call, per IP and per token subject, in windows of `restWindowSeconds`. */
  restPerIp: number;
  restPerSubject: number;
  restWindowSeconds: number;
  /** Failed admin authentications per IP per `adminFailureSeconds`; past it, admin routes answer 429. */
  adminFailures: number;
  adminFailureSeconds: number;
  /** Concurrent Socket.IO + /yjs connections from one IP on one node. */
  maxConnectionsPerIp: number;
  /** Bytes of changes one cart, and one token subject, may append per `writeBudgetSeconds`. */
  writeBudgetCartBytes: number;
  writeBudgetSubjectBytes: number;
  writeBudgetSeconds: number;
  /**
   * Bytes of large sync step 1 answers (at least SUBJECT_CHARGED_ANSWER_BYTES each: a new device's
   * whole cart) one token subject may be sent per `answerBudgetSeconds`, over all its connections on
   * every node: a client opening connection after connection cannot make the nodes send the cart
   * over and over. Smaller answers (a returning device's catch-up) are not counted.
   */
  answerBudgetSubjectBytes: number;
  answerBudgetSeconds: number;
  /**
   * A REST request refused by a rate limit is answered (429) after this delay: a client that
   * floods with N requests in flight then gets N refusals per delay instead of as many as the node
   * can answer, which bounds what the flood costs the node (and the flooder). At most
   * MAX_HELD_REFUSALS are held at once per node; past that they are answered at once. 0: no delay.
   */
  refusalDelayMs: number;
  /** Fold the log into the snapshot once this many bytes of changes piled up since the last snapshot. */
  compactAfterBytes: number;
  /** `Strict-Transport-Security` max-age in seconds; 0: not sent (set it when clients reach the node over TLS). */
  hstsMaxAgeSeconds: number;
  /** Bearer token GET /metrics requires; null: /metrics is open (keep it on a private network). */
  metricsToken: string | null;
}

function abuseDefaults(): AbuseConfig {
  return {
    trustProxyHops: 0,
    cartCreateBurst: 200,
    cartCreateBurstSeconds: 10,
    cartCreatePerHour: 3000,
    restPerIp: 2000,
    restPerSubject: 300,
    restWindowSeconds: 10,
    adminFailures: 100,
    adminFailureSeconds: 300,
    maxConnectionsPerIp: 2000,
    writeBudgetCartBytes: 4 * 1024 * 1024,
    writeBudgetSubjectBytes: 8 * 1024 * 1024,
    writeBudgetSeconds: 60,
    answerBudgetSubjectBytes: 32 * 1024 * 1024,
    answerBudgetSeconds: 60,
    refusalDelayMs: 500,
    compactAfterBytes: 1024 * 1024,
    hstsMaxAgeSeconds: 0,
    metricsToken: null,
  };
}

type AbuseIntKey = { [K in keyof AbuseConfig]: AbuseConfig[K] extends number ? K : never }[keyof AbuseConfig];

function abuseIntVars(): Record<string, [AbuseIntKey, number, number]> {
  return {
    LIVECART_TRUST_PROXY_HOPS: ['trustProxyHops', 0, 10],
    LIVECART_RATE_CART_CREATE_BURST: ['cartCreateBurst', 1, 1_000_000],
    LIVECART_RATE_CART_CREATE_BURST_SECONDS: ['cartCreateBurstSeconds', 1, 3600],
    LIVECART_RATE_CART_CREATE_PER_HOUR: ['cartCreatePerHour', 1, 100_000_000],
    LIVECART_RATE_REST_PER_IP: ['restPerIp', 1, 100_000_000],
    LIVECART_RATE_REST_PER_SUBJECT: ['restPerSubject', 1, 100_000_000],
    LIVECART_RATE_REST_WINDOW_SECONDS: ['restWindowSeconds', 1, 3600],
    LIVECART_RATE_ADMIN_FAILURES: ['adminFailures', 1, 1_000_000],
    LIVECART_RATE_ADMIN_FAILURE_SECONDS: ['adminFailureSeconds', 1, 24 * 3600],
    LIVECART_MAX_CONNECTIONS_PER_IP: ['maxConnectionsPerIp', 1, 10_000_000],
    LIVECART_WRITE_BUDGET_CART_BYTES: ['writeBudgetCartBytes', 64 * 1024, 1024 * 1024 * 1024],
    LIVECART_WRITE_BUDGET_SUBJECT_BYTES: ['writeBudgetSubjectBytes', 64 * 1024, 1024 * 1024 * 1024],
    LIVECART_WRITE_BUDGET_SECONDS: ['writeBudgetSeconds', 1, 24 * 3600],
    LIVECART_SYNC_ANSWER_BUDGET_SUBJECT_BYTES: ['answerBudgetSubjectBytes', 64 * 1024, 1024 * 1024 * 1024],
    LIVECART_SYNC_ANSWER_BUDGET_SECONDS: ['answerBudgetSeconds', 1, 24 * 3600],
    LIVECART_RATE_REFUSAL_DELAY_MS: ['refusalDelayMs', 0, 10_000],
    LIVECART_COMPACT_AFTER_BYTES: ['compactAfterBytes', 16 * 1024, 1024 * 1024 * 1024],
    LIVECART_HSTS_MAX_AGE_SECONDS: ['hstsMaxAgeSeconds', 0, 2 * 366 * 24 * 3600],
  };
}

function abuseVariables(): string[] {
  return [...Object.keys(abuseIntVars()), 'LIVECART_METRICS_TOKEN'];
}

function loadAbuseConfig(env: NodeJS.ProcessEnv, abuse: AbuseConfig): void {
  readIntegers(env, abuseIntVars(), abuse);
  const token = env.LIVECART_METRICS_TOKEN;
  if (token !== undefined && token !== '') {
    if (token.length < 16) throw new ConfigError('LIVECART_METRICS_TOKEN must be at least 16 characters');
    abuse.metricsToken = token;
  }
}

// ---- Sign-in with the shop's identity provider (protocol/SPEC.md §2 "Sign-in"). Unset: no
// sign-in (POST /v1/auth/exchange answers E_IDP_NOT_CONFIGURED); carts stay reachable with the
// tokens of POST /v1/carts and the admin API.

export interface IdpConfig {
  /** The IdP's JWKS endpoint; keys are cached and a token naming an unknown `kid` refetches it (key rotation). */
  jwksUrl: string | null;
  /** Or one PEM public key (SPKI, RSA or P-256) for IdPs without a JWKS endpoint. */
  publicKey: string | null;
  /** The `iss` and `aud` every IdP token must carry; both required once a key source is set. */
  issuer: string | null;
  audience: string | null;
  /**
   * Lifetime of the livecart tokens an exchange mints: short, since an exchange is cheap to repeat
   * (the client exchanges a fresh IdP token) and a signed-out customer's token should not outlive it long.
   */
  tokenTtlSeconds: number;
  /** After a JWKS fetch, no other fetch for this long (an unknown `kid` cannot make us hammer the IdP). */
  jwksCooldownMs: number;
  /** Time budget of one JWKS fetch. */
  jwksTimeoutMs: number;
  /** Exchanges per client IP per `signInWindowSeconds` (each one may verify a signature and touch two carts). */
  signInPerIp: number;
  signInWindowSeconds: number;
  // Co-browsing with a store associate (protocol/SPEC.md §2 "Co-browsing").
  /** Lifetime of an associate's grant token (POST /v1/shares/:code/redeem); a revocation of it is kept as long. */
  shareGrantTtlSeconds: number;
  /**
   * Share-code redeems per client IP per `shareRedeemWindowSeconds`, failed or not: a code is 6
   * characters of 31 (about 9e8 codes), so a tight limit keeps guessing hopeless.
   */
  shareRedeemPerIp: number;
  shareRedeemWindowSeconds: number;
}

function idpDefaults(): IdpConfig {
  return {
    jwksUrl: null,
    publicKey: null,
    issuer: null,
    audience: null,
    tokenTtlSeconds: 3600,
    jwksCooldownMs: 30_000,
    jwksTimeoutMs: 5000,
    signInPerIp: 600,
    signInWindowSeconds: 60,
    shareGrantTtlSeconds: 4 * 3600,
    shareRedeemPerIp: 10,
    shareRedeemWindowSeconds: 60,
  };
}

type IdpIntKey = { [K in keyof IdpConfig]: IdpConfig[K] extends number ? K : never }[keyof IdpConfig];

function idpIntVars(): Record<string, [IdpIntKey, number, number]> {
  return {
    LIVECART_IDP_TOKEN_TTL_SECONDS: ['tokenTtlSeconds', 60, 7 * 24 * 3600],
    LIVECART_IDP_JWKS_COOLDOWN_MS: ['jwksCooldownMs', 0, 3600_000],
    LIVECART_IDP_JWKS_TIMEOUT_MS: ['jwksTimeoutMs', 100, 60_000],
    LIVECART_RATE_SIGNIN_PER_IP: ['signInPerIp', 1, 100_000_000],
    LIVECART_RATE_SIGNIN_WINDOW_SECONDS: ['signInWindowSeconds', 1, 3600],
    LIVECART_SHARE_GRANT_TTL_SECONDS: ['shareGrantTtlSeconds', 60, 24 * 3600],
    LIVECART_RATE_SHARE_REDEEM_PER_IP: ['shareRedeemPerIp', 1, 10_000],
    LIVECART_RATE_SHARE_REDEEM_WINDOW_SECONDS: ['shareRedeemWindowSeconds', 1, 3600],
  };
}

function idpVariables(): string[] {
  return [...Object.keys(idpIntVars()), 'LIVECART_IDP_JWKS_URL', 'LIVECART_IDP_PUBLIC_KEY', 'LIVECART_IDP_ISSUER', 'LIVECART_IDP_AUDIENCE'];
}

function loadIdpConfig(env: NodeJS.ProcessEnv, idp: IdpConfig): void {
  readIntegers(env, idpIntVars(), idp);
  const str = (name: string): string | null => (env[name] === undefined || env[name] === '' ? null : env[name]);
  idp.jwksUrl = str('LIVECART_IDP_JWKS_URL') ?? idp.jwksUrl;
  // A PEM in one environment line usually arrives with its newlines escaped.
  idp.publicKey = str('LIVECART_IDP_PUBLIC_KEY')?.replace(/\\n/g, '\n') ?? idp.publicKey;
  idp.issuer = str('LIVECART_IDP_ISSUER') ?? idp.issuer;
  idp.audience = str('LIVECART_IDP_AUDIENCE') ?? idp.audience;
  validateIdpConfig(idp);
}

/** The IdP settings make sense together: one key source, and then both an issuer and an audience. */
export function validateIdpConfig(idp: IdpConfig): void {
  if (idp.jwksUrl !== null && idp.publicKey !== null) throw new ConfigError('set LIVECART_IDP_JWKS_URL or LIVECART_IDP_PUBLIC_KEY, not both');
  if (idp.jwksUrl !== null) envValue('LIVECART_IDP_JWKS_URL', HttpUrl, idp.jwksUrl);
  if (idp.publicKey !== null) {
    let key;
    try {
      // SPKI only (what jose's importSPKI reads): not a PKCS#1 "RSA PUBLIC KEY", not a certificate.
      if (!idp.publicKey.includes('-----BEGIN PUBLIC KEY-----')) throw new Error('not SPKI');
      key = createPublicKey(idp.publicKey);
    } catch {
      throw new ConfigError('LIVECART_IDP_PUBLIC_KEY must be a PEM public key (-----BEGIN PUBLIC KEY-----)');
    }
    const p256 = key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
    if (key.asymmetricKeyType !== 'rsa' && !p256) throw new ConfigError('LIVECART_IDP_PUBLIC_KEY must be an RSA key (RS256) or a P-256 key (ES256)');
  }
  const configured = idp.jwksUrl !== null || idp.publicKey !== null;
  for (const [name, value] of [['LIVECART_IDP_ISSUER', idp.issuer], ['LIVECART_IDP_AUDIENCE', idp.audience]] as const) {
    if (configured && value === null) throw new ConfigError(`${name} is required with LIVECART_IDP_JWKS_URL or LIVECART_IDP_PUBLIC_KEY`);
    if (!configured && value !== null) throw new ConfigError(`${name} needs LIVECART_IDP_JWKS_URL or LIVECART_IDP_PUBLIC_KEY`);
    if (value !== null && value.length > 512) throw new ConfigError(`${name} must be at most 512 characters`);
  }
  // livecart's own tokens carry issuer "livecart": an IdP claiming it would blur the two kinds.
  if (idp.issuer === 'livecart') throw new ConfigError('LIVECART_IDP_ISSUER must not be "livecart" (the issuer of livecart\'s own tokens)');
}

// ---- Redis topology and durability (README "Running a cluster", docs/ARCHITECTURE.md "Redis
// Cluster"). One Redis by REDIS_URL, or a Redis Cluster by its seed nodes; either way, an append
// can wait for replicas before it is acknowledged, so a failover keeps every acknowledged change.

export interface RedisConfig {
  /** Seed nodes of a Redis Cluster (REDIS_CLUSTER_NODES, host:port,…); null: one Redis. */
  clusterNodes: ClusterSeed[] | null;
  /**
   * Replicas that must have an append (Redis `WAIT`) before the change is acknowledged. Redis
   * replicates asynchronously: without the wait, a primary killed right after an append can take an
   * acknowledged change with it when its replica is promoted. Default 1 on a cluster, 0 on one Redis.
   */
  waitReplicas: number;
  /**
   * How long an append waits for them. Past it the change stays in the log but is not acknowledged
   * (retryable E_STORAGE_UNAVAILABLE): the device re-sends it, a no-op if it survived.
   */
  waitTimeoutMs: number;
}

function redisVariables(): string[] {
  return ['REDIS_CLUSTER_NODES', 'LIVECART_REDIS_WAIT_REPLICAS', 'LIVECART_REDIS_WAIT_TIMEOUT_MS'];
}

function loadRedisConfig(env: NodeJS.ProcessEnv, config: Config): void {
  const nodes = env.REDIS_CLUSTER_NODES;
  if (nodes !== undefined && nodes !== '') {
    const seeds = parseClusterSeeds(nodes);
    if (seeds === null) throw new ConfigError(`REDIS_CLUSTER_NODES must be host:port[,host:port…], got ${JSON.stringify(nodes)}`);
    config.redis.clusterNodes = seeds;
    config.redis.waitReplicas = 1;
    // Sharded pub/sub spreads relays over the cluster's shards; classic PUBLISH goes to every node.
    if (env.LIVECART_SOCKET_ADAPTER === undefined || env.LIVECART_SOCKET_ADAPTER === '') config.socketAdapter = 'sharded';
  }
  const replicas = env.LIVECART_REDIS_WAIT_REPLICAS;
  if (replicas !== undefined && replicas !== '') config.redis.waitReplicas = parseInteger('LIVECART_REDIS_WAIT_REPLICAS', replicas, 0, 16);
  const timeout = env.LIVECART_REDIS_WAIT_TIMEOUT_MS;
  if (timeout !== undefined && timeout !== '') config.redis.waitTimeoutMs = parseInteger('LIVECART_REDIS_WAIT_TIMEOUT_MS', timeout, 10, 60_000);
}
