/**
 * Small statistics helpers: percentiles of samples, and the median / min / max of repeated figures.
 */

/** The p-th percentile (0..100) by nearest rank on a sorted copy; null for no samples. */
export function percentile(samples: readonly number[], p: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  return percentileSorted(sorted, p);
}

export function percentileSorted(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? null;
}

export interface LatencySummary {
  count: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const count = sorted.length;
  return {
    count,
    p50: percentileSorted(sorted, 50),
    p95: percentileSorted(sorted, 95),
    p99: percentileSorted(sorted, 99),
    max: count === 0 ? null : (sorted[count - 1] ?? null),
    mean: count === 0 ? null : sorted.reduce((a, b) => a + b, 0) / count,
  };
}

/** A figure over repetitions: the median, and the range it came from. */
export interface Spread {
  median: number | null;
  min: number | null;
  max: number | null;
  /** Every repetition's value (null where that repetition had none). */
  values: Array<number | null>;
}

export function spread(values: ReadonlyArray<number | null | undefined>): Spread {
  const clean = values.map((v) => (v === undefined || v === null || !Number.isFinite(v) ? null : v));
  const present = clean.filter((v): v is number => v !== null).sort((a, b) => a - b);
  if (present.length === 0) return { median: null, min: null, max: null, values: clean };
  const mid = Math.floor(present.length / 2);
  const median = present.length % 2 === 1 ? present[mid]! : (present[mid - 1]! + present[mid]!) / 2;
  return { median, min: present[0]!, max: present[present.length - 1]!, values: clean };
}

/** "12.3 (11.0–14.2)" with `digits` decimals; "–" when there is nothing. */
export function fmtSpread(s: Spread, digits = 1, unit = ''): string {
  if (s.median === null) return '–';
  const f = (v: number | null): string => (v === null ? '–' : v.toFixed(digits));
  if (s.values.filter((v) => v !== null).length <= 1) return `${f(s.median)}${unit}`;
  return `${f(s.median)}${unit} (${f(s.min)}–${f(s.max)})`;
}

/** An exponential variate with the given mean (Poisson arrivals have exponential gaps). */
export function exponential(mean: number, random: () => number = Math.random): number {
  return -Math.log(1 - random()) * mean;
}
