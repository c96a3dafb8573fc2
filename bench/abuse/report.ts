/**
 * The abuse run's figures, from the samples: honest latency by phase, each node's CPU per second
 * during and after the attack and the time until it is idle again, Redis memory, what each attack
 * got; and the issue's thresholds, reported (not asserted).
 */
import type { Convergence } from '../ipc.ts';
import { type LatencySummary, summarize } from '../stats.ts';
import type { HonestSample } from './honest.ts';
import type { RedisLeftovers, Sample } from './monitor.ts';
import type { AttackResult } from './attacker.ts';

export interface Thresholds {
  p99Ms: number;
  idleSeconds: number;
  idlePercent: number;
  redisBoundBytes: number;
}

export interface AbuseFigures {
  seconds: number;
  honest: { before: LatencySummary; during: LatencySummary; after: LatencySummary; unobserved: number; edits: number; errors: string[] };
  cpu: Record<'node1' | 'node2', { duringMean: number | null; duringMax: number | null; after: Array<number | null>; idleAfterSeconds: number | null; cpuSecondsAfter: number | null; rssBefore: number | null; rssPeak: number | null; rssEnd: number | null }>;
  cpuOthers: Record<'worker' | 'redis' | 'honest' | 'attackers', number | null>;
  /** Mean busy share of all cores during the attack, and the load average at the start (the machine may be shared). */
  machine: { duringPercent: number | null; loadAvgAtStart: number[] };
  redis: { baseline: number | null; peak: number | null; end: number | null };
  leftovers: RedisLeftovers;
  attacks: AttackResult[];
  convergence: Convergence;
  crashed: string[];
  checks: Array<{ what: string; value: string; met: boolean }>;
}

const mean = (v: Array<number | null>): number | null => {
  const x = v.filter((n): n is number => n !== null);
  return x.length === 0 ? null : x.reduce((a, b) => a + b, 0) / x.length;
};

/** Seconds from `from` until the node's CPU stayed under the bound for 3 samples in a row (null: never). */
function idleAfter(samples: readonly Sample[], node: 'node1' | 'node2', from: number, bound: number): number | null {
  const after = samples.filter((s) => s.at > from);
  for (let i = 0; i + 2 < after.length; i++) {
    if ([0, 1, 2].every((k) => (after[i + k]!.cpu[node] ?? Infinity) < bound)) return Math.max(0, (after[i]!.at - 1000 - from) / 1000);
  }
  return null;
}

export function figures(input: {
  seconds: number;
  attackStart: number;
  attackEnd: number;
  samples: Sample[];
  honest: { samples: HonestSample[]; edits: number; errors: string[] };
  attacks: AttackResult[];
  leftovers: RedisLeftovers;
  convergence: Convergence;
  crashed: string[];
  thresholds: Thresholds;
  loadAvgAtStart: number[];
}): AbuseFigures {
  const { attackStart, attackEnd, samples, thresholds: th } = input;
  const phase = (a: number, b: number): number[] => input.honest.samples.filter((s) => s.at >= a && s.at < b).map((s) => s.ms);
  const during = samples.filter((s) => s.at > attackStart && s.at <= attackEnd);
  const after = samples.filter((s) => s.at > attackEnd).slice(0, 10);
  const before = samples.filter((s) => s.at <= attackStart);
  const node = (n: 'node1' | 'node2'): AbuseFigures['cpu']['node1'] => ({
    duringMean: mean(during.map((s) => s.cpu[n])),
    duringMax: during.reduce<number | null>((m, s) => (s.cpu[n] === null ? m : Math.max(m ?? 0, s.cpu[n])), null),
    after: after.map((s) => s.cpu[n]),
    idleAfterSeconds: idleAfter(samples, n, attackEnd, th.idlePercent),
    // CPU the node spent after the attackers left (the whole watch, not only the 10 s): work that outlived its clients.
    cpuSecondsAfter: (() => {
      const a = samples.filter((s) => s.at <= attackEnd).at(-1)?.cpuTotal[n];
      const b = samples.at(-1)?.cpuTotal[n];
      return a === null || a === undefined || b === null || b === undefined ? null : b - a;
    })(),
    rssBefore: before.at(-1)?.rss[n] ?? null,
    rssPeak: samples.reduce<number | null>((m, s) => (s.rss[n] === null ? m : Math.max(m ?? 0, s.rss[n])), null),
    rssEnd: samples.at(-1)?.rss[n] ?? null,
  });
  const mem = samples.map((s) => s.usedMemory).filter((v): v is number => v !== null);
  const peak = Math.max(...mem, input.leftovers.usedMemory ?? 0);
  const honestDuring = summarize(phase(attackStart, attackEnd));
  const cpu = { node1: node('node1'), node2: node('node2') };
  const idle = Math.max(cpu.node1.idleAfterSeconds ?? Infinity, cpu.node2.idleAfterSeconds ?? Infinity);
  const mib = (b: number): string => `${(b / 1048576).toFixed(1)} MiB`;
  const checks = [
    { what: `honest edit → other device p99 during the attack < ${th.p99Ms} ms`, value: `${honestDuring.p99?.toFixed(1) ?? '–'} ms`, met: (honestDuring.p99 ?? Infinity) < th.p99Ms },
    { what: `both nodes back under ${th.idlePercent} % of a core within ${th.idleSeconds} s after the attack`, value: Number.isFinite(idle) ? `${idle.toFixed(0)} s` : 'not within the wait', met: idle <= th.idleSeconds },
    { what: `Redis used_memory peak under ${mib(th.redisBoundBytes)}`, value: mib(peak), met: peak < th.redisBoundBytes },
    { what: 'every honest acknowledged edit in the log, every honest cart converged', value: input.convergence.ok ? 'yes' : `no (${input.convergence.lostEdits} lost, ${input.convergence.divergedCarts} carts diverged)`, met: input.convergence.ok },
    { what: 'no process crashed', value: input.crashed.length === 0 ? 'none' : input.crashed.join(', '), met: input.crashed.length === 0 },
  ];
  return {
    seconds: input.seconds,
    honest: {
      before: summarize(phase(0, attackStart)),
      during: honestDuring,
      after: summarize(phase(attackEnd, Infinity)),
      unobserved: input.honest.samples.filter((s) => !s.seen).length,
      edits: input.honest.edits,
      errors: input.honest.errors,
    },
    cpu,
    cpuOthers: { worker: mean(during.map((s) => s.cpu.worker)), redis: mean(during.map((s) => s.cpu.redis)), honest: mean(during.map((s) => s.cpu.honest)), attackers: mean(during.map((s) => s.cpu.attackers)) },
    machine: { duringPercent: mean(during.map((s) => s.machine)), loadAvgAtStart: input.loadAvgAtStart },
    redis: { baseline: before.map((s) => s.usedMemory).filter((v) => v !== null).at(-1) ?? null, peak, end: input.leftovers.usedMemory },
    leftovers: input.leftovers,
    attacks: input.attacks,
    convergence: input.convergence,
    crashed: input.crashed,
    checks,
  };
}

export function markdown(f: AbuseFigures, command: string, date: string): string {
  const ms = (s: LatencySummary): string => `p50 ${s.p50?.toFixed(1) ?? '–'} ms, p99 ${s.p99?.toFixed(1) ?? '–'} ms, max ${s.max?.toFixed(0) ?? '–'} ms (${s.count} edits)`;
  const pct = (v: number | null): string => (v === null ? '–' : v.toFixed(0));
  const mib = (b: number | null): string => (b === null ? '–' : `${(b / 1048576).toFixed(1)} MiB`);
  const out = [`# livecart abuse run — ${date}`, '', `- command: \`${command}\``, `- attack window: ${f.seconds} s, both nodes, default limits`];
  out.push(`- machine: ${pct(f.machine.duringPercent)} % of all cores busy during the attack (every process on it, ours or not); load average at start ${f.machine.loadAvgAtStart.map((v) => v.toFixed(1)).join(' ')}`, '');
  out.push('## Thresholds (reported, not asserted)', '', '| check | value | met? |', '|---|---|---|');
  for (const c of f.checks) out.push(`| ${c.what} | ${c.value} | ${c.met ? 'yes' : '**no**'} |`);
  out.push('', '## Honest devices (edit → the other device shows it)', '');
  out.push(`- before the attack: ${ms(f.honest.before)}`, `- during: ${ms(f.honest.during)}`, `- after: ${ms(f.honest.after)}`);
  out.push(`- ${f.honest.edits} edits, ${f.honest.unobserved} never observed within the drain (counted with the time waited); client errors: ${f.honest.errors.length === 0 ? 'none' : f.honest.errors.slice(0, 5).join(' | ')}`);
  out.push(`- convergence: ${f.convergence.ok ? 'yes' : `**no**: ${[...f.convergence.problems, ...f.convergence.clientErrors].slice(0, 5).join(' | ')}`}`);
  out.push('', '## Nodes: CPU (% of one core) and RSS', '');
  for (const n of ['node1', 'node2'] as const) {
    const c = f.cpu[n];
    out.push(`- ${n}: during mean ${pct(c.duringMean)}, max ${pct(c.duringMax)}; the 10 s after: ${c.after.map(pct).join(' ')}; idle (< bound, 3 s in a row) after ${c.idleAfterSeconds === null ? 'not within the wait' : `${c.idleAfterSeconds.toFixed(0)} s`}; ${c.cpuSecondsAfter?.toFixed(1) ?? '–'} CPU s used after the attack; RSS before ${mib(c.rssBefore)}, peak ${mib(c.rssPeak)}, end ${mib(c.rssEnd)}`);
  }
  out.push(`- during, mean: worker ${pct(f.cpuOthers.worker)}, redis ${pct(f.cpuOthers.redis)}, honest devices' process ${pct(f.cpuOthers.honest)}, attackers' processes ${pct(f.cpuOthers.attackers)}`);
  out.push('', '## Redis', '');
  const l = f.leftovers;
  out.push(`- used_memory: before ${mib(f.redis.baseline)}, peak ${mib(f.redis.peak)}, end ${mib(f.redis.end)}; ${l.keys} keys`);
  out.push(`- idempotency records ${l.idempotencyKeys}, of which holding a bearer token ${l.tokensInPlainText}; SKU index keys ${l.skuIndexKeys} (${l.junkSkuIndexKeys} of unknown SKUs, ${l.skuIndexKeysWithoutTtl} without TTL)`);
  out.push(`- keys without TTL: ${Object.entries(l.keysWithoutTtl).map(([k, v]) => `${k} ×${v}`).join(', ') || 'none'}`);
  out.push(`- attackers' carts in Redis: ${Object.entries(l.cartBytes).map(([k, v]) => `${k} ${mib(v)}`).join(', ')}`);
  out.push('', '## What each attack got', '');
  for (const a of f.attacks) {
    const counts = Object.entries(a.counts).sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k}: ${v}`).join(', ');
    out.push(`- **${a.id}. ${a.name}**: ${counts || 'nothing'}${a.notes.length > 0 ? `. ${a.notes.join('; ')}` : ''}${a.error ? `. ERROR: ${a.error}` : ''}`);
  }
  return out.join('\n') + '\n';
}
