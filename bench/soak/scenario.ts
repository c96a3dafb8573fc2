/**
 * The soak, orchestrator side: a system whose nodes expire carts quickly, the generator's steady
 * load with churn (bench/soak/load.ts), and a sample of every process's memory and Redis every
 * `--soak-sample-ms`; the figure is each series' least-squares slope per hour after the warm-up.
 */
import { Redis } from 'ioredis';
import { type Ctx, convergenceFailures, withRig } from '../scenarios.ts';
import type { BenchSystem } from '../system.ts';
import { rssBytes } from '../proc.ts';
import type { SoakParams, SoakResult } from './types.ts';

export const SOAK_SERIES = [
  'node1Rss',
  'node2Rss',
  'workerRss',
  // What of the RSS is JavaScript heap (from each process's /metrics): RSS growing while the heap is
  // flat is the allocator's; a growing heap is objects kept.
  'node1Heap',
  'node2Heap',
  'workerHeap',
  // Yjs structs of the carts loaded on each node: a loaded cart's document grows with its history.
  'node1DocStructs',
  'node2DocStructs',
  'redisRss',
  'redisUsedMemory',
  'redisUsedMemoryRss',
  'redisKeys',
] as const;
export type SoakSeries = (typeof SOAK_SERIES)[number];
/** Series that count things (keys, structs); the others are bytes. */
export const SOAK_COUNTS: ReadonlySet<SoakSeries> = new Set(['redisKeys', 'node1DocStructs', 'node2DocStructs']);

export interface SoakSample {
  /** Seconds since the soak's load started. */
  t: number;
  values: Record<SoakSeries, number | null>;
}

export interface SoakFit {
  /** Samples in the fit (after the warm-up). */
  n: number;
  /** First and last sample of the whole run. */
  start: number | null;
  end: number | null;
  /** Least-squares slope over the samples after the warm-up, per hour (bytes or keys). */
  perHour: number | null;
  /** The slope as a share of the fitted series' mean, % per hour. */
  percentPerHour: number | null;
}

export interface SoakRep {
  params: SoakParams;
  env: Record<string, string>;
  warmupSeconds: number;
  samples: SoakSample[];
  fits: Record<SoakSeries, SoakFit>;
  result: SoakResult;
  failures: string[];
}

/** Least-squares slope of y over x (x in seconds), or null with fewer than 3 points. */
export function slope(points: ReadonlyArray<[number, number]>): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * (y - my);
  }
  return sxx === 0 ? null : sxy / sxx;
}

function fit(samples: readonly SoakSample[], series: SoakSeries, warmupSeconds: number): SoakFit {
  const all = samples.map((s) => s.values[series]).filter((v): v is number => v !== null);
  const points = samples.filter((s) => s.t >= warmupSeconds && s.values[series] !== null).map((s): [number, number] => [s.t, s.values[series]!]);
  const perSecond = slope(points);
  const mean = points.length === 0 ? null : points.reduce((a, [, y]) => a + y, 0) / points.length;
  const perHour = perSecond === null ? null : perSecond * 3600;
  return { n: points.length, start: all[0] ?? null, end: all[all.length - 1] ?? null, perHour, percentPerHour: perHour === null || !mean ? null : (perHour / mean) * 100 };
}

/** Gauges of one process's GET /metrics, or nulls when it does not answer. */
async function gauges(url: string, names: readonly string[]): Promise<Array<number | null>> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    return names.map((name) => {
      const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
      return m ? Number(m[1]) : null;
    });
  } catch {
    return names.map(() => null);
  }
}

async function processFigures(system: BenchSystem): Promise<Pick<SoakSample['values'], 'node1Heap' | 'node2Heap' | 'workerHeap' | 'node1DocStructs' | 'node2DocStructs'>> {
  const node = ['nodejs_heap_size_used_bytes', 'livecart_hosted_doc_structs'];
  const [node1, node2, worker] = await Promise.all([gauges(system.nodeUrls[0], node), gauges(system.nodeUrls[1], node), gauges(system.workerUrl, ['nodejs_heap_size_used_bytes'])]);
  return { node1Heap: node1[0] ?? null, node1DocStructs: node1[1] ?? null, node2Heap: node2[0] ?? null, node2DocStructs: node2[1] ?? null, workerHeap: worker[0] ?? null };
}

async function redisFigures(redis: Redis): Promise<Pick<SoakSample['values'], 'redisUsedMemory' | 'redisUsedMemoryRss' | 'redisKeys'>> {
  try {
    const info = await redis.info('memory');
    const num = (name: string): number | null => {
      const m = new RegExp(`^${name}:(\\d+)`, 'm').exec(info);
      return m ? Number(m[1]) : null;
    };
    return { redisUsedMemory: num('used_memory'), redisUsedMemoryRss: num('used_memory_rss'), redisKeys: await redis.dbsize() };
  } catch {
    return { redisUsedMemory: null, redisUsedMemoryRss: null, redisKeys: null };
  }
}

export async function soak(ctx: Ctx, rep: number): Promise<SoakRep> {
  const f = ctx.flags;
  const ttl = String(f.soakCartTtlSeconds);
  // Carts expire soon after their last write, so retired carts leave Redis during the run.
  const env = { LIVECART_CART_TTL_SECONDS: ttl, LIVECART_EMPTY_CART_TTL_SECONDS: ttl };
  const durationMs = Math.round(f.soakMinutes * 60_000);
  const params: SoakParams = { durationMs, rate: f.soakRate, carts: f.soakCarts, churnMs: f.soakChurnMs, cartEdits: f.soakCartEdits, offlineMs: [3000, 15_000], cartTtlSeconds: f.soakCartTtlSeconds, convergeMs: f.convergeMs };
  const warmupSeconds = (durationMs / 1000) * f.soakWarmup;
  return withRig(ctx, `soak-rep${rep}`, env, async ({ system, gen }) => {
    const redis = new Redis(system.redisUrl, { maxRetriesPerRequest: 1 });
    const samples: SoakSample[] = [];
    const t0 = Date.now();
    const sampleNow = async (): Promise<void> => {
      const pids = system.pids;
      const values = { node1Rss: rssBytes(pids.node1), node2Rss: rssBytes(pids.node2), workerRss: rssBytes(pids.worker), redisRss: rssBytes(pids.redis), ...(await processFigures(system)), ...(await redisFigures(redis)) };
      samples.push({ t: (Date.now() - t0) / 1000, values });
      const mb = (v: number | null): string => (v === null ? '–' : (v / 1048576).toFixed(0));
      if (samples.length % 6 === 1) ctx.progress(`  soak ${(samples[samples.length - 1]!.t / 60).toFixed(1)} min: RSS (heap) node1 ${mb(values.node1Rss)} (${mb(values.node1Heap)}) node2 ${mb(values.node2Rss)} (${mb(values.node2Heap)}) worker ${mb(values.workerRss)} (${mb(values.workerHeap)}), doc structs ${values.node1DocStructs ?? '–'}/${values.node2DocStructs ?? '–'}, redis ${mb(values.redisRss)} MiB, used_memory ${mb(values.redisUsedMemory)} MiB, ${values.redisKeys ?? '–'} keys`);
    };
    let sampling = Promise.resolve();
    const timer = setInterval(() => {
      sampling = sampling.then(sampleNow);
    }, f.soakSampleMs);
    let result: SoakResult;
    try {
      await sampleNow();
      result = await gen.call('soak', params);
    } finally {
      clearInterval(timer);
      await sampling;
    }
    await sampleNow();
    // After the load: a snapshot blocks its process for seconds, which a running load would feel.
    // Compare a short soak's snapshots with a long one's to see what the run leaves behind.
    if (f.heapSnapshots) {
      await system.heapSnapshots();
      ctx.progress('  soak: heap snapshots written');
    }
    redis.disconnect();
    const fits = {} as Record<SoakSeries, SoakFit>;
    for (const s of SOAK_SERIES) fits[s] = fit(samples, s, warmupSeconds);
    const failures = [...convergenceFailures('soak end', result.convergence), ...system.aliveProblems()];
    if (result.retireProblems.length > 0) failures.push(`${result.retireProblems.length} carts not converged when retired: ${result.retireProblems.slice(0, 3).join(' | ')}`);
    if (result.actionErrors.length > 0) failures.push(`${result.actionErrors.length} churn actions failed: ${result.actionErrors.slice(0, 3).join(' | ')}`);
    const c = result.counts;
    ctx.progress(
      `  soak: ${c.edits} edits (${c.offlineEdits} offline) at ${result.achievedRate.toFixed(0)}/s, ack p99 ${result.ackLatency.p99?.toFixed(1) ?? '–'} ms; ${c.joins} joins, ${c.leaves} leaves, ${c.offlines} offline periods, ` +
        `${c.cartsCreated} carts created, ${c.cartsRetired} retired (${c.cartsExpired} expired, ${c.cartsNotExpired} still readable, ${c.cartsExpiryPending} not due); converged ${result.convergence.ok ? 'yes' : 'NO'}`,
    );
    for (const s of SOAK_SERIES) {
      const x = fits[s];
      ctx.progress(`  ${s}: start ${x.start ?? '–'}, end ${x.end ?? '–'}, slope ${x.perHour === null ? '–' : x.perHour.toFixed(0)}/h (${x.percentPerHour === null ? '–' : x.percentPerHour.toFixed(1)} %/h, ${x.n} samples after ${warmupSeconds.toFixed(0)} s)`);
    }
    return { params, env, warmupSeconds, samples, fits, result, failures };
  });
}
