/**
 * Aggregation over repetitions (median, min–max) and the markdown report.
 */
import type { StepResult } from './ipc.ts';
import { type ColdJoinRep, type CorrectionRep, type CpuRep, type Flags, type LadderRep, type MemoryRep, type RestRep, bestSustained, cpuPerThousand, memoryFigures } from './scenarios.ts';
import { SOAK_COUNTS, SOAK_SERIES, type SoakRep } from './soak/scenario.ts';
import { type Spread, fmtSpread, percentile, spread, summarize } from './stats.ts';

export interface Meta {
  date: string;
  command: string;
  argv: string[];
  machine: { cpuModel: string; cpus: number; totalMemGiB: number; kernel: string; os: string; loadAvgAtStart: number[] };
  versions: Record<string, string>;
  gitCommit: string;
  gitDirty: boolean;
  durationSeconds?: number;
}

export interface RunResults {
  ladderCross: LadderRep[];
  ladderSame: LadderRep[];
  memory: MemoryRep[];
  coldJoin: ColdJoinRep[];
  correction: CorrectionRep[];
  rest: RestRep[];
  cpu: CpuRep[];
  soak: SoakRep[];
  /** Scenario → errors that aborted a repetition. */
  aborted: Record<string, string[]>;
}

export interface Row {
  scenario: string;
  metric: string;
  value: Spread;
  unit: string;
  digits: number;
  target: string;
  /** null: no target. */
  met: boolean | null;
}

export interface Summary {
  rows: Row[];
  failed: Record<string, string[]>;
  ladders: Array<{ placement: string; table: string }>;
}

const KIB = 1024;

function row(scenario: string, metric: string, values: Array<number | null | undefined>, unit: string, digits: number, target = '', check?: (median: number) => boolean): Row {
  const value = spread(values);
  const met = check === undefined ? null : value.median === null ? false : check(value.median);
  return { scenario, metric, value, unit, digits, target, met };
}

function stepAt(rep: LadderRep, rate: number): StepResult | undefined {
  return rep.steps.find((s) => s.rate === rate);
}

function ladderTable(reps: LadderRep[], rates: number[]): string {
  const head = '| offered /s | achieved /s | delivered /s | p50 ms | p95 ms | p99 ms | max ms | CPU % node1 | node2 | worker | redis | generator | machine % (all cores) | other % | gen late p99 ms | gen CPU-bound | converged |';
  const sep = '|' + '---|'.repeat(17);
  const lines = [head, sep];
  for (const rate of rates) {
    const steps = reps.map((r) => stepAt(r, rate));
    const present = steps.filter((s): s is StepResult => s !== undefined);
    if (present.length === 0) continue;
    const col = (f: (s: StepResult) => number | null, digits: number): string => fmtSpread(spread(steps.map((s) => (s ? f(s) : null))), digits);
    const bound = present.filter((s) => s.generatorBound).length;
    const conv = present.filter((s) => s.convergence.ok).length;
    lines.push(
      `| ${rate} | ${col((s) => s.achievedRate, 0)} | ${col((s) => s.deliveredRate, 0)} | ${col((s) => s.latency.p50, 1)} | ${col((s) => s.latency.p95, 1)} | ${col((s) => s.latency.p99, 1)} | ${col((s) => s.latency.max, 1)} | ` +
        `${col((s) => s.cpu.percent.node1, 0)} | ${col((s) => s.cpu.percent.node2, 0)} | ${col((s) => s.cpu.percent.worker, 0)} | ${col((s) => s.cpu.percent.redis, 0)} | ${col((s) => s.cpu.percent.generator, 0)} | ${col((s) => s.cpu.machinePercent, 0)} | ${col((s) => s.cpu.otherPercent ?? null, 0)} | ${col((s) => s.schedLag.p99, 1)} | ` +
        `${bound}/${present.length} | ${conv}/${present.length}${present.length < reps.length ? ` (${reps.length - present.length} reps stopped earlier)` : ''} |`,
    );
  }
  lines.push(
    '',
    'CPU %: of one core, from /proc over the measured window. machine %: busy share of all cores of the machine (anything running on it). other %: CPU (% of one core) used by processes that are not the benchmark\'s (the machine is shared; a high value taints the step). ' +
      'gen late: how late the generator fired edits against their Poisson schedule (a starved generator offers less than asked). ' +
      'gen CPU-bound: the generator used > 90 % of a core (reps where it did / reps).',
  );
  const stops = reps.map((r, i) => (r.stoppedAfter ? `rep ${i + 1} stopped after ${r.stoppedAfter}` : null)).filter((s) => s !== null);
  if (stops.length > 0) lines.push('', `Ladder stopped at saturation: ${stops.join('; ')}.`);
  return lines.join('\n');
}

export function summarizeRun(results: RunResults, flags: Flags): Summary {
  const rows: Row[] = [];
  const failed: Record<string, string[]> = {};
  const addFailures = (key: string, reps: Array<{ failures: string[] }>): void => {
    const list = reps.flatMap((r, i) => r.failures.map((f) => `rep ${i + 1}: ${f}`));
    if (list.length > 0) failed[key] = [...(failed[key] ?? []), ...list];
  };
  for (const [k, v] of Object.entries(results.aborted)) if (v.length > 0) failed[k] = [...(failed[k] ?? []), ...v];

  const ladders: Summary['ladders'] = [];
  if (results.ladderCross.length > 0) {
    addFailures('1 cross-device latency', results.ladderCross);
    const at = flags.cpuRate;
    const s = results.ladderCross.map((r) => stepAt(r, at));
    rows.push(row('1', `cross-node p50 at ${at} edits/s`, s.map((x) => x?.latency.p50), 'ms', 2));
    rows.push(row('1', `cross-node p99 at ${at} edits/s`, s.map((x) => x?.latency.p99), 'ms', 2, '≤ 8 ms at 1000/s', (m) => m <= 8));
    rows.push(row('1', `cross-node max at ${at} edits/s`, s.map((x) => x?.latency.max), 'ms', 1));
    ladders.push({ placement: 'cross-node (device A on node 1, device B on node 2)', table: ladderTable(results.ladderCross, flags.ladder) });
  }
  if (results.ladderCross.length > 0 && flags.scenarios.includes(2)) {
    const best = results.ladderCross.map((r) => bestSustained(r, flags.sustainedP99Ms));
    rows.push(row('2', `highest sustained, cross-node (p99 < ${flags.sustainedP99Ms} ms, converged)`, best.map((b) => b?.rate ?? 0), 'edits/s', 0, '≥ 3000/s', (m) => m >= 3000));
  }
  if (results.ladderSame.length > 0) {
    addFailures('2 same-node ladder', results.ladderSame);
    const best = results.ladderSame.map((r) => bestSustained(r, flags.sustainedP99Ms));
    rows.push(row('2', `highest sustained, same node (p99 < ${flags.sustainedP99Ms} ms, converged)`, best.map((b) => b?.rate ?? 0), 'edits/s', 0));
    const s = results.ladderSame.map((r) => stepAt(r, flags.cpuRate));
    rows.push(row('2', `same-node p99 at ${flags.cpuRate} edits/s`, s.map((x) => x?.latency.p99), 'ms', 2));
    ladders.push({ placement: 'same node (both devices of a cart on one node; carts alternate between the nodes)', table: ladderTable(results.ladderSame, flags.ladder) });
  }
  if (results.memory.length > 0) {
    addFailures('3 memory', results.memory);
    const figs = results.memory.map(memoryFigures);
    const [d1, d2] = flags.idleDevices;
    rows.push(row('3', `per idle device (${flags.memoryPlacement === 'same' ? 'cart affinity' : 'devices of a cart on both nodes'}), nodes + Redis RSS, marginal ${d1} → ${d2}`, figs.map((f) => (f.marginalTotal === null ? null : f.marginalTotal / KIB)), 'KiB', 1, '≤ 16 KiB', (m) => m <= 16));
    rows.push(row('3', `  of which the 2 nodes' RSS`, figs.map((f) => (f.marginalNodes === null ? null : f.marginalNodes / KIB)), 'KiB', 1));
    rows.push(row('3', `  of which Redis RSS (used_memory: see JSON)`, figs.map((f) => (f.marginalRedis === null ? null : f.marginalRedis / KIB)), 'KiB', 1));
    rows.push(row('3', `per idle device, nodes RSS, baseline → ${d1}`, figs.map((f) => (f.firstNodes === null ? null : f.firstNodes / KIB)), 'KiB', 1));
  }
  if (results.coldJoin.length > 0) {
    addFailures('4 cold join', results.coldJoin);
    const p = (t: number[] | undefined, q: number): number | null => (t ? percentile(t, q) : null);
    const cj = results.coldJoin;
    const n = flags.historyEdits;
    rows.push(row('4', `join ${n}-edit cart, after compaction, host node p50`, cj.map((r) => p(r.after?.host.times, 50)), 'ms', 1, '≤ 10 ms', (m) => m <= 10));
    rows.push(row('4', `join ${n}-edit cart, after compaction, other node p50`, cj.map((r) => p(r.after?.other.times, 50)), 'ms', 1, '≤ 10 ms', (m) => m <= 10));
    rows.push(row('4', `join ${n}-edit cart, before compaction, host node p50`, cj.map((r) => p(r.before.host.times, 50)), 'ms', 1));
    rows.push(row('4', `join ${n}-edit cart, before compaction, other node p50`, cj.map((r) => p(r.before.other.times, 50)), 'ms', 1));
    rows.push(row('4', `  after compaction, other node p99 (of ${flags.joins})`, cj.map((r) => p(r.after?.other.times, 99)), 'ms', 1));
  }
  if (results.correction.length > 0) {
    addFailures('5 correction latency', results.correction);
    const cr = results.correction;
    rows.push(row('5', `catalog price change → every device of ${flags.priceCarts} carts, p50`, cr.map((r) => percentile(r.price.latencies, 50)), 'ms', 1));
    rows.push(row('5', `catalog price change → every device of ${flags.priceCarts} carts, p99`, cr.map((r) => percentile(r.price.latencies, 99)), 'ms', 1, '≤ 250 ms', (m) => m <= 250));
    rows.push(row('5', `edit → its facts on the devices at ${flags.factsRate}/s, p50`, cr.map((r) => r.facts.facts?.latency.p50), 'ms', 1));
    rows.push(row('5', `edit → its facts on the devices at ${flags.factsRate}/s, p99`, cr.map((r) => r.facts.facts?.latency.p99), 'ms', 1, '≤ 100 ms', (m) => m <= 100));
  }
  if (results.rest.length > 0) {
    addFailures('6 REST', results.rest);
    rows.push(row('6', `REST add-line at ${flags.restRate}/s, p50`, results.rest.map((r) => r.result.latency.p50), 'ms', 2));
    rows.push(row('6', `REST add-line at ${flags.restRate}/s, p99`, results.rest.map((r) => r.result.latency.p99), 'ms', 2));
  }
  if (results.cpu.length > 0) {
    addFailures('7 CPU', results.cpu);
    const c = results.cpu.map((r) => cpuPerThousand(r.step));
    rows.push(row('7', `CPU s per 1,000 edits at ${flags.cpuRate}/s cross-node: 2 nodes + Redis`, c.map((x) => x.serversRedis), 's', 3, '≤ 0.45 s', (m) => m <= 0.45));
    rows.push(row('7', `  of which the 2 nodes`, c.map((x) => x.servers), 's', 3));
    rows.push(row('7', `  of which Redis`, c.map((x) => x.redis), 's', 3));
    rows.push(row('7', `  worker (not in the target)`, c.map((x) => x.worker), 's', 3));
    rows.push(row('7', `  load generator (200 client-library devices)`, c.map((x) => x.generator), 's', 3));
  }
  if (results.soak.length > 0) {
    addFailures('soak', results.soak);
    const sk = results.soak;
    const mib = (v: number | null): number | null => (v === null ? null : v / 1048576);
    rows.push(row('soak', `edits/s achieved (offered ${flags.soakRate}/s, ${flags.soakMinutes} min)`, sk.map((r) => r.result.achievedRate), '/s', 0));
    rows.push(row('soak', 'edit → acknowledged on its device, p99', sk.map((r) => r.result.ackLatency.p99), 'ms', 1));
    for (const s of SOAK_SERIES) {
      const count = SOAK_COUNTS.has(s);
      rows.push(row('soak', `${s} slope after warm-up`, sk.map((r) => (count ? r.fits[s].perHour : mib(r.fits[s].perHour))), count ? '/h' : 'MiB/h', count ? 0 : 1));
    }
  }
  return { rows, failed, ladders };
}

function soakSection(flags: Flags, reps: SoakRep[]): string[] {
  const out = ['', '## Soak', ''];
  const mib = (v: number | null): string => (v === null ? '–' : (v / 1048576).toFixed(1));
  for (const [i, r] of reps.entries()) {
    const c = r.result.counts;
    out.push(
      `rep ${i + 1}: ${flags.soakMinutes} min at ${r.params.rate} edits/s offered (${r.result.achievedRate.toFixed(0)}/s achieved), ${r.params.carts} live carts, cart TTL ${r.params.cartTtlSeconds} s; ` +
        `${c.edits} edits (${c.offlineEdits} made offline), ${c.joins} joins, ${c.leaves} leaves, ${c.offlines} offline periods, ${c.cartsCreated} carts created, ${c.cartsRetired} retired ` +
        `(${c.cartsExpired} found expired, ${c.cartsNotExpired} still readable after their TTL, ${c.cartsExpiryPending} not due); ack p50 ${r.result.ackLatency.p50?.toFixed(1) ?? '–'} ms, p99 ${r.result.ackLatency.p99?.toFixed(1) ?? '–'} ms; ` +
        `at the end ${r.result.liveCarts} carts, ${r.result.liveDevices} devices, converged ${r.result.convergence.ok ? 'yes' : '**no**'}.`,
      '',
      `| series | start | end | slope after ${r.warmupSeconds.toFixed(0)} s warm-up | % of mean per hour | samples fitted |`,
      '|---|---|---|---|---|---|',
    );
    for (const s of SOAK_SERIES) {
      const x = r.fits[s];
      const count = SOAK_COUNTS.has(s);
      const v = (n: number | null): string => (count ? (n === null ? '–' : n.toFixed(0)) : `${mib(n)} MiB`);
      out.push(`| ${s} | ${v(x.start)} | ${v(x.end)} | ${count ? `${x.perHour?.toFixed(0) ?? '–'}/h` : `${mib(x.perHour)} MiB/h`} | ${x.percentPerHour?.toFixed(1) ?? '–'} | ${x.n} |`);
    }
    out.push('');
  }
  return out;
}

export function markdown(meta: Meta, flags: Flags, summary: Summary, results: RunResults): string {
  const out: string[] = [];
  out.push(`# livecart benchmark — ${meta.date}`, '');
  out.push(`- command: \`${meta.command}\``);
  out.push(`- machine: ${meta.machine.cpuModel} × ${meta.machine.cpus}, ${meta.machine.totalMemGiB.toFixed(1)} GiB RAM, ${meta.machine.os} ${meta.machine.kernel}; load average at start ${meta.machine.loadAvgAtStart.map((v) => v.toFixed(2)).join(' ')}`);
  out.push(`- versions: ${Object.entries(meta.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  out.push(`- git: ${meta.gitCommit}${meta.gitDirty ? ' (working tree has uncommitted changes)' : ''}`);
  out.push(`- repetitions: ${flags.reps} (each figure: median, (min–max) over repetitions); ${flags.quick ? '**quick mode: smoke run, not comparable**; ' : ''}steps ${flags.warmupMs} ms warm-up + ${flags.measureMs} ms measured`);
  if (meta.durationSeconds !== undefined) out.push(`- duration: ${(meta.durationSeconds / 60).toFixed(1)} min`);
  out.push('');
  const failedKeys = Object.keys(summary.failed);
  out.push(failedKeys.length === 0 ? '**Result: every scenario converged (no divergence, no lost acknowledged edit).**' : `**Result: FAILED — ${failedKeys.join(', ')}** (details below).`, '');
  out.push('| # | metric | median (min–max) | target | met? |', '|---|---|---|---|---|');
  for (const r of summary.rows) {
    const met = r.met === null ? '' : r.met ? 'yes' : '**no**';
    out.push(`| ${r.scenario} | ${r.metric} | ${fmtSpread(r.value, r.digits, ` ${r.unit}`)} | ${r.target} | ${met} |`);
  }
  for (const l of summary.ladders) {
    out.push('', `## Latency ladder, ${l.placement}`, '', `${flags.carts} carts × 2 devices, Poisson arrivals; latency = local transaction on one device → seen on the other (ms).`, '', l.table);
  }
  if (results.coldJoin.length > 0) {
    out.push('', '## Cold join: the history cart in Redis', '');
    for (const [i, r] of results.coldJoin.entries()) {
      const fmtLog = (l: { logEntries: number; snapshotBytes: number; snapVersion: number; version: number }): string => `version ${l.version}, ${l.logEntries} log entries, snapshot ${l.snapshotBytes} B (v${l.snapVersion})`;
      out.push(`- rep ${i + 1}: built ${r.history.edits} edits in ${(r.history.ms / 1000).toFixed(1)} s; before: ${fmtLog(r.before.log)}; after: ${r.after ? fmtLog(r.after.log) : '–'}`);
    }
  }
  if (results.correction.length > 0) {
    out.push('', '## Correction latency details', '');
    for (const [i, r] of results.correction.entries()) {
      const all = summarize(r.price.allDevices);
      const f = r.facts.facts;
      out.push(`- rep ${i + 1}: catalog change, last device of ${r.price.devices}: p50 ${all.p50?.toFixed(1) ?? '–'} ms, max ${all.max?.toFixed(1) ?? '–'} ms; edit facts: ${f?.latency.count ?? 0} edit×device observations, ${f?.superseded ?? 0} answered by a later edit's facts, ${f?.unobserved ?? 0} still unpriced after the drain (counted as lower bounds), achieved ${r.facts.achievedRate.toFixed(0)}/s, machine CPU ${r.facts.cpu.machinePercent?.toFixed(0) ?? '–'} %`);
    }
  }
  if (results.memory.length > 0) {
    out.push('', '## Memory points (RSS, MiB)', '', '| rep | devices | node1 | node2 | worker | redis | redis used_memory | generator |', '|---|---|---|---|---|---|---|---|');
    const mb = (v: number | null | undefined): string => (v === null || v === undefined ? '–' : (v / 1048576).toFixed(1));
    for (const [i, r] of results.memory.entries()) {
      out.push(`| ${i + 1} | 0 (baseline) | ${mb(r.baseline.rss.node1)} | ${mb(r.baseline.rss.node2)} | ${mb(r.baseline.rss.worker)} | ${mb(r.baseline.rss.redis)} | ${mb(r.baseline.redisUsedMemory)} | |`);
      for (const p of r.points) out.push(`| ${i + 1} | ${p.devices} | ${mb(p.sample.rss.node1)} | ${mb(p.sample.rss.node2)} | ${mb(p.sample.rss.worker)} | ${mb(p.sample.rss.redis)} | ${mb(p.sample.redisUsedMemory)} | ${mb(p.generatorRss)} |`);
    }
  }
  if (results.soak.length > 0) out.push(...soakSection(flags, results.soak));
  if (failedKeys.length > 0) {
    out.push('', '## Failures', '');
    for (const [k, list] of Object.entries(summary.failed)) for (const f of list.slice(0, 10)) out.push(`- ${k}: ${f}`);
  }
  return out.join('\n') + '\n';
}
