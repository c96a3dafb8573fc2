/**
 * The seven scenarios, orchestrator side: each repetition starts a fresh system (Redis, two nodes,
 * a worker) and a fresh load generator, drives the generator, samples the processes, and returns
 * what it measured plus a list of failures (divergence, lost edits, crashes). See bench/README.md.
 */
import { mkdirSync } from 'node:fs';
import { Redis } from 'ioredis';
import { GeneratorClient, type HistoryResult, type JoinResult, type Placement, type PriceResult, type RestResult, type SetupCartsResult, type StepResult } from './ipc.ts';
import { PROC_NAMES, type ProcName, rssBytes } from './proc.ts';
import { BenchSystem, KEY_PREFIX, PRICE_SKU } from './system.ts';

export interface Flags {
  scenarios: number[];
  reps: number;
  quick: boolean;
  ladder: number[];
  warmupMs: number;
  measureMs: number;
  drainMs: number;
  convergeMs: number;
  carts: number;
  idleDevices: [number, number];
  historyEdits: number;
  joins: number;
  priceCarts: number;
  priceChanges: number;
  factsRate: number;
  cpuRate: number;
  restRate: number;
  restCarts: number;
  syncCheckMs: number | null;
  /** The nodes' LIVECART_SOCKET_ADAPTER (classic or sharded pub/sub). */
  adapter: 'redis' | 'sharded';
  /** Write V8 CPU profiles of the nodes and the worker into the log directory. */
  cpuProf: boolean;
  /** Start the nodes and the worker so that SIGUSR2 writes a heap snapshot (the soak sends it). */
  heapSnapshots: boolean;
  /** Extra LIVECART_* settings for the nodes and the worker (--env). */
  settings: Record<string, string>;
  /** Scenario 3: where a cart's two devices connect. */
  memoryPlacement: Placement;
  keepGoing: boolean;
  /** p99 bound of a sustained step (scenario 2). */
  sustainedP99Ms: number;
  /** The soak scenario (`--scenarios soak`, never in the default run) and its settings. */
  soak: boolean;
  soakMinutes: number;
  soakRate: number;
  soakCarts: number;
  soakCartTtlSeconds: number;
  soakChurnMs: number;
  soakCartEdits: number;
  soakSampleMs: number;
  /** Share of the run left out of the slope fit (warm-up), 0..0.9. */
  soakWarmup: number;
}

export interface Ctx {
  flags: Flags;
  logDir: string;
  progress(line: string): void;
}

/** A started system and generator for one repetition of one scenario. */
export interface Rig {
  system: BenchSystem;
  gen: GeneratorClient;
}

export async function withRig<T>(ctx: Ctx, label: string, env: Record<string, string>, body: (rig: Rig) => Promise<T>): Promise<T> {
  mkdirSync(ctx.logDir, { recursive: true });
  const system = new BenchSystem({ env, logDir: ctx.logDir, label, cpuProf: ctx.flags.cpuProf, heapSnapshots: ctx.flags.heapSnapshots, adapter: ctx.flags.adapter, settings: ctx.flags.settings });
  let gen: GeneratorClient | null = null;
  try {
    await system.start();
    gen = GeneratorClient.start();
    await gen.call('init', { urls: system.nodeUrls, pids: system.pids, adminToken: system.adminToken, syncCheckMs: ctx.flags.syncCheckMs });
    return await body({ system, gen });
  } finally {
    if (gen) await gen.stop();
    await system.stop();
  }
}

/** Problems that make a repetition count as failed. */
export function convergenceFailures(what: string, c: { ok: boolean; problems: string[]; clientErrors: string[]; unsaved: number; lostEdits: number; divergedCarts: number }): string[] {
  if (c.ok) return [];
  return [`${what}: not converged (${c.divergedCarts} carts diverged, ${c.lostEdits} lost edits, ${c.unsaved} devices unsaved, ${c.clientErrors.length} client errors): ${[...c.problems, ...c.clientErrors].slice(0, 3).join(' | ')}`];
}

function stepFailures(what: string, s: StepResult, system: BenchSystem): string[] {
  const out = convergenceFailures(what, s.convergence);
  if (s.unexpected > 0) out.push(`${what}: ${s.unexpected} unexplained quantities observed`);
  out.push(...system.aliveProblems().map((p) => `${what}: ${p}`));
  return out;
}

// ---------------------------------------------------------------------------------------------
// 1 and 2: the latency ladder

export interface LadderRep {
  placement: Placement;
  setup: SetupCartsResult;
  steps: StepResult[];
  stoppedAfter: string | null;
  failures: string[];
}

export async function ladder(ctx: Ctx, rep: number, placement: Placement): Promise<LadderRep> {
  const f = ctx.flags;
  return withRig(ctx, `ladder-${placement}-rep${rep}`, {}, async ({ system, gen }) => {
    const setup = await gen.call('setupCarts', { count: f.carts, placement, convergeMs: f.convergeMs });
    const failures = convergenceFailures('setup', setup.convergence);
    ctx.progress(`  ${setup.carts} carts, ${setup.devices} devices (${placement}) ready in ${(setup.ms / 1000).toFixed(1)} s`);
    const steps: StepResult[] = [];
    let stoppedAfter: string | null = null;
    for (const rate of f.ladder) {
      const s = await gen.call('step', { rate, warmupMs: f.warmupMs, measureMs: f.measureMs, trackFacts: false, drainMs: f.drainMs, convergeMs: f.convergeMs });
      steps.push(s);
      failures.push(...stepFailures(`${placement} ${rate}/s`, s, system));
      ctx.progress(
        `  ${placement} ${rate}/s: achieved ${s.achievedRate.toFixed(0)}/s, p50 ${fmt(s.latency.p50)} p99 ${fmt(s.latency.p99)} max ${fmt(s.latency.max)} ms, ` +
          `cpu n1 ${fmt(s.cpu.percent.node1, 0)}% n2 ${fmt(s.cpu.percent.node2, 0)}% w ${fmt(s.cpu.percent.worker, 0)}% r ${fmt(s.cpu.percent.redis, 0)}% gen ${fmt(s.cpu.percent.generator, 0)}%, machine ${fmt(s.cpu.machinePercent, 0)}% of all cores (others ${fmt(s.cpu.otherPercent, 0)}% of a core), gen late p99 ${fmt(s.schedLag.p99)} ms, ` +
          `converged ${s.convergence.ok ? 'yes' : 'NO'} in ${(s.convergence.ms / 1000).toFixed(1)} s`,
      );
      const saturated = (s.latency.p99 ?? Infinity) > 1000 || s.achievedRate < 0.8 * rate || !s.convergence.ok || s.unobserved > 0;
      if (saturated && !f.keepGoing) {
        stoppedAfter = `${rate}/s (${!s.convergence.ok ? 'did not converge' : s.unobserved > 0 ? `${s.unobserved} edits unobserved` : s.achievedRate < 0.8 * rate ? 'achieved < 80 % of offered' : 'p99 > 1 s'})`;
        break;
      }
    }
    return { placement, setup, steps, stoppedAfter, failures };
  });
}

const fmt = (v: number | null | undefined, digits = 1): string => (v === null || v === undefined ? '–' : v.toFixed(digits));

/** The best step of a ladder with p99 below the bound, full convergence, and ≥ 85 % of the offered rate achieved (Poisson noise). */
export function bestSustained(rep: LadderRep, p99Ms: number): StepResult | null {
  let best: StepResult | null = null;
  for (const s of rep.steps) {
    const ok = s.convergence.ok && s.unobserved === 0 && (s.latency.p99 ?? Infinity) < p99Ms && s.achievedRate >= 0.85 * s.rate;
    if (ok && (best === null || s.rate > best.rate)) best = s;
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// 3: memory per idle device

export interface MemorySample {
  rss: Record<ProcName, number | null>;
  redisUsedMemory: number | null;
}

export interface MemoryRep {
  baseline: MemorySample;
  points: Array<{ devices: number; carts: number; sample: MemorySample; setupMs: number; generatorRss: number }>;
  failures: string[];
}

async function memorySample(system: BenchSystem): Promise<MemorySample> {
  // Three readings half a second apart, averaged: RSS moves with every GC.
  const acc: Record<ProcName, number[]> = { node1: [], node2: [], worker: [], redis: [] };
  for (let i = 0; i < 3; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 500));
    for (const name of PROC_NAMES) {
      const v = rssBytes(system.pids[name]);
      if (v !== null) acc[name].push(v);
    }
  }
  const rss = {} as Record<ProcName, number | null>;
  for (const name of PROC_NAMES) rss[name] = acc[name].length === 0 ? null : acc[name].reduce((a, b) => a + b, 0) / acc[name].length;
  const redis = new Redis(system.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  let redisUsedMemory: number | null = null;
  try {
    await redis.connect();
    const info = await redis.info('memory');
    const m = /^used_memory:(\d+)/m.exec(info);
    redisUsedMemory = m ? Number(m[1]) : null;
  } finally {
    redis.disconnect();
  }
  return { rss, redisUsedMemory };
}

export async function memory(ctx: Ctx, rep: number): Promise<MemoryRep> {
  const f = ctx.flags;
  return withRig(ctx, `memory-rep${rep}`, {}, async ({ system, gen }) => {
    await new Promise((r) => setTimeout(r, 2000));
    const baseline = await memorySample(system);
    const points: MemoryRep['points'] = [];
    const failures: string[] = [];
    for (const target of f.idleDevices) {
      const res = await gen.call('idleDevices', { totalDevices: target, placement: f.memoryPlacement, concurrency: 32, convergeMs: f.convergeMs });
      failures.push(...convergenceFailures(`${target} idle devices`, res.convergence));
      // Let revalidations, acks and the first GCs settle.
      await new Promise((r) => setTimeout(r, 3000));
      const sample = await memorySample(system);
      points.push({ devices: res.devices, carts: res.carts, sample, setupMs: res.setupMs, generatorRss: res.generatorRss });
      const mb = (v: number | null): string => (v === null ? '–' : (v / 1048576).toFixed(0));
      ctx.progress(`  ${res.devices} idle devices: RSS node1 ${mb(sample.rss.node1)} MiB, node2 ${mb(sample.rss.node2)} MiB, redis ${mb(sample.rss.redis)} MiB (setup ${(res.setupMs / 1000).toFixed(1)} s)`);
    }
    failures.push(...system.aliveProblems());
    return { baseline, points, failures };
  });
}

export interface MemoryFigures {
  /** Bytes per device between the two points. */
  marginalNodes: number | null;
  marginalRedis: number | null;
  marginalTotal: number | null;
  /** Bytes per device from the baseline to the first point. */
  firstNodes: number | null;
  firstRedis: number | null;
  redisUsedPerDevice: number | null;
}

export function memoryFigures(rep: MemoryRep): MemoryFigures {
  const [p1, p2] = rep.points;
  const nodes = (s: MemorySample): number | null => (s.rss.node1 === null || s.rss.node2 === null ? null : s.rss.node1 + s.rss.node2);
  const per = (a: number | null, b: number | null, n: number): number | null => (a === null || b === null || n <= 0 ? null : (b - a) / n);
  if (!p1) return { marginalNodes: null, marginalRedis: null, marginalTotal: null, firstNodes: null, firstRedis: null, redisUsedPerDevice: null };
  const first = p1.devices;
  const out: MemoryFigures = {
    marginalNodes: null,
    marginalRedis: null,
    marginalTotal: null,
    firstNodes: per(nodes(rep.baseline), nodes(p1.sample), first),
    firstRedis: per(rep.baseline.rss.redis, p1.sample.rss.redis, first),
    redisUsedPerDevice: null,
  };
  if (p2) {
    const n = p2.devices - p1.devices;
    out.marginalNodes = per(nodes(p1.sample), nodes(p2.sample), n);
    out.marginalRedis = per(p1.sample.rss.redis, p2.sample.rss.redis, n);
    out.marginalTotal = out.marginalNodes === null || out.marginalRedis === null ? null : out.marginalNodes + out.marginalRedis;
    out.redisUsedPerDevice = per(p1.sample.redisUsedMemory, p2.sample.redisUsedMemory, n);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// 4: cold join

export interface LogStats {
  version: number;
  snapVersion: number;
  logEntries: number;
  snapshotBytes: number;
}

export interface JoinPhase {
  log: LogStats;
  host: JoinResult;
  other: JoinResult;
}

export interface ColdJoinRep {
  history: HistoryResult;
  before: JoinPhase;
  after: JoinPhase | null;
  failures: string[];
}

async function logStats(redisUrl: string, cartId: string): Promise<LogStats> {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const tag = `${KEY_PREFIX}:{${cartId}}`;
    const [version, snapVersion] = await redis.hmget(`${tag}:meta`, 'version', 'snapVersion');
    const logEntries = await redis.xlen(`${tag}:log`);
    const snapshotBytes = await redis.strlen(`${tag}:snap`);
    return { version: Number(version ?? 0), snapVersion: Number(snapVersion ?? 0), logEntries, snapshotBytes };
  } finally {
    redis.disconnect();
  }
}

export async function coldJoin(ctx: Ctx, rep: number): Promise<ColdJoinRep> {
  const f = ctx.flags;
  // Compaction off while the history is built; carts unload as soon as their last device leaves,
  // so every join on the node that does not host the cart loads it from Redis.
  const noCompaction = { LIVECART_COMPACT_AFTER_CHANGES: '1000000', LIVECART_IDLE_UNLOAD_MS: '0' };
  return withRig(ctx, `coldjoin-rep${rep}`, noCompaction, async ({ system, gen }) => {
    const failures: string[] = [];
    const history = await gen.call('buildHistory', { edits: f.historyEdits, lines: 10, burst: 100 });
    ctx.progress(`  history: ${history.edits} edits in ${(history.ms / 1000).toFixed(1)} s, version ${history.version}`);
    const phase = async (label: string): Promise<JoinPhase> => {
      const log = await logStats(system.redisUrl, history.cartId);
      const params = { cartId: history.cartId, token: history.token, count: f.joins, expectLines: history.lines, pauseMs: 150, warmup: 1 };
      const host = await gen.call('joins', { ...params, node: 0 });
      const other = await gen.call('joins', { ...params, node: 1 });
      for (const [where, r] of [['host', host], ['other', other]] as const) {
        if (r.failures.length > 0) failures.push(`${label} ${where}: ${r.failures.length} joins failed: ${r.failures.slice(0, 2).join(' | ')}`);
      }
      const p50 = (t: number[]): string => (t.length === 0 ? '–' : [...t].sort((a, b) => a - b)[Math.floor((t.length - 1) / 2)]!.toFixed(1));
      ctx.progress(`  ${label} (log ${log.logEntries} entries, snapshot ${log.snapshotBytes} B at v${log.snapVersion}): join p50 host ${p50(host.times)} ms, other ${p50(other.times)} ms`);
      return { log, host, other };
    };
    const before = await phase('before compaction');
    // Default compaction threshold: the next append asks for a compaction; wait until it ran.
    await gen.call('closeAll', {});
    await system.restartApps({ LIVECART_IDLE_UNLOAD_MS: '0' });
    await gen.call('init', { urls: system.nodeUrls, pids: system.pids, adminToken: system.adminToken, syncCheckMs: f.syncCheckMs });
    await gen.call('touchHistory', { cartId: history.cartId, token: history.token, node: 0 });
    const deadline = Date.now() + 60_000;
    let stats = await logStats(system.redisUrl, history.cartId);
    while (stats.snapVersion === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      stats = await logStats(system.redisUrl, history.cartId);
    }
    let after: JoinPhase | null = null;
    if (stats.snapVersion === 0) failures.push('compaction did not run within 60 s');
    else {
      // Revalidation of the touch may still append; give it a moment.
      await new Promise((r) => setTimeout(r, 1000));
      after = await phase('after compaction');
    }
    failures.push(...system.aliveProblems());
    return { history, before, after, failures };
  });
}

// ---------------------------------------------------------------------------------------------
// 5: correction latency

export interface CorrectionRep {
  setup: SetupCartsResult;
  price: PriceResult;
  facts: StepResult;
  failures: string[];
}

export async function correction(ctx: Ctx, rep: number): Promise<CorrectionRep> {
  const f = ctx.flags;
  return withRig(ctx, `correction-rep${rep}`, {}, async ({ system, gen }) => {
    const setup = await gen.call('setupCarts', { count: f.priceCarts, placement: 'cross', extraSku: PRICE_SKU, convergeMs: f.convergeMs });
    const failures = convergenceFailures('setup', setup.convergence);
    // The SKU index is written right after the correction that priced the line: let it land.
    await new Promise((r) => setTimeout(r, 1000));
    const price = await gen.call('priceChanges', { sku: PRICE_SKU, changes: f.priceChanges, timeoutMs: 15_000, pauseMs: 500 });
    if (price.missing > 0) failures.push(`catalog change: ${price.missing} device observations missing after 15 s`);
    ctx.progress(`  catalog change: ${price.latencies.length} observations on ${price.devices} devices, all-devices ${price.allDevices.map((v) => v.toFixed(0)).join(', ')} ms`);
    const facts = await gen.call('step', { rate: f.factsRate, warmupMs: f.warmupMs, measureMs: f.measureMs, trackFacts: true, drainMs: Math.max(f.drainMs, 5000), convergeMs: f.convergeMs });
    failures.push(...stepFailures(`facts at ${f.factsRate}/s`, facts, system));
    ctx.progress(`  edit facts at ${f.factsRate}/s: p50 ${fmt(facts.facts?.latency.p50)} p99 ${fmt(facts.facts?.latency.p99)} ms (${facts.facts?.superseded ?? 0} answered by a later edit's facts, ${facts.facts?.unobserved ?? 0} unpriced at the deadline)`);
    return { setup, price, facts, failures };
  });
}

// ---------------------------------------------------------------------------------------------
// 6: REST

export interface RestRep {
  result: RestResult;
  failures: string[];
}

export async function restScenario(ctx: Ctx, rep: number): Promise<RestRep> {
  const f = ctx.flags;
  return withRig(ctx, `rest-rep${rep}`, {}, async ({ system, gen }) => {
    const result = await gen.call('rest', { carts: f.restCarts, rate: f.restRate, warmupMs: f.warmupMs, measureMs: f.measureMs, convergeMs: f.convergeMs });
    const failures = [...convergenceFailures(`REST ${f.restRate}/s`, result.convergence), ...system.aliveProblems()];
    ctx.progress(`  REST add-line ${f.restRate}/s: achieved ${result.achievedRate.toFixed(0)}/s, p50 ${fmt(result.latency.p50)} p99 ${fmt(result.latency.p99)} ms`);
    return { result, failures };
  });
}

// ---------------------------------------------------------------------------------------------
// 7: CPU per 1,000 edits

export interface CpuRep {
  setup: SetupCartsResult;
  step: StepResult;
  failures: string[];
}

export interface CpuFigures {
  servers: number | null;
  redis: number | null;
  serversRedis: number | null;
  worker: number | null;
  generator: number | null;
}

export function cpuPerThousand(s: StepResult): CpuFigures {
  const k = s.sent / 1000;
  const sec = s.cpu.seconds;
  const per = (v: number | null): number | null => (v === null || k <= 0 ? null : v / k);
  const servers = sec.node1 === null || sec.node2 === null ? null : sec.node1 + sec.node2;
  return {
    servers: per(servers),
    redis: per(sec.redis),
    serversRedis: servers === null || sec.redis === null ? null : per(servers + sec.redis),
    worker: per(sec.worker),
    generator: per(sec.generator),
  };
}

export async function cpuScenario(ctx: Ctx, rep: number): Promise<CpuRep> {
  const f = ctx.flags;
  return withRig(ctx, `cpu-rep${rep}`, {}, async ({ system, gen }) => {
    const setup = await gen.call('setupCarts', { count: f.carts, placement: 'cross', convergeMs: f.convergeMs });
    const failures = convergenceFailures('setup', setup.convergence);
    const step = await gen.call('step', { rate: f.cpuRate, warmupMs: f.warmupMs, measureMs: f.measureMs, trackFacts: false, drainMs: f.drainMs, convergeMs: f.convergeMs });
    failures.push(...stepFailures(`cpu ${f.cpuRate}/s`, step, system));
    const c = cpuPerThousand(step);
    ctx.progress(`  ${f.cpuRate}/s: ${step.sent} edits; CPU s per 1,000 edits: servers ${fmt(c.servers, 3)}, redis ${fmt(c.redis, 3)}, worker ${fmt(c.worker, 3)}, generator ${fmt(c.generator, 3)}`);
    return { setup, step, failures };
  });
}
