/**
 * Counters, gauges and histograms of this process, rendered in the Prometheus text format at
 * GET /metrics. Dependency-free: a handful of named series with fixed, low-cardinality labels.
 */
type Labels = Record<string, string>;

function labelKey(labels: Labels): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
    .join(',');
}

interface Histogram {
  help: string;
  buckets: number[];
  counts: number[];
  sum: number;
  count: number;
}

export class Metrics {
  private readonly counters = new Map<string, { help: string; values: Map<string, number> }>();
  private readonly gauges = new Map<string, { help: string; read: () => number | Promise<number> }>();
  private readonly histograms = new Map<string, Histogram>();

  /** A counter; registering a name again returns the same series (workers restart, the registry stays). */
  counter(name: string, help: string): (labels?: Labels, by?: number) => void {
    const series = this.counters.get(name) ?? { help, values: new Map<string, number>() };
    this.counters.set(name, series);
    return (labels = {}, by = 1) => {
      const key = labelKey(labels);
      series.values.set(key, (series.values.get(key) ?? 0) + by);
    };
  }

  /** A gauge read when /metrics is scraped (it may ask Redis, e.g. a queue's depth). */
  gauge(name: string, help: string, read: () => number | Promise<number>): void {
    this.gauges.set(name, { help, read });
  }

  /** A gauge this process moves itself (returns `add(delta)`), e.g. connections open now. */
  level(name: string, help: string): (delta: number) => void {
    let value = 0;
    this.gauge(name, help, () => value);
    return (delta) => {
      value += delta;
    };
  }

  /** Current value of a gauge (tests). */
  async gaugeValue(name: string): Promise<number> {
    return (await this.gauges.get(name)?.read()) ?? Number.NaN;
  }

  /** A histogram with upper bounds `buckets` (ascending); returns its observe function. */
  histogram(name: string, help: string, buckets: number[]): (value: number) => void {
    const h: Histogram = this.histograms.get(name) ?? { help, buckets, counts: buckets.map(() => 0), sum: 0, count: 0 };
    this.histograms.set(name, h);
    return (value) => {
      h.sum += value;
      h.count += 1;
      buckets.forEach((b, i) => {
        if (value <= b) h.counts[i]! += 1;
      });
    };
  }

  /** Current value of a counter series (tests use it to check that bad input is counted). */
  value(name: string, labels: Labels = {}): number {
    return this.counters.get(name)?.values.get(labelKey(labels)) ?? 0;
  }

  /** Observations of a histogram so far. */
  observations(name: string): number {
    return this.histograms.get(name)?.count ?? 0;
  }

  async render(): Promise<string> {
    const out: string[] = [];
    for (const [name, { help, values }] of this.counters) {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      if (values.size === 0) out.push(`${name} 0`);
      for (const [key, v] of values) out.push(key ? `${name}{${key}} ${v}` : `${name} ${v}`);
    }
    for (const [name, { help, read }] of this.gauges) {
      let value: number;
      try {
        value = await read();
      } catch {
        value = Number.NaN;
      }
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${value}`);
    }
    for (const [name, h] of this.histograms) {
      out.push(`# HELP ${name} ${h.help}`, `# TYPE ${name} histogram`);
      h.buckets.forEach((b, i) => out.push(`${name}_bucket{le="${b}"} ${h.counts[i]}`));
      out.push(`${name}_bucket{le="+Inf"} ${h.count}`, `${name}_sum ${h.sum}`, `${name}_count ${h.count}`);
    }
    return out.join('\n') + '\n';
  }
}

/**
 * This process's memory, under the names Prometheus' Node.js exporters use: RSS, and what of it
 * the JavaScript heap and buffers outside it hold (an RSS that grows while the heap does not is the
 * allocator's, not a leak of objects).
 */
export function registerProcessMetrics(metrics: Metrics): void {
  metrics.gauge('process_resident_memory_bytes', 'Resident memory of this process.', () => process.memoryUsage.rss());
  metrics.gauge('nodejs_heap_size_used_bytes', 'JavaScript heap in use.', () => process.memoryUsage().heapUsed);
  metrics.gauge('nodejs_heap_size_total_bytes', 'JavaScript heap reserved.', () => process.memoryUsage().heapTotal);
  metrics.gauge('nodejs_external_memory_bytes', 'Memory of objects outside the heap (buffers), as V8 accounts it.', () => process.memoryUsage().external);
}

/** The series every node exports. */
export function createServerMetrics(metrics: Metrics) {
  return {
    rejected: metrics.counter('livecart_rejected_total', 'Messages and updates rejected, by error code and transport.'),
    changes: metrics.counter('livecart_changes_total', 'Changes appended to cart logs, by origin.'),
    dropped: metrics.counter('livecart_dropped_messages_total', 'Messages dropped without a reply (unknown kind or no ack).'),
    /** Authenticated connections, both transports (a handshake that fails its token is not a device). */
    devices: metrics.level('livecart_connected_devices', 'Authenticated device connections on this node (Socket.IO and /yjs).'),
    sessionWork: metrics.counter('livecart_session_work_total', 'Messages queued by cart sessions, by outcome: run, dropped (its connection was gone), refused (queue full).'),
    step1Encoded: metrics.counter('livecart_sync_answers_encoded_total', 'Sync step 1 answers encoded from the document (the others were served from the per-version cache).'),
    sessionsClosed: metrics.counter('livecart_sessions_closed_total', 'Cart sessions the server ended, by close reason and transport.'),
  };
}

export type ServerMetrics = ReturnType<typeof createServerMetrics>;

/** The series the workers export. */
export function createWorkerMetrics(metrics: Metrics) {
  return {
    jobs: metrics.counter('livecart_jobs_total', 'Jobs processed, by queue and outcome (completed, failed).'),
    corrections: metrics.counter('livecart_corrections_total', 'Revalidations that wrote a correction to the cart log.'),
    lag: metrics.histogram('livecart_revalidation_lag_seconds', 'From an accepted change to the revalidation that saw it being applied.', [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
