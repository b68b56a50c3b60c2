// Prometheus text exposition, written by hand: a histogram of GraphQL operation
// durations by operation name, a counter of errors by code, process figures.
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

export class Metrics {
  private readonly durations = new Map<string, Histogram>();
  private readonly errors = new Map<string, number>();
  private readonly counters = new Map<string, number>();
  private readonly startedAt = Date.now();

  observeOperation(name: string, seconds: number): void {
    let h = this.durations.get(name);
    if (!h) {
      // Operation names come from clients: cap the label set so they cannot grow memory.
      if (this.durations.size >= 500) name = "other";
      h = this.durations.get(name) ?? { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.durations.set(name, h);
    }
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]) h.counts[i]++;
    h.sum += seconds;
    h.count++;
  }

  countError(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  /** A plain counter, e.g. queue admissions made by this instance. */
  increment(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  render(gauges: Record<string, number> = {}): string {
    const lines: string[] = [];
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    lines.push(
      "# TYPE process_cpu_seconds_total counter",
      `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
      "# TYPE process_resident_memory_bytes gauge",
      `process_resident_memory_bytes ${mem.rss}`,
      "# TYPE nodejs_heap_used_bytes gauge",
      `nodejs_heap_used_bytes ${mem.heapUsed}`,
      "# TYPE process_uptime_seconds gauge",
      `process_uptime_seconds ${(Date.now() - this.startedAt) / 1000}`,
      "# TYPE graphql_operation_duration_seconds histogram",
    );
    for (const [name, h] of this.durations) {
      const label = `operation="${escapeLabel(name)}"`;
      BUCKETS.forEach((b, i) => lines.push(`graphql_operation_duration_seconds_bucket{${label},le="${b}"} ${h.counts[i]}`));
      lines.push(`graphql_operation_duration_seconds_bucket{${label},le="+Inf"} ${h.count}`);
      lines.push(`graphql_operation_duration_seconds_sum{${label}} ${h.sum}`);
      lines.push(`graphql_operation_duration_seconds_count{${label}} ${h.count}`);
    }
    lines.push("# TYPE graphql_errors_total counter");
    for (const [code, n] of this.errors) lines.push(`graphql_errors_total{code="${escapeLabel(code)}"} ${n}`);
    for (const [name, n] of this.counters) lines.push(`# TYPE ${name} counter`, `${name} ${n}`);
    for (const [name, v] of Object.entries(gauges)) lines.push(`# TYPE ${name} gauge`, `${name} ${v}`);
    return `${lines.join("\n")}\n`;
  }
}

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
