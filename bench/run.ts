/**
 * `npm run bench`: starts a real system (a private Redis, two server nodes and a worker, each its
 * own process) and a load generator in its own process, runs the scenarios of bench/README.md,
 * writes bench/results/<timestamp>.{json,md} (and latest.{json,md}) and prints the table. A run in
 * which any device of any cart diverged or lost an acknowledged edit fails (exit code 1).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';
import { type Meta, type RunResults, markdown, summarizeRun } from './report.ts';
import { type Ctx, type Flags, coldJoin, correction, cpuScenario, ladder, memory, restScenario } from './scenarios.ts';
import { soak } from './soak/scenario.ts';
import { ROOT, killAllTracked } from './system.ts';

const USAGE = `usage: npm run bench -- [flags]

Starts a private redis-server, two server nodes, a worker and a load generator (separate processes,
127.0.0.1 only) and runs the scenarios; writes bench/results/<timestamp>.{json,md} and latest.*.

  --scenarios 1,2,...     which scenarios (default all: 1..7; soak only when named, e.g. --scenarios soak)
                            1 cross-device latency ladder   2 highest sustained load (adds a same-node ladder)
                            3 memory per idle device         4 cold join of a long-history cart
                            5 correction latency             6 REST add-line latency
                            7 CPU per 1,000 edits
                            soak: steady load with churn and expiring carts; memory slopes per hour
  --reps N                repetitions per scenario; figures are the median with min–max (default 3)
  --quick                 smoke run: 1 rep, short steps, small ladder and counts (about 2 minutes)
  --ladder R1,R2,...      offered loads in edits/s (default 50,200,1000,1500,2000,3000,4000,6000)
  --warmup-ms MS          warm-up per step (default 2000)
  --measure-ms MS         measured window per step (default 8000)
  --drain-ms MS           after a step, wait this long at most for its edits to be observed (default 10000)
  --converge-ms MS        bound of every convergence check (default 60000)
  --carts N               carts of the ladder and CPU scenarios, 2 devices each (default 100)
  --idle-devices A,B      memory scenario device counts (default 1000,5000)
  --history-edits N       edits in the cold-join cart (default 10000)
  --joins N               joins measured per node and phase (default 20)
  --price-carts N         carts holding the re-priced SKU (default 100)
  --price-changes N       catalog price changes per repetition (default 5)
  --facts-rate R          edits/s of the edit → facts measurement (default 1000)
  --cpu-rate R            edits/s of the CPU scenario, and the reference step of scenario 1 (default 1000)
  --rest-rate R           REST add-line requests/s (default 200)
  --rest-carts N          carts of the REST scenario (default 100)
  --sustained-p99-ms MS   p99 bound of a sustained step (default 50)
  --sync-check-ms MS      the client library's syncCheckMs (default: the library's default)
  --memory-placement P    scenario 3: same (both devices of cart i on node i mod 2, as cart affinity
                          routes them; default) or cross (device A on node 1, B on node 2)
  --soak-minutes M        soak duration (default 30; 2 for a short check)
  --soak-rate R           soak edits/s (default 100: half the last measured sustained figure)
  --soak-carts N          live carts during the soak (default 100)
  --soak-cart-ttl S       the nodes' LIVECART_CART_TTL_SECONDS and EMPTY_CART_TTL during the soak (default 60)
  --soak-churn-ms MS      one churn action (join, offline, leave, retire + create a cart) every MS (default 2000)
  --soak-cart-edits N     a cart is retired (and replaced) after N edits (default 200: a real cart's life is a
                          bounded number of changes, and a loaded cart grows with its history)
  --soak-sample-ms MS     memory sampling interval (default 10000)
  --soak-warmup-pct P     share of the soak left out of the slope fit (default 20)
  --adapter A             the nodes' Socket.IO adapter: redis (classic pub/sub, default) or sharded
  --env K=V[,K=V]         LIVECART_* settings for the nodes and the worker (e.g. LIVECART_REVALIDATE_DELAY_MS=50)
  --cpu-prof              write V8 CPU profiles (.cpuprofile) of the nodes and the worker to the run's log directory
  --heap-snapshots        soak: write a heap snapshot of each node and the worker when the load has stopped, into
                          the run's log directory (a short and a long soak's snapshots show what accumulates)
  --keep-going            run the whole ladder even past saturation (default: stop after a saturated step)
  --help                  this text`;

class UsageError extends Error {}

const DEFAULTS: Flags = {
  scenarios: [1, 2, 3, 4, 5, 6, 7],
  reps: 3,
  quick: false,
  ladder: [50, 200, 1000, 1500, 2000, 3000, 4000, 6000],
  warmupMs: 2000,
  measureMs: 8000,
  drainMs: 10_000,
  convergeMs: 60_000,
  carts: 100,
  idleDevices: [1000, 5000],
  historyEdits: 10_000,
  joins: 20,
  priceCarts: 100,
  priceChanges: 5,
  factsRate: 1000,
  cpuRate: 1000,
  restRate: 200,
  restCarts: 100,
  syncCheckMs: null,
  adapter: 'redis',
  cpuProf: false,
  heapSnapshots: false,
  settings: {},
  memoryPlacement: 'same',
  keepGoing: false,
  sustainedP99Ms: 50,
  soak: false,
  soakMinutes: 30,
  soakRate: 100,
  soakCarts: 100,
  soakCartTtlSeconds: 60,
  soakChurnMs: 2000,
  soakCartEdits: 200,
  soakSampleMs: 10_000,
  soakWarmup: 0.2,
};

const QUICK: Partial<Flags> = {
  reps: 1,
  ladder: [50, 200, 1000],
  warmupMs: 1000,
  measureMs: 3000,
  drainMs: 5000,
  convergeMs: 30_000,
  idleDevices: [200, 1000],
  historyEdits: 2000,
  joins: 5,
  priceChanges: 2,
  restCarts: 20,
  restRate: 100,
};

export function parseFlags(argv: readonly string[]): Flags {
  const given = new Map<string, string | true>();
  const boolean = new Set(['--quick', '--keep-going', '--help', '--cpu-prof', '--heap-snapshots']);
  const valued = new Set([
    '--adapter', '--env', '--scenarios', '--reps', '--ladder', '--warmup-ms', '--measure-ms', '--drain-ms', '--converge-ms', '--carts', '--idle-devices', '--history-edits',
    '--soak-minutes', '--soak-rate', '--soak-carts', '--soak-cart-ttl', '--soak-churn-ms', '--soak-cart-edits', '--soak-sample-ms', '--soak-warmup-pct',
    '--joins', '--price-carts', '--price-changes', '--facts-rate', '--cpu-rate', '--rest-rate', '--rest-carts', '--sustained-p99-ms', '--sync-check-ms', '--memory-placement',
  ]);
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let inline: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      inline = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (boolean.has(arg)) {
      if (inline !== undefined) throw new UsageError(`${arg} takes no value`);
      given.set(arg, true);
    } else if (valued.has(arg)) {
      const value = inline ?? argv[++i];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`${arg} needs a value`);
      given.set(arg, value);
    } else throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
  }
  if (given.has('--help')) throw new HelpRequested();
  const flags: Flags = { ...DEFAULTS, ...(given.has('--quick') ? QUICK : {}), quick: given.has('--quick'), keepGoing: given.has('--keep-going') };
  const str = (name: string): string | undefined => {
    const v = given.get(name);
    return typeof v === 'string' ? v : undefined;
  };
  const int = (name: string, min: number, max: number): number | undefined => {
    const v = str(name);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  const list = (name: string, min: number, max: number): number[] | undefined => {
    const v = str(name);
    if (v === undefined) return undefined;
    const parts = v.split(',').map((p) => p.trim());
    if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p) || Number(p) < min || Number(p) > max)) throw new UsageError(`${name} must be a comma-separated list of integers from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return parts.map(Number);
  };
  const scenarioArg = str('--scenarios');
  if (scenarioArg !== undefined) {
    // `soak` may stand alongside the numbered scenarios (it runs after them).
    const parts = scenarioArg.split(',').map((p) => p.trim());
    flags.soak = parts.includes('soak');
    const numbered = parts.filter((p) => p !== 'soak');
    if (numbered.some((p) => !/^[1-7]$/.test(p)) || (numbered.length === 0 && !flags.soak)) throw new UsageError(`--scenarios must be a comma-separated list of 1..7 and soak, got ${JSON.stringify(scenarioArg)}`);
    flags.scenarios = [...new Set(numbered.map(Number))].sort((a, b) => a - b);
  }
  const ladder = list('--ladder', 1, 100_000);
  if (ladder) flags.ladder = [...new Set(ladder)].sort((a, b) => a - b);
  const idle = list('--idle-devices', 2, 100_000);
  if (idle) {
    if (idle.length !== 2 || idle[0]! >= idle[1]!) throw new UsageError('--idle-devices must be two increasing counts, e.g. 1000,5000');
    flags.idleDevices = [idle[0]!, idle[1]!];
  }
  const set = <K extends keyof Flags>(key: K, v: Flags[K] | undefined): void => {
    if (v !== undefined) flags[key] = v;
  };
  set('reps', int('--reps', 1, 100));
  set('warmupMs', int('--warmup-ms', 0, 600_000));
  set('measureMs', int('--measure-ms', 500, 3_600_000));
  set('drainMs', int('--drain-ms', 0, 600_000));
  set('convergeMs', int('--converge-ms', 1000, 3_600_000));
  set('carts', int('--carts', 1, 10_000));
  set('historyEdits', int('--history-edits', 10, 1_000_000));
  set('joins', int('--joins', 1, 10_000));
  set('priceCarts', int('--price-carts', 1, 10_000));
  set('priceChanges', int('--price-changes', 1, 1000));
  set('factsRate', int('--facts-rate', 1, 100_000));
  set('cpuRate', int('--cpu-rate', 1, 100_000));
  set('restRate', int('--rest-rate', 1, 100_000));
  set('restCarts', int('--rest-carts', 1, 10_000));
  set('sustainedP99Ms', int('--sustained-p99-ms', 1, 600_000));
  const minutes = str('--soak-minutes');
  if (minutes !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(minutes) || Number(minutes) < 0.5 || Number(minutes) > 24 * 60) throw new UsageError(`--soak-minutes must be a number from 0.5 to 1440, got ${JSON.stringify(minutes)}`);
    flags.soakMinutes = Number(minutes);
  }
  set('soakRate', int('--soak-rate', 1, 100_000));
  set('soakCarts', int('--soak-carts', 2, 10_000));
  set('soakCartTtlSeconds', int('--soak-cart-ttl', 60, 366 * 24 * 3600));
  set('soakChurnMs', int('--soak-churn-ms', 100, 600_000));
  set('soakCartEdits', int('--soak-cart-edits', 10, 100_000_000));
  set('soakSampleMs', int('--soak-sample-ms', 1000, 600_000));
  const warm = int('--soak-warmup-pct', 0, 90);
  if (warm !== undefined) flags.soakWarmup = warm / 100;
  const placement = str('--memory-placement');
  if (placement !== undefined) {
    if (placement !== 'same' && placement !== 'cross') throw new UsageError(`--memory-placement must be same or cross, got ${JSON.stringify(placement)}`);
    flags.memoryPlacement = placement;
  }
  const adapter = str('--adapter');
  if (adapter !== undefined) {
    if (adapter !== 'redis' && adapter !== 'sharded') throw new UsageError(`--adapter must be redis or sharded, got ${JSON.stringify(adapter)}`);
    flags.adapter = adapter;
  }
  if (given.has('--cpu-prof')) flags.cpuProf = true;
  if (given.has('--heap-snapshots')) flags.heapSnapshots = true;
  const env = str('--env');
  if (env !== undefined) {
    for (const pair of env.split(',')) {
      const m = /^(LIVECART_[A-Z0-9_]+)=(.*)$/.exec(pair.trim());
      if (!m) throw new UsageError(`--env takes LIVECART_NAME=value pairs separated by commas, got ${JSON.stringify(pair)}`);
      flags.settings = { ...flags.settings, [m[1]!]: m[2]! };
    }
  }
  const syncCheck = int('--sync-check-ms', 0, 3_600_000);
  if (syncCheck !== undefined) flags.syncCheckMs = syncCheck;
  return flags;
}

class HelpRequested extends Error {}

function safe(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function collectMeta(argv: string[]): Meta {
  const redis = /v=(\S+)/.exec(safe('redis-server', ['--version']))?.[1] ?? 'unknown';
  return {
    date: new Date().toISOString(),
    command: `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
    argv: process.argv,
    machine: {
      cpuModel: cpus()[0]?.model ?? 'unknown',
      cpus: cpus().length,
      totalMemGiB: totalmem() / 1024 ** 3,
      kernel: release(),
      os: osType(),
      loadAvgAtStart: loadavg(),
    },
    versions: {
      node: process.version,
      'redis-server': redis,
      'socket.io': packageVersion('socket.io'),
      'socket.io-client': packageVersion('socket.io-client'),
      '@socket.io/redis-adapter': packageVersion('@socket.io/redis-adapter'),
      yjs: packageVersion('yjs'),
      bullmq: packageVersion('bullmq'),
      ioredis: packageVersion('ioredis'),
      tsx: packageVersion('tsx'),
    },
    gitCommit: safe('git', ['rev-parse', 'HEAD']),
    gitDirty: safe('git', ['status', '--porcelain']).length > 0,
  };
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let flags: Flags;
  try {
    flags = parseFlags(argv);
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`bench: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  const meta = collectMeta(argv);
  const started = Date.now();
  const stamp = meta.date.replace(/[:.]/g, '-');
  const resultsDir = join(ROOT, 'bench', 'results');
  const logDir = join(resultsDir, `${stamp}-logs`);
  mkdirSync(resultsDir, { recursive: true });
  const ctx: Ctx = { flags, logDir, progress: (line) => process.stderr.write(`${line}\n`) };
  const results: RunResults = { ladderCross: [], ladderSame: [], memory: [], coldJoin: [], correction: [], rest: [], cpu: [], soak: [], aborted: {} };
  const has = (n: number): boolean => flags.scenarios.includes(n);

  const repeat = async <T>(name: string, list: T[], run: (rep: number) => Promise<T>, reps = flags.reps): Promise<void> => {
    for (let rep = 1; rep <= reps; rep++) {
      ctx.progress(`[${((Date.now() - started) / 1000).toFixed(0)} s] ${name}, repetition ${rep}/${reps}`);
      try {
        list.push(await run(rep));
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        ctx.progress(`  ABORTED: ${msg}`);
        (results.aborted[name] ??= []).push(`rep ${rep}: ${msg.split('\n')[0]}`);
      }
    }
  };

  ctx.progress(`livecart bench: scenarios ${[...flags.scenarios, ...(flags.soak ? ['soak'] : [])].join(',')}, ${flags.scenarios.length > 0 ? `${flags.reps} repetition(s)` : ''}${flags.soak ? `${flags.scenarios.length > 0 ? ', ' : ''}soak once` : ''}${flags.quick ? ' (quick)' : ''}; logs in ${logDir}`);
  if (has(1) || has(2)) await repeat('1 cross-node ladder', results.ladderCross, (rep) => ladder(ctx, rep, 'cross'));
  if (has(2)) await repeat('2 same-node ladder', results.ladderSame, (rep) => ladder(ctx, rep, 'same'));
  if (has(3)) await repeat('3 memory per idle device', results.memory, (rep) => memory(ctx, rep));
  if (has(4)) await repeat('4 cold join', results.coldJoin, (rep) => coldJoin(ctx, rep));
  if (has(5)) await repeat('5 correction latency', results.correction, (rep) => correction(ctx, rep));
  if (has(6)) await repeat('6 REST', results.rest, (rep) => restScenario(ctx, rep));
  if (has(7)) await repeat('7 CPU per 1,000 edits', results.cpu, (rep) => cpuScenario(ctx, rep));
  // One soak: its length is the repetition.
  if (flags.soak) await repeat('soak', results.soak, (rep) => soak(ctx, rep), 1);

  meta.durationSeconds = (Date.now() - started) / 1000;
  const summary = summarizeRun(results, flags);
  const md = markdown(meta, flags, summary, results);
  const json = JSON.stringify({ meta, flags, summary: { rows: summary.rows, failed: summary.failed }, results }, null, 1);
  for (const name of [stamp, 'latest']) {
    writeFileSync(join(resultsDir, `${name}.json`), json);
    writeFileSync(join(resultsDir, `${name}.md`), md);
  }
  process.stdout.write(`\n${md}\nwritten: bench/results/${stamp}.json, bench/results/${stamp}.md (and latest.*)\n`);
  return Object.keys(summary.failed).length > 0 ? 1 : 0;
}

process.on('SIGINT', () => {
  killAllTracked();
  process.stderr.write('bench: interrupted; every child process killed\n');
  process.exit(130);
});
process.on('SIGTERM', () => {
  killAllTracked();
  process.exit(143);
});

main().then(
  (code) => {
    killAllTracked();
    process.exit(code);
  },
  (err: unknown) => {
    killAllTracked();
    console.error('bench: failed:', err);
    process.exit(1);
  },
);
