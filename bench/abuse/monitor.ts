/**
 * What the abuse run watches: each process's CPU per second (from /proc) and Redis memory, sampled
 * every second; and, at the end, what the attacks left in Redis.
 */
import { Redis } from 'ioredis';
import { type MachineTicks, PROC_NAMES, type ProcName, type Pids, cpuSeconds, machineTicks, rssBytes } from '../proc.ts';
import { KEY_PREFIX } from '../system.ts';

export type Watched = ProcName | 'honest' | 'attackers';

export interface Sample {
  /** Date.now() at the end of the second. */
  at: number;
  /** % of one core over the last interval. */
  cpu: Record<Watched, number | null>;
  usedMemory: number | null;
  /** RSS of the nodes (bytes). */
  rss: { node1: number | null; node2: number | null };
  /** CPU seconds used so far by each node (for the seconds spent after the attack). */
  cpuTotal: { node1: number | null; node2: number | null };
  /** Busy share of all the machine's cores (anything running on it, ours or not), 0..100. */
  machine: number | null;
}

export class Monitor {
  readonly samples: Sample[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private last: { at: number; cpu: Record<Watched, number | null>; machine: MachineTicks | null } | null = null;
  private readonly redis: Redis;
  private busy = false;

  constructor(
    private readonly pids: Pids & { honest: number; attackers: number[] },
    redisUrl: string,
  ) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  }

  private read(): Record<Watched, number | null> {
    const out = {} as Record<Watched, number | null>;
    for (const name of PROC_NAMES) out[name] = cpuSeconds(this.pids[name]);
    out.honest = cpuSeconds(this.pids.honest);
    const attackers = this.pids.attackers.map(cpuSeconds);
    out.attackers = attackers.some((v) => v === null) ? null : attackers.reduce<number>((a, b) => a + (b ?? 0), 0);
    return out;
  }

  start(): void {
    this.last = { at: Date.now(), cpu: this.read(), machine: machineTicks() };
    this.timer = setInterval(() => void this.tick(), 1000);
  }

  private async tick(): Promise<void> {
    const at = Date.now();
    const cpu = this.read();
    const prev = this.last!;
    const machine = machineTicks();
    this.last = { at, cpu, machine };
    const wall = (at - prev.at) / 1000;
    const pct = {} as Record<Watched, number | null>;
    for (const k of Object.keys(cpu) as Watched[]) {
      const a = prev.cpu[k];
      const b = cpu[k];
      pct[k] = a === null || b === null || wall <= 0 ? null : ((b - a) / wall) * 100;
    }
    const total = machine && prev.machine ? machine.total - prev.machine.total : 0;
    const busy = machine && prev.machine && total > 0 ? ((machine.busy - prev.machine.busy) / total) * 100 : null;
    const sample: Sample = { at, cpu: pct, usedMemory: null, machine: busy, rss: { node1: rssBytes(this.pids.node1), node2: rssBytes(this.pids.node2) }, cpuTotal: { node1: cpu.node1, node2: cpu.node2 } };
    this.samples.push(sample);
    // Redis may be slow to answer under attack: the sample is filled in when it does.
    if (this.busy) return;
    this.busy = true;
    try {
      sample.usedMemory = await usedMemory(this.redis);
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.redis.disconnect();
  }
}

export async function usedMemory(redis: Redis): Promise<number | null> {
  try {
    const m = /^used_memory:(\d+)/m.exec(await redis.info('memory'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export interface RedisLeftovers {
  usedMemory: number | null;
  keys: number;
  idempotencyKeys: number;
  /** Idempotency records whose value contains a bearer token handed out during the run. */
  tokensInPlainText: number;
  skuIndexKeys: number;
  skuIndexKeysWithoutTtl: number;
  junkSkuIndexKeys: number;
  /** Keys without a TTL, by shape (cart id and SKU folded). */
  keysWithoutTtl: Record<string, number>;
  /** Bytes (MEMORY USAGE) of each named cart's keys. */
  cartBytes: Record<string, number>;
}

async function scanAll(redis: Redis, match: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

export async function inspectRedis(redisUrl: string, tokens: readonly string[], carts: Record<string, string>): Promise<RedisLeftovers> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const all = await scanAll(redis, `${KEY_PREFIX}:*`);
    const idem = all.filter((k) => k.includes(':idem'));
    let tokensInPlainText = 0;
    for (const k of idem) {
      const type = await redis.type(k);
      const value = type === 'string' ? ((await redis.get(k)) ?? '') : type === 'hash' ? JSON.stringify(await redis.hgetall(k)) : '';
      if (tokens.some((t) => value.includes(t))) tokensInPlainText += 1;
    }
    const sku = all.filter((k) => k.startsWith(`${KEY_PREFIX}:idx:sku:`));
    const keysWithoutTtl: Record<string, number> = {};
    let skuNoTtl = 0;
    for (const k of all) {
      if ((await redis.ttl(k)) !== -1) continue;
      if (sku.includes(k)) skuNoTtl += 1;
      const shape = k.replace(/\{[^}]*\}/g, '{…}');
      keysWithoutTtl[shape] = (keysWithoutTtl[shape] ?? 0) + 1;
    }
    const cartBytes: Record<string, number> = {};
    for (const [label, cartId] of Object.entries(carts)) {
      let bytes = 0;
      for (const k of await scanAll(redis, `${KEY_PREFIX}:{${cartId}}:*`)) bytes += Number((await redis.memory('USAGE', k)) ?? 0);
      cartBytes[label] = bytes;
    }
    return {
      usedMemory: await usedMemory(redis),
      keys: all.length,
      idempotencyKeys: idem.length,
      tokensInPlainText,
      skuIndexKeys: sku.length,
      skuIndexKeysWithoutTtl: skuNoTtl,
      junkSkuIndexKeys: sku.filter((k) => k.includes('JUNK-')).length,
      keysWithoutTtl,
      cartBytes,
    };
  } finally {
    redis.disconnect();
  }
}
