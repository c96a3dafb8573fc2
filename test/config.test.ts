/** Configuration is validated at start: bad or unknown values stop the process with a clear message. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, DEFAULT_CONFIG, loadConfig } from '../core/config.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('loadConfig', () => {
  it('has documented defaults with no environment', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.redisUrl).toBeNull();
    expect(config.limits.maxQuantity).toBe(99);
    expect(config.production).toBe(false);
  });

  it('reads values and limits from the environment', () => {
    const config = loadConfig({ PORT: '8080', REDIS_URL: 'redis://10.0.0.1:6380', LIVECART_MAX_LINES: '5', LIVECART_LOG_LEVEL: 'warn' });
    expect(config.port).toBe(8080);
    expect(config.redisUrl).toBe('redis://10.0.0.1:6380');
    expect(config.limits.maxLines).toBe(5);
    expect(config.logLevel).toBe('warn');
    expect(DEFAULT_CONFIG.limits.maxLines).toBe(100);
  });

  it('REDIS_CLUSTER_NODES names a cluster: seeds, the sharded adapter and a replica wait of 1 by default', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7001, redis-2:7002' });
    expect(config.redis.clusterNodes).toEqual([{ host: '10.0.0.1', port: 7001 }, { host: 'redis-2', port: 7002 }]);
    expect(config.redisUrl).toBeNull();
    expect(config.socketAdapter).toBe('sharded');
    expect(config.redis.waitReplicas).toBe(1);
    const chosen = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7001', LIVECART_SOCKET_ADAPTER: 'redis', LIVECART_REDIS_WAIT_REPLICAS: '0', LIVECART_REDIS_WAIT_TIMEOUT_MS: '250' });
    expect([chosen.socketAdapter, chosen.redis.waitReplicas, chosen.redis.waitTimeoutMs]).toEqual(['redis', 0, 250]);
    // One Redis waits for no replica unless asked.
    expect(loadConfig({ REDIS_URL: 'redis://10.0.0.1:6379' }).redis.waitReplicas).toBe(0);
    expect(loadConfig({ NODE_ENV: 'production', LIVECART_JWT_SECRET: 'x'.repeat(32), REDIS_CLUSTER_NODES: '10.0.0.1:7001' }).production).toBe(true);
  });

  it.each([
    [{ LIVECART_MAX_LINEZ: '5' }, /unknown setting LIVECART_MAX_LINEZ/],
    [{ PORT: 'eighty' }, /PORT must be an integer/],
    [{ PORT: '70000' }, /PORT must be between/],
    [{ LIVECART_MAX_QUANTITY: '0' }, /LIVECART_MAX_QUANTITY must be between/],
    [{ LIVECART_JWT_SECRET: 'short' }, /at least 32 characters/],
    [{ LIVECART_ADMIN_TOKEN: 'short' }, /at least 16 characters/],
    [{ REDIS_URL: 'localhost:6379' }, /REDIS_URL must start with redis:\/\//],
    [{ NODE_ENV: 'production', REDIS_URL: 'redis://r:6379' }, /production requires LIVECART_JWT_SECRET/],
    [{ NODE_ENV: 'production', LIVECART_JWT_SECRET: 'x'.repeat(32) }, /production requires REDIS_URL or REDIS_CLUSTER_NODES/],
    [{ LIVECART_LOG_LEVEL: 'loud' }, /LIVECART_LOG_LEVEL/],
    [{ LIVECART_SEED_CATALOG: 'yes' }, /LIVECART_SEED_CATALOG must be true or false/],
    [{ LIVECART_KEY_PREFIX: 'has space' }, /LIVECART_KEY_PREFIX/],
    [{ LIVECART_MAX_UPDATE_BYTES: '900000' }, /must not exceed LIVECART_MAX_SYNC_BYTES/],
    [{ REDIS_CLUSTER_NODES: '10.0.0.1' }, /REDIS_CLUSTER_NODES must be host:port/],
    [{ REDIS_CLUSTER_NODES: '10.0.0.1:7001,,10.0.0.2:7002' }, /REDIS_CLUSTER_NODES must be host:port/],
    [{ REDIS_CLUSTER_NODES: 'redis://10.0.0.1:7001' }, /REDIS_CLUSTER_NODES must be host:port/],
    [{ REDIS_CLUSTER_NODES: '10.0.0.1:70001' }, /REDIS_CLUSTER_NODES must be host:port/],
    [{ REDIS_CLUSTER_NODES: '10.0.0.1:7001', REDIS_URL: 'redis://10.0.0.1:6379' }, /REDIS_URL and REDIS_CLUSTER_NODES are exclusive/],
    [{ LIVECART_REDIS_WAIT_REPLICAS: '-1' }, /LIVECART_REDIS_WAIT_REPLICAS must be between/],
    [{ LIVECART_REDIS_WAIT_TIMEOUT_MS: '0' }, /LIVECART_REDIS_WAIT_TIMEOUT_MS must be between/],
    [{ LIVECART_REDIS_WAITREPLICAS: '1' }, /unknown setting LIVECART_REDIS_WAITREPLICAS/],
  ])('rejects %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('start-up', () => {
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'bin/livecart.ts', '--role', 'all'], {
      cwd: ROOT,
      env: { HOME: process.env.HOME ?? '/tmp', LIVECART_DATA_DIR: mkdtempSync(join(tmpdir(), 'lc-cfg-')), ...env },
      encoding: 'utf8',
      timeout: 20_000,
    });

  it('a bad setting stops the process with a message naming it', () => {
    const res = run({ PATH: process.env.PATH ?? '', PORT: 'nope' });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('configuration error: PORT must be an integer');
  });

  it('NODE_ENV=production refuses to start without a JWT secret', () => {
    const res = run({ PATH: process.env.PATH ?? '', NODE_ENV: 'production', REDIS_URL: 'redis://127.0.0.1:1' });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('NODE_ENV=production requires LIVECART_JWT_SECRET');
  });

  it('without REDIS_URL and without a redis-server binary, names the package to install', () => {
    const res = run({ PATH: '/nonexistent' });
    expect(res.status).toBe(1);
    expect(res.stderr).toContain('no redis-server on PATH');
    expect(res.stderr).toContain('apt-get install redis-server');
  });
});

describe('README', () => {
  it('documents exactly the variables the server reads', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1));
    const documented = new Set([...table.matchAll(/`((?:LIVECART_|REDIS_|PORT|HOST)[A-Z_]*)`/g)].map((m) => m[1]));
    expect([...documented].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });
});
