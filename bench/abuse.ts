/**
 * `npx tsx bench/abuse.ts`: the combined abuse run of issue 12. Starts the bench's system (private
 * Redis, two nodes, a worker) with the DEFAULT limits, 50 honest client-library devices in their own
 * process, then plays every attack at once against both nodes for `--seconds`, all on loopback,
 * every loop bounded. Prints (and writes to bench/results/abuse-*.{json,md}) honest latency, CPU per
 * second, Redis memory, what each attack got, and the thresholds as a report. Exit code 1
 * when honest devices did not converge or a process crashed. See bench/README.md.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { type AttackerReply, type AttackResult, type AttackerRequest, GROUPS } from './abuse/attacker.ts';
import type { HonestReply, HonestRequest } from './abuse/honest.ts';
import { Monitor, inspectRedis } from './abuse/monitor.ts';
import { sleep } from './abuse/net.ts';
import { figures, markdown } from './abuse/report.ts';
import { BenchSystem, ROOT, killAllTracked, track } from './system.ts';

const USAGE = `usage: npx tsx bench/abuse.ts [flags]

  --seconds S          attack window (default 60)
  --honest-carts N     honest carts, 2 devices each, A on node 1 and B on node 2 (default 25)
  --honest-rate R      honest edits/s in total (default 50)
  --flood-conns N      connections per wave of the sync step 1 flood (default 30)
  --attacks 1,2,...    only these findings' attacks (default all: 1,2,3,4,5,6,7,9,11)
  --idle-wait S        after the attack, wait at most S seconds for the nodes to go idle (default 120)
  --idle-percent P     "idle": under P % of one core (default 10)
  --redis-bound-mb MB  the stated bound of Redis used_memory (default 64)
  --env K=V[,K=V]      LIVECART_* settings for the nodes and the worker (e.g. the new limits)
  --cpu-prof           write V8 CPU profiles of the nodes and the worker into the run's log directory
  --help`;

interface Options {
  seconds: number;
  honestCarts: number;
  honestRate: number;
  floodConns: number;
  attacks: number[];
  idleWait: number;
  idlePercent: number;
  redisBoundMb: number;
  settings: Record<string, string>;
  cpuProf: boolean;
}

function parse(argv: string[]): Options {
  const o: Options = { seconds: 60, honestCarts: 25, honestRate: 50, floodConns: 30, attacks: [1, 2, 3, 4, 5, 6, 7, 9, 11], idleWait: 120, idlePercent: 10, redisBoundMb: 64, settings: {}, cpuProf: false };
  const num = (flag: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < min || n > max) throw new Error(`${flag} must be a number from ${min} to ${max}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const v = argv[i + 1];
    switch (flag) {
      case '--cpu-prof':
        o.cpuProf = true;
        continue;
      case '--help':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
      case '--seconds': o.seconds = num(flag, v, 5, 3600); break;
      case '--honest-carts': o.honestCarts = num(flag, v, 1, 250); break;
      case '--honest-rate': o.honestRate = num(flag, v, 1, 10_000); break;
      case '--flood-conns': o.floodConns = num(flag, v, 1, 500); break;
      case '--idle-wait': o.idleWait = num(flag, v, 10, 3600); break;
      case '--idle-percent': o.idlePercent = num(flag, v, 1, 100); break;
      case '--redis-bound-mb': o.redisBoundMb = num(flag, v, 1, 100_000); break;
      case '--attacks': o.attacks = (v ?? '').split(',').map((x) => num(flag, x, 1, 11)); break;
      case '--env':
        for (const pair of (v ?? '').split(',')) {
          const m = /^(LIVECART_[A-Z0-9_]+)=(.*)$/.exec(pair);
          if (!m) throw new Error(`--env wants LIVECART_NAME=value, got ${JSON.stringify(pair)}`);
          o.settings[m[1]!] = m[2]!;
        }
        break;
      default:
        throw new Error(`unknown argument ${JSON.stringify(flag)}\n\n${USAGE}`);
    }
    i += 1;
  }
  return o;
}

/** A forked helper process and a request → reply call on it (one request at a time). */
function child<Req, Rep extends { t: string }>(script: string): { pid: number; call: (m: Req) => Promise<Rep>; stop: () => void } {
  const proc = fork(`${ROOT}bench/abuse/${script}`, [], { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  track(proc);
  const call = (m: Req): Promise<Rep> =>
    new Promise((resolve, reject) => {
      const onExit = (): void => reject(new Error(`${script} exited`));
      proc.once('exit', onExit);
      proc.once('message', (r: Rep) => {
        proc.off('exit', onExit);
        if (r.t === 'failed') reject(new Error(`${script}: ${(r as unknown as { error: string }).error}`));
        else resolve(r);
      });
      proc.send(m as object);
    });
  return { pid: proc.pid ?? -1, call, stop: () => proc.kill('SIGTERM') };
}

async function main(): Promise<number> {
  const o = parse(process.argv.slice(2));
  const date = new Date().toISOString();
  const loadAvgAtStart = loadavg();
  const stamp = date.replace(/[:.]/g, '-');
  const resultsDir = join(ROOT, 'bench', 'results');
  const logDir = join(resultsDir, `abuse-${stamp}-logs`);
  mkdirSync(logDir, { recursive: true });
  const log = (line: string): void => void process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  const system = new BenchSystem({ label: 'abuse', logDir, defaultLimits: true, settings: o.settings, cpuProf: o.cpuProf });
  await system.start();
  log(`system up: ${system.nodeUrls.join(', ')}; logs in ${logDir}`);
  const honest = child<HonestRequest, HonestReply>('honest.ts');
  try {
    const ready = await honest.call({ t: 'setup', urls: system.nodeUrls, carts: o.honestCarts });
    if (ready.t === 'ready') log(`${ready.devices} honest devices on ${ready.carts} carts`);

    // One process per group of attacks: a flood answered with megabytes must not stall the others.
    const attackers = GROUPS.map((group) => ({ group, proc: child<AttackerRequest, AttackerReply>('attacker.ts') }));
    for (const a of attackers) {
      const r = await a.proc.call({ t: 'prepare', setup: { group: a.group, urls: system.nodeUrls, attacks: o.attacks, floodConns: o.floodConns } });
      if (r.t === 'prepared') for (const n of r.notes) log(`prepared ${n}`);
    }

    const monitor = new Monitor({ ...system.pids, honest: honest.pid, attackers: attackers.map((a) => a.proc.pid) }, system.redisUrl);
    monitor.start();
    await honest.call({ t: 'start', rate: o.honestRate });
    log(`honest devices editing at ${o.honestRate}/s; 10 s baseline`);
    await sleep(10_000);

    const attackStart = Date.now();
    const deadline = attackStart + o.seconds * 1000;
    log(`attack: findings ${o.attacks.join(',')} for ${o.seconds} s`);
    const results: AttackResult[] = [];
    const tokens: string[] = [];
    const carts: Record<string, string> = {};
    const runs = attackers.map(async (a) => {
      const r = await a.proc.call({ t: 'run', deadline });
      if (r.t !== 'done') return;
      results.push(...r.results);
      tokens.push(...r.tokens);
      Object.assign(carts, r.carts);
    });
    // Every attack stops at the deadline by itself; one that does not is reported, not waited for.
    const late = sleep(o.seconds * 1000 + 60_000).then(() => 'late' as const);
    if ((await Promise.race([Promise.all(runs), late])) === 'late') results.push({ id: 0, name: 'attackers', counts: {}, notes: [], error: 'some attacker did not stop within 60 s of the deadline' });
    const attackEnd = Date.now();
    for (const a of attackers) a.proc.stop();
    results.sort((x, y) => x.id - y.id);
    log(`attackers stopped ${((attackEnd - deadline) / 1000).toFixed(1)} s after the deadline; waiting for the nodes to go idle (at most ${o.idleWait} s)`);

    const idleSince = (): boolean => {
      const last = monitor.samples.filter((s) => s.at > attackEnd).slice(-3);
      return last.length === 3 && last.every((s) => (s.cpu.node1 ?? 100) < o.idlePercent && (s.cpu.node2 ?? 100) < o.idlePercent);
    };
    const idleDeadline = attackEnd + o.idleWait * 1000;
    while (Date.now() < idleDeadline && (Date.now() < attackEnd + 10_500 || !idleSince())) await sleep(500);

    const stopped = await honest.call({ t: 'stop', drainMs: 10_000 });
    const checked = await honest.call({ t: 'check', convergeMs: 60_000 });
    monitor.stop();
    if (stopped.t !== 'stopped' || checked.t !== 'checked') throw new Error('unexpected reply from the honest devices');
    const crashed = system.aliveProblems();
    const leftovers = await inspectRedis(system.redisUrl, tokens, carts);
    const f = figures({
      seconds: o.seconds,
      attackStart,
      attackEnd,
      samples: monitor.samples,
      honest: { samples: stopped.samples, edits: stopped.edits, errors: stopped.errors },
      attacks: results,
      leftovers,
      convergence: checked.convergence,
      crashed,
      loadAvgAtStart,
      thresholds: { p99Ms: 100, idleSeconds: 5, idlePercent: o.idlePercent, redisBoundBytes: o.redisBoundMb * 1048576 },
    });
    const command = `npx tsx bench/abuse.ts ${process.argv.slice(2).join(' ')}`.trim();
    const md = markdown(f, command, date);
    const json = JSON.stringify({ date, command, options: o, attackStart, attackEnd, figures: f, samples: monitor.samples, honest: stopped.samples }, null, 1);
    for (const name of [`abuse-${stamp}`, 'abuse-latest']) {
      writeFileSync(join(resultsDir, `${name}.json`), json);
      writeFileSync(join(resultsDir, `${name}.md`), md);
    }
    process.stdout.write(`\n${md}\nwritten: bench/results/abuse-${stamp}.{json,md} (and abuse-latest.*)\n`);
    return checked.convergence.ok && crashed.length === 0 ? 0 : 1;
  } finally {
    honest.stop();
    await system.stop();
  }
}

process.on('SIGINT', () => {
  killAllTracked();
  process.exit(130);
});

main().then(
  (code) => {
    killAllTracked();
    process.exit(code);
  },
  (err: unknown) => {
    killAllTracked();
    process.stderr.write(`abuse: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
