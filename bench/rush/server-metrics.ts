// The servers' own view of the crowd's calls, read from each instance's
// /metrics once the crowd has stopped: how long each operation took inside the
// server (Apollo's request start to its answer), and how long a query waited
// for a connection of the PostgreSQL pool. Set beside the crowd's own timings,
// they say where a call's time went: in the generator waiting for a free
// keep-alive connection, inside the server, or in between (the kernel's
// buffers and the server's event loop before the request was read).
//
// The histograms are cumulative over the server's life; before the crowd the
// servers answered only the ceilings, whose operations are anonymous, so the
// named operations (bench/rush/user-flow.ts names them as the crowd records
// them) are the crowd's alone. Quantiles are estimated from the buckets as
// Prometheus' histogram_quantile does: linear within the bucket that holds the
// rank, so they are as coarse as the buckets (src/observability/metrics.ts).

export interface BucketQuantiles {
  count: number;
  /** ms; null when the rank falls in the last bucket (beyond its lower bound, reported as `over`). */
  p50: number | null;
  p99: number | null;
  /** The last finite bucket's bound in ms: a quantile past it is only known to be above it. */
  over: number;
}

export interface ServerTimings {
  /** By operation name (the crowd's op names). */
  operations: Record<string, BucketQuantiles>;
  /** By PostgreSQL pool (main, journal, sweeper): the wait for a connection, and a query from send to result. */
  pools: Record<string, { wait: BucketQuantiles | null; query: BucketQuantiles | null }>;
}

type Buckets = Map<number, number>; // upper bound (s, Infinity for +Inf) → cumulative count

const LINE = /^(\w+)_bucket\{([^}]*)\} ([0-9.e+-]+)$/;

/** Adds one /metrics text's buckets of `metric`, keyed by the value of `label`, to `into`. */
function addBuckets(text: string, metric: string, label: string, into: Map<string, Buckets>): void {
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m || m[1] !== metric) continue;
    const labels = Object.fromEntries([...m[2].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const key = labels[label];
    if (key === undefined || labels.le === undefined) continue;
    const le = labels.le === "+Inf" ? Infinity : Number(labels.le);
    let b = into.get(key);
    if (!b) into.set(key, (b = new Map()));
    b.set(le, (b.get(le) ?? 0) + Number(m[3]));
  }
}

export function bucketQuantiles(b: Buckets): BucketQuantiles {
  const bounds = [...b.keys()].sort((x, y) => x - y);
  const count = b.get(Infinity) ?? 0;
  const finite = bounds.filter(Number.isFinite);
  const over = Math.round((finite[finite.length - 1] ?? 0) * 1000);
  const at = (q: number): number | null => {
    if (count === 0) return null;
    const rank = q * count;
    let lower = 0;
    let below = 0;
    for (const le of bounds) {
      const c = b.get(le)!;
      if (c >= rank) {
        if (!Number.isFinite(le)) return null;
        const inBucket = c - below;
        const ms = (lower + (le - lower) * (inBucket > 0 ? (rank - below) / inBucket : 1)) * 1000;
        return Math.round(ms * 10) / 10;
      }
      lower = le;
      below = c;
    }
    return null;
  };
  return { count, p50: at(0.5), p99: at(0.99), over };
}

/** Reads every instance's /metrics and sums their histograms. */
export async function readServerTimings(urls: string[], operations: readonly string[]): Promise<ServerTimings> {
  const ops = new Map<string, Buckets>();
  const pool = new Map<string, Buckets>();
  const query = new Map<string, Buckets>();
  for (const url of urls) {
    const text = await (await fetch(new URL("/metrics", url), { signal: AbortSignal.timeout(10_000) })).text();
    addBuckets(text, "graphql_operation_duration_seconds", "operation", ops);
    addBuckets(text, "db_pool_wait_seconds", "pool", pool);
    addBuckets(text, "db_query_duration_seconds", "pool", query);
  }
  const of = (m: Map<string, Buckets>, name: string) => {
    const b = m.get(name);
    return b ? bucketQuantiles(b) : null;
  };
  const names = [...new Set([...pool.keys(), ...query.keys()])].sort();
  return {
    operations: Object.fromEntries(operations.filter((op) => ops.has(op)).map((op) => [op, bucketQuantiles(ops.get(op)!)])),
    pools: Object.fromEntries(names.map((name) => [name, { wait: of(pool, name), query: of(query, name) }])),
  };
}
