/**
 * Counters and gauges of this process, rendered in the Prometheus text format at GET /metrics.
 * Kept dependency-free: a handful of named series, no labels beyond a fixed `code`/`transport`.
 */
export class Metrics {
  private readonly counters = new Map<string, { help: string; values: Map<string, number> }>();
  private readonly gauges = new Map<string, { help: string; read: () => number }>();

  counter(name: string, help: string): (labels?: Record<string, string>, by?: number) => void {
    const series = { help, values: new Map<string, number>() };
    this.counters.set(name, series);
    return (labels = {}, by = 1) => {
      const key = Object.entries(labels)
        .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
        .join(',');
      series.values.set(key, (series.values.get(key) ?? 0) + by);
    };
  }

  gauge(name: string, help: string, read: () => number): void {
    this.gauges.set(name, { help, read });
  }

  /** Current value of a counter series (tests use it to check that bad input is counted). */
  value(name: string, labels: Record<string, string> = {}): number {
    const key = Object.entries(labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(',');
    return this.counters.get(name)?.values.get(key) ?? 0;
  }

  render(): string {
    const out: string[] = [];
    for (const [name, { help, values }] of this.counters) {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      if (values.size === 0) out.push(`${name} 0`);
      for (const [key, v] of values) out.push(key ? `${name}{${key}} ${v}` : `${name} ${v}`);
    }
    for (const [name, { help, read }] of this.gauges) {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${read()}`);
    }
    return out.join('\n') + '\n';
  }
}

/** The series every node exports. */
export function createServerMetrics(metrics: Metrics) {
  return {
    rejected: metrics.counter('livecart_rejected_total', 'Messages and updates rejected, by error code and transport.'),
    changes: metrics.counter('livecart_changes_total', 'Changes appended to cart logs, by origin.'),
    dropped: metrics.counter('livecart_dropped_messages_total', 'Messages dropped without a reply (unknown kind or no ack).'),
  };
}

export type ServerMetrics = ReturnType<typeof createServerMetrics>;
