// Prometheus metrics through prom-client: one registry per instance (tests run
// several instances in one process), the process and event-loop figures of
// collectDefaultMetrics, and what the people on call ask during an on-sale —
// how long is the line, how fast does it move, are we selling, is anything
// failing. Series with a `concert` label are bounded: at most
// `maxConcertLabels` concerts are labelled by id at a time, any more are
// counted under concert="other". A labelled concert unseen for
// `concertIdleMs` (no line, no sale, no hold) gives its place, and its series,
// to the next new one, so a long-running instance labels today's on-sale.
//
// On the hot paths: a counter child is looked up once per label value and
// kept (prom-client's `inc(labels)` hashes the label object on every call);
// pushes are counted in plain number slots that are added to their counter
// when /metrics is read, so a push costs one `n++`.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** The line of one concert now, as the queue store counts it. */
export interface LineCounts {
  concertId: string;
  waiting: number;
  active: number;
  /** The pre-queue (rule 16): 0 until the queue store reports it (see app.ts, readLine). */
  preQueue?: number;
}

export interface MetricsOptions {
  /** How many concerts get a label of their own at a time (the rest: "other"). */
  maxConcertLabels?: number;
  /** After how long unseen a labelled concert may give its label up (default 10 minutes). */
  concertIdleMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

/** A push counter slot for one subscription kind: `slot.n++` per push. */
export interface PushSlot {
  n: number;
}

const OTHER = "other";
const MAX_OPERATION_LABELS = 500;
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const OPERATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const LAG_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];
/** Rule 8: within a second of heldUntil a hold's seats are free again; later than that is late. */
export const LATE_RELEASE_SECONDS = 1;

type Labels<T extends string> = Partial<Record<T, string | number>>;

/** Children of a labelled counter or histogram, kept per label value (bounded by the caller). */
class Children<C> {
  private readonly made = new Map<string, C>();
  constructor(private readonly make: (value: string) => C) {}
  get(value: string): C {
    let child = this.made.get(value);
    if (!child) this.made.set(value, (child = this.make(value)));
    return child;
  }
}

export class Metrics {
  readonly registry = new Registry();
  private readonly maxConcertLabels: number;
  private readonly concertIdleMs: number;
  private readonly now: () => number;
  /** Labelled concerts and when each was last seen. */
  private readonly concertLabels = new Map<string, number>();
  private readonly byConcert: (Counter<"concert"> | Gauge<"concert">)[] = [];
  private lineSource: (() => Promise<LineCounts[]>) | undefined;
  private readonly gauges = new Map<string, number>();
  private readonly plainCounters = new Map<string, Counter>();
  private readonly pushSlots = new Map<string, PushSlot>();
  private readonly pushesCounted = new Map<string, number>();

  // GraphQL
  private readonly operations: Histogram<"operation">;
  private readonly operationChildren: Children<{ observe(v: number): void }>;
  private readonly errors: Counter<"code">;
  private readonly errorChildren: Children<{ inc(v?: number): void }>;
  // The line
  private readonly admissions: Counter<"concert">;
  private readonly admissionToPush: Histogram;
  // Holds and sales
  private readonly holdsMade: Counter<"concert">;
  private readonly holdsExpired: Counter<"concert">;
  private readonly holdsLate: Counter<"concert">;
  private readonly sweeperLag: Histogram;
  private readonly seatsSold: Counter<"concert">;
  private readonly revenue: Counter<"concert">;
  private readonly refundCount: Counter<"concert">;
  private readonly refundAmount: Counter<"concert">;
  // WebSockets and pushes
  private readonly wsOpen: Gauge;
  private readonly wsConnects: Counter;
  private readonly wsRefusals: Counter<"reason">;
  private readonly pushes: Counter<"kind">;
  // Redis and PostgreSQL
  private readonly redisDuration: Histogram<"command">;
  private readonly redisFailures: Counter<"command">;
  private readonly dbDuration: Histogram<"pool">;
  private readonly dbFailures: Counter<"pool">;
  private readonly poolWait: Histogram<"pool">;
  private readonly poolWaitFailures: Counter<"pool">;
  private readonly pools = new Map<string, { totalCount: number; idleCount: number; waitingCount: number }>();

  constructor(options: MetricsOptions = {}) {
    this.maxConcertLabels = options.maxConcertLabels ?? 20;
    this.concertIdleMs = options.concertIdleMs ?? 600_000;
    this.now = options.now ?? Date.now;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const self = this;

    this.operations = new Histogram({
      name: "graphql_operation_duration_seconds",
      help: "GraphQL operations over HTTP, by operation name (at most 500 names; the rest: other).",
      labelNames: ["operation"],
      buckets: OPERATION_BUCKETS,
      registers,
    });
    this.operationChildren = new Children((operation) => this.operations.labels({ operation }));
    this.errors = new Counter({
      name: "graphql_errors_total",
      help: "Errors answered, by the contract's code (HTTP and WebSocket).",
      labelNames: ["code"],
      registers,
    });
    this.errorChildren = new Children((code) => this.errors.labels({ code }));

    new Gauge({
      name: "queue_waiting",
      help: "Tokens WAITING in line, per concert (the shared queue store: every instance reports the same).",
      labelNames: ["concert"],
      registers,
      async collect() {
        await self.collectLine(this, "waiting");
      },
    });
    new Gauge({
      name: "queue_active",
      help: "Tokens ACTIVE (admitted, session running), per concert.",
      labelNames: ["concert"],
      registers,
      async collect() {
        await self.collectLine(this, "active");
      },
    });
    new Gauge({
      name: "queue_pre_queue",
      help: "Tokens in the pre-queue before the opening (rule 16), per concert.",
      labelNames: ["concert"],
      registers,
      async collect() {
        await self.collectLine(this, "preQueue");
      },
    });
    this.admissions = new Counter({
      name: "queue_admissions_total",
      help: "Tokens admitted (at entry or by the admission step) by this instance, per concert.",
      labelNames: ["concert"],
      registers,
    });
    this.admissionToPush = new Histogram({
      name: "queue_admission_push_seconds",
      help: "From an admission (the queue store's clock) to its ACTIVE ticket pushed by this instance.",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15],
      registers,
    });

    this.holdsMade = new Counter({ name: "holds_made_total", help: "Holds placed (reserveSeats), per concert.", labelNames: ["concert"], registers });
    this.holdsExpired = new Counter({
      name: "holds_expired_total",
      help: "Holds ended by this instance's sweeper at heldUntil, per concert.",
      labelNames: ["concert"],
      registers,
    });
    this.holdsLate = new Counter({
      name: "holds_released_late_total",
      help: `Holds the sweeper ended more than ${LATE_RELEASE_SECONDS} s after heldUntil (rule 8), per concert.`,
      labelNames: ["concert"],
      registers,
    });
    this.sweeperLag = new Histogram({
      name: "hold_sweeper_lag_seconds",
      help: "How long after heldUntil the sweeper ended each hold.",
      buckets: LAG_BUCKETS,
      registers,
    });
    this.seatsSold = new Counter({
      name: "seats_sold_total",
      help: "Seats sold by payments on this instance, per concert.",
      labelNames: ["concert"],
      registers,
    });
    this.revenue = new Counter({
      name: "revenue_won_total",
      help: "Won taken by payments on this instance, per concert.",
      labelNames: ["concert"],
      registers,
    });
    this.refundCount = new Counter({
      name: "refunds_total",
      help: "Refunds made on this instance, per concert.",
      labelNames: ["concert"],
      registers,
    });
    this.refundAmount = new Counter({
      name: "refunded_won_total",
      help: "Won refunded on this instance, per concert.",
      labelNames: ["concert"],
      registers,
    });

    this.wsOpen = new Gauge({ name: "websocket_open", help: "WebSockets open on this instance.", registers });
    this.wsConnects = new Counter({ name: "websocket_connects_total", help: "WebSockets accepted by this instance.", registers });
    this.wsRefusals = new Counter({
      name: "websocket_refusals_total",
      help: "WebSockets refused or closed by the server, by reason.",
      labelNames: ["reason"],
      registers,
    });
    this.pushes = new Counter({
      name: "subscription_pushes_total",
      help: "Subscription events sent by this instance, by kind (the subscription's root field).",
      labelNames: ["kind"],
      registers,
      collect() {
        self.flushPushes(this);
      },
    });

    this.redisDuration = new Histogram({
      name: "redis_command_duration_seconds",
      help: "Redis commands, by command, from send to reply.",
      labelNames: ["command"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.redisFailures = new Counter({
      name: "redis_command_failures_total",
      help: "Redis commands that failed, by command.",
      labelNames: ["command"],
      registers,
    });
    this.dbDuration = new Histogram({
      name: "db_query_duration_seconds",
      help: "PostgreSQL queries, by pool, from send to result.",
      labelNames: ["pool"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.dbFailures = new Counter({
      name: "db_query_failures_total",
      help: "PostgreSQL queries that failed, by pool.",
      labelNames: ["pool"],
      registers,
    });
    this.poolWait = new Histogram({
      name: "db_pool_wait_seconds",
      help: "Time to get a connection from the pool, by pool.",
      labelNames: ["pool"],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.poolWaitFailures = new Counter({
      name: "db_pool_wait_failures_total",
      help: "Connections asked of the pool that could not be had (timeout, database away), by pool.",
      labelNames: ["pool"],
      registers,
    });
    this.byConcert.push(
      this.admissions,
      this.holdsMade,
      this.holdsExpired,
      this.holdsLate,
      this.seatsSold,
      this.revenue,
      this.refundCount,
      this.refundAmount,
    );
    new Gauge({
      name: "db_pool_connections",
      help: "Connections in the pool, by pool and state (idle, busy) and requests waiting for one (waiting).",
      labelNames: ["pool", "state"],
      registers,
      collect() {
        this.reset();
        for (const [pool, p] of self.pools) {
          this.set({ pool, state: "idle" }, p.idleCount);
          this.set({ pool, state: "busy" }, p.totalCount - p.idleCount);
          this.set({ pool, state: "waiting" }, p.waitingCount);
        }
      },
    });
  }

  /** The label of a concert: its id while it has one of the `maxConcertLabels` places, else "other". */
  concertLabel(concertId: string): string {
    const now = this.now();
    if (this.concertLabels.has(concertId)) {
      this.concertLabels.set(concertId, now);
      return concertId;
    }
    if (this.concertLabels.size >= this.maxConcertLabels && !this.evictIdleConcert(now)) return OTHER;
    this.concertLabels.set(concertId, now);
    return concertId;
  }

  /** Frees the place of the concert unseen longest, if unseen for concertIdleMs; its series go with it. */
  private evictIdleConcert(now: number): boolean {
    let oldest: string | undefined;
    let oldestAt = Infinity;
    for (const [id, at] of this.concertLabels) if (at < oldestAt) [oldest, oldestAt] = [id, at];
    if (oldest === undefined || now - oldestAt < this.concertIdleMs) return false;
    this.concertLabels.delete(oldest);
    for (const metric of this.byConcert) metric.remove({ concert: oldest });
    return true;
  }

  // ---------------------------------------------------------------- GraphQL

  observeOperation(name: string, seconds: number): void {
    this.operationChildren.get(this.operationLabel(name)).observe(seconds);
  }

  countError(code: string): void {
    this.errorChildren.get(code).inc();
  }

  /** A plain counter by name (e.g. queue_admissions_by_this_instance), made on first use. */
  increment(name: string, by = 1): void {
    let counter = this.plainCounters.get(name);
    if (!counter) {
      counter = new Counter({ name, help: `${name} (counted by name).`, registers: [this.registry] });
      this.plainCounters.set(name, counter);
    }
    counter.inc(by);
  }

  // -------------------------------------------------------------- the line

  /** Where the waiting/active/pre-queue gauges read the line when /metrics is scraped. */
  readLineFrom(source: () => Promise<LineCounts[]>): void {
    this.lineSource = source;
  }

  admitted(concertId: string, count: number): void {
    if (count > 0) this.admissions.inc({ concert: this.concertLabel(concertId) }, count);
  }

  /** An ACTIVE ticket was pushed `seconds` after its admission. */
  admissionPushed(seconds: number): void {
    this.admissionToPush.observe(Math.max(0, seconds));
  }

  // -------------------------------------------------------- holds and sales

  holdMade(concertId: string): void {
    this.holdsMade.inc({ concert: this.concertLabel(concertId) });
  }

  /** Holds the sweeper ended, each with how long after its heldUntil. */
  holdsEnded(holds: { concertId?: string; lagSeconds?: number }[]): void {
    for (const h of holds) {
      const concert = h.concertId === undefined ? OTHER : this.concertLabel(h.concertId);
      this.holdsExpired.inc({ concert });
      if (h.lagSeconds === undefined) continue;
      this.sweeperLag.observe(Math.max(0, h.lagSeconds));
      if (h.lagSeconds > LATE_RELEASE_SECONDS) this.holdsLate.inc({ concert });
    }
  }

  sold(concertId: string, seats: number, amount: number): void {
    const concert = this.concertLabel(concertId);
    this.seatsSold.inc({ concert }, seats);
    this.revenue.inc({ concert }, amount);
  }

  /** A refund of `amount` won (aftersale calls it after the refund's commit). */
  refunds(concertId: string, amount: number): void {
    const concert = this.concertLabel(concertId);
    this.refundCount.inc({ concert });
    this.refundAmount.inc({ concert }, amount);
  }

  // --------------------------------------------------- WebSockets and pushes

  wsConnected(): void {
    this.wsConnects.inc();
    this.wsOpen.inc();
  }

  wsClosed(): void {
    this.wsOpen.dec();
  }

  wsRefused(reason: string): void {
    this.wsRefusals.inc({ reason });
  }

  /**
   * The push slot of a subscription kind, to take once per subscription and
   * bump with `slot.n++` per push. Kinds are the schema's subscription fields.
   */
  pushSlot(kind: string): PushSlot {
    let slot = this.pushSlots.get(kind);
    if (!slot) this.pushSlots.set(kind, (slot = { n: 0 }));
    return slot;
  }

  // ---------------------------------------------------- Redis and PostgreSQL

  redisCall(command: string, seconds: number, failed: boolean): void {
    this.redisDuration.observe({ command }, seconds);
    if (failed) this.redisFailures.inc({ command });
  }

  dbQuery(pool: string, seconds: number, failed: boolean): void {
    this.dbDuration.observe({ pool }, seconds);
    if (failed) this.dbFailures.inc({ pool });
  }

  poolWaited(pool: string, seconds: number, failed: boolean): void {
    this.poolWait.observe({ pool }, seconds);
    if (failed) this.poolWaitFailures.inc({ pool });
  }

  /** Reports the pool's connection counts at every scrape. */
  watchPool(name: string, pool: { totalCount: number; idleCount: number; waitingCount: number }): void {
    this.pools.set(name, pool);
  }

  // ---------------------------------------------------------------- output

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text; `gauges` are extra unlabelled gauges by name, read now. */
  async render(gauges: Record<string, number> = {}): Promise<string> {
    this.lineRead = undefined; // one read of the line per scrape, shared by its three gauges
    for (const [name, value] of Object.entries(gauges)) {
      if (!this.gauges.has(name)) {
        const values = this.gauges;
        new Gauge({
          name,
          help: `${name}.`,
          registers: [this.registry],
          collect() {
            this.set(values.get(name) ?? 0);
          },
        });
      }
      this.gauges.set(name, value);
    }
    return this.registry.metrics();
  }

  private operationLabel(name: string): string {
    // Operation names come from clients: cap the label set so they cannot grow memory.
    if (this.seenOperations.has(name)) return name;
    if (this.seenOperations.size >= MAX_OPERATION_LABELS) return OTHER;
    this.seenOperations.add(name);
    return name;
  }

  private readonly seenOperations = new Set<string>();

  private async collectLine(gauge: Gauge<"concert">, field: "waiting" | "active" | "preQueue"): Promise<void> {
    gauge.reset();
    if (!this.lineSource) return;
    const sums = new Map<string, number>();
    for (const line of await this.lineSourceOnce()) {
      const label = this.concertLabel(line.concertId);
      sums.set(label, (sums.get(label) ?? 0) + (line[field] ?? 0));
    }
    for (const [concert, value] of sums) gauge.set({ concert } satisfies Labels<"concert">, value);
  }

  // The three line gauges are collected within one scrape: they share one read of the store.
  private lineRead: { at: number; value: Promise<LineCounts[]> } | undefined;
  private lineSourceOnce(): Promise<LineCounts[]> {
    const now = Date.now();
    if (!this.lineRead || now - this.lineRead.at > 250) this.lineRead = { at: now, value: this.lineSource!() };
    return this.lineRead.value;
  }

  private flushPushes(counter: Counter<"kind">): void {
    for (const [kind, slot] of this.pushSlots) {
      const delta = slot.n - (this.pushesCounted.get(kind) ?? 0);
      if (delta > 0) counter.inc({ kind }, delta);
      else if (!this.pushesCounted.has(kind)) counter.inc({ kind }, 0);
      this.pushesCounted.set(kind, slot.n);
    }
  }
}
