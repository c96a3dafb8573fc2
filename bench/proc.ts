/**
 * CPU time and resident memory of processes, from /proc (Linux only). CPU is utime + stime of the
 * whole process (every thread) in clock ticks; RSS is VmRSS.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticks: number | null = null;

/** Clock ticks per second (`getconf CLK_TCK`, 100 on Linux nearly everywhere). */
export function clockTicks(): number {
  if (ticks !== null) return ticks;
  try {
    const v = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    ticks = Number.isFinite(v) && v > 0 ? v : 100;
  } catch {
    ticks = 100;
  }
  return ticks;
}

/** CPU seconds (user + system) used so far by `pid`, or null when it cannot be read. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    const utime = Number(rest[11]);
    const stime = Number(rest[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
    return (utime + stime) / clockTicks();
  } catch {
    return null;
  }
}

/** Resident set size of `pid` in bytes (VmRSS), or null. */
export function rssBytes(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** This process's CPU seconds (user + system). */
export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export type ProcName = 'node1' | 'node2' | 'worker' | 'redis';
export type Pids = Record<ProcName, number>;
export const PROC_NAMES: readonly ProcName[] = ['node1', 'node2', 'worker', 'redis'];

/** Machine-wide CPU ticks from /proc/stat (every process, including other users of the machine). */
export interface MachineTicks {
  busy: number;
  total: number;
  steal: number;
}

export function machineTicks(): MachineTicks | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
    const total = user + nice + system + idle + iowait + irq + softirq + steal;
    return { busy: total - idle - iowait, total, steal };
  } catch {
    return null;
  }
}

export interface CpuSample {
  wallMs: number;
  procs: Record<ProcName, number | null>;
  generator: number;
  machine: MachineTicks | null;
}

export function sampleCpu(pids: Pids): CpuSample {
  const procs = {} as Record<ProcName, number | null>;
  for (const name of PROC_NAMES) procs[name] = cpuSeconds(pids[name]);
  return { wallMs: performance.now(), procs, generator: ownCpuSeconds(), machine: machineTicks() };
}

/** CPU seconds used by each process between two samples, and the wall time between them. */
export interface CpuDelta {
  wallSeconds: number;
  seconds: Record<ProcName | 'generator', number | null>;
  /** Percent of one core over the interval. */
  percent: Record<ProcName | 'generator', number | null>;
  /** Busy share of all the machine's cores (every process on it, ours or not), 0..100. */
  machinePercent: number | null;
  /** Share of all cores' time stolen by the hypervisor, 0..100. */
  stealPercent: number | null;
  /** CPU used on the machine by everything that is not the benchmark's processes, % of one core. */
  otherPercent: number | null;
}

export function cpuDelta(a: CpuSample, b: CpuSample): CpuDelta {
  const wallSeconds = (b.wallMs - a.wallMs) / 1000;
  const seconds = {} as CpuDelta['seconds'];
  const percent = {} as CpuDelta['percent'];
  for (const name of PROC_NAMES) {
    const x = a.procs[name];
    const y = b.procs[name];
    seconds[name] = x === null || y === null ? null : y - x;
  }
  seconds.generator = b.generator - a.generator;
  for (const [k, v] of Object.entries(seconds) as Array<[ProcName | 'generator', number | null]>) {
    percent[k] = v === null || wallSeconds <= 0 ? null : (v / wallSeconds) * 100;
  }
  const ma = a.machine;
  const mb = b.machine;
  const total = ma && mb ? mb.total - ma.total : 0;
  const machinePercent = ma && mb && total > 0 ? ((mb.busy - ma.busy) / total) * 100 : null;
  const stealPercent = ma && mb && total > 0 ? ((mb.steal - ma.steal) / total) * 100 : null;
  const ours = Object.values(seconds).reduce<number>((n, v) => n + (v ?? 0), 0);
  const busySeconds = ma && mb ? (mb.busy - ma.busy) / clockTicks() : null;
  const otherPercent = busySeconds === null || wallSeconds <= 0 ? null : Math.max(0, ((busySeconds - ours) / wallSeconds) * 100);
  return { wallSeconds, seconds, percent, machinePercent, stealPercent, otherPercent };
}
