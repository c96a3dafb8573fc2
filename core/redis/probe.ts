/**
 * The start-up check of bin/livecart.ts: can Redis be reached, and does it have the replicas the
 * configured replica wait needs. A Redis that cannot be reached, or a wait that could never be met
 * (every change would be refused), is a configuration problem: one line naming it, exit 1.
 */
import { Cluster, Redis } from 'ioredis';
import type { RedisTarget } from './connect.ts';

const PROBE_MS = 5000;

/** Why `target` cannot serve livecart (null: it answered and has `replicas` replicas per primary). */
export async function probeRedis(target: RedisTarget, replicas: number): Promise<string | null> {
  let last: string | null = null;
  const probe =
    'url' in target
      ? new Redis(target.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000, enableOfflineQueue: false })
      : new Cluster(target.cluster, { lazyConnect: true, enableOfflineQueue: false, clusterRetryStrategy: () => null, redisOptions: { connectTimeout: 3000, maxRetriesPerRequest: 0 } });
  probe.on('error', (err: Error) => (last = err.message));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_MS} ms`)), PROBE_MS);
  });
  try {
    return await Promise.race([check(probe, replicas), timeout]);
  } catch (err) {
    return last ?? (err instanceof Error ? err.message : String(err));
  } finally {
    clearTimeout(timer);
    probe.disconnect();
  }
}

async function check(probe: Redis | Cluster, replicas: number): Promise<string | null> {
  await probe.connect();
  await probe.ping();
  if (replicas === 0) return null;
  if (probe instanceof Cluster) {
    const short = primariesShortOfReplicas(String(await probe.cluster('NODES')), replicas);
    return short.length === 0 ? null : `primaries ${short.join(', ')} have fewer than ${replicas} connected replicas (LIVECART_REDIS_WAIT_REPLICAS)`;
  }
  const info = await probe.info('replication');
  const connected = Number(/connected_slaves:(\d+)/.exec(info)?.[1] ?? '0');
  return connected >= replicas ? null : `it has ${connected} connected replicas, LIVECART_REDIS_WAIT_REPLICAS asks for ${replicas}`;
}

/** Primaries (serving slots) in a CLUSTER NODES reply with fewer than `replicas` healthy replicas. */
export function primariesShortOfReplicas(nodes: string, replicas: number): string[] {
  const lines = nodes
    .trim()
    .split('\n')
    .map((line) => line.split(' '));
  const healthy = (flags: string): boolean => !flags.includes('fail') && !flags.includes('handshake') && !flags.includes('noaddr');
  const counts = new Map<string, number>();
  for (const [, , flags = '', master = '-'] of lines) if (flags.includes('slave') && healthy(flags)) counts.set(master, (counts.get(master) ?? 0) + 1);
  return lines.filter(([, , flags = '', , , , , , ...slots]) => flags.includes('master') && healthy(flags) && slots.length > 0).filter(([id = '']) => (counts.get(id) ?? 0) < replicas).map(([, address = '']) => address.split('@')[0] ?? address);
}
