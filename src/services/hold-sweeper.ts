// Ends holds at held_until: within a second their seats are AVAILABLE again
// (and pushed), the reservation and payment EXPIRED, the token EXPIRED
// (HOLD_TIMEOUT). Every instance runs one; SKIP LOCKED keeps them from taking
// the same hold, and since the state lives in PostgreSQL a restart loses
// nothing: the next tick finds whatever came due meanwhile.
//
// That second must hold whatever else the instance is doing, so the database
// work runs in a worker thread of its own (started with a database URL): its
// own event loop, its own timer and its own connection, so it never waits
// behind request traffic, the queue refresh or a busy main event loop (under
// the rush, holds outlived their time by 2 s when the sweep queued there). It
// takes bounded batches, one transaction each, and hands each committed batch
// to this thread, which ends the tokens and pushes the seats (side effects
// after the commit). Without a URL (service tests) the same sweep runs here.
import { Worker } from "node:worker_threads";
import type { Pool } from "pg";
import type { EventBus } from "../pubsub/event-bus";
import type { Logger } from "../observability/logger";
import type { Metrics } from "../observability/metrics";
import { OutageLog } from "../observability/outage-log";
import { inTransaction } from "../db/transaction";
import type { QueueGate } from "./queue/queue.types";
import { afterCommit } from "./after-commit";
import { announceExpiry, expireDueHolds, SWEEP_SQL, type ExpiredHolds } from "./hold-expiry";
import { deleteOldKeys } from "./idempotency";

type Deps = {
  pool: Pool;
  bus: EventBus;
  queue: QueueGate;
  logger?: Logger;
  metrics?: Pick<Metrics, "holdsEnded">;
  /** When given, start() sweeps from a worker thread with its own connection to this database. */
  databaseUrl?: string;
};

export interface SweeperOptions {
  /** Between ticks. 300 ms keeps "within a second" with room for a slow tick. */
  intervalMs?: number;
  /** Holds per transaction: short transactions, few round trips per hold. */
  batchSize?: number;
  /** How often old idempotency keys are deleted. */
  keyCleanupMs?: number;
}

type FromWorker = { expired: ExpiredHolds } | { failed: string } | { recovered: true } | { stopped: true };

// The worker's code: plain JavaScript (it runs the same in the build and under
// the test runner), with the statements of hold-expiry.ts handed over in workerData.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const { Client } = require(workerData.pg);
const { url, intervalMs, batchSize, sql } = workerData;
let client, timer, stopping = false, ticking = false, failing = false;
const end = async () => {
  const c = client;
  client = undefined;
  if (c) await c.end().catch(() => undefined);
};
const finish = async () => {
  await end();
  parentPort.postMessage({ stopped: true });
  parentPort.close();
};
parentPort.on("message", (m) => {
  if (m !== "stop") return;
  stopping = true;
  clearTimeout(timer);
  if (!ticking) void finish();
});
async function batch() {
  await client.query("BEGIN");
  try {
    const holds = (await client.query(sql.expire, [batchSize])).rows;
    let seats = [];
    if (holds.length > 0) {
      const ids = holds.map((h) => h.id);
      await client.query(sql.payments, [ids]);
      seats = (await client.query(sql.seats, [ids])).rows;
    }
    await client.query("COMMIT");
    if (holds.length > 0) parentPort.postMessage({ expired: { holds, seats } });
    return holds.length;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
async function tick() {
  ticking = true;
  try {
    if (!client) {
      const c = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
      c.on("error", () => undefined);
      await c.connect();
      client = c;
    }
    // A full batch means more may be due: take the next at once.
    while (!stopping && (await batch()) === batchSize);
    if (failing) parentPort.postMessage({ recovered: true });
    failing = false;
  } catch (error) {
    failing = true;
    // The database may be away for a moment: a new connection on the next tick.
    parentPort.postMessage({ failed: String((error && error.message) || error) });
    await end();
  }
  ticking = false;
  if (stopping) return finish();
  timer = setTimeout(tick, intervalMs);
}
void tick();
`;

export class HoldSweeper {
  private timer: NodeJS.Timeout | undefined;
  private keyTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private worker: Worker | undefined;
  private workerStopped: Promise<void> | undefined;
  /** Announcements of committed batches, in order. */
  private announcing: Promise<void> = Promise.resolve();
  private started = false;
  private outage: OutageLog | undefined;
  private stopping = false;
  private readonly intervalMs: number;
  private readonly batchSize: number;
  private readonly keyCleanupMs: number;

  constructor(
    private readonly deps: Deps,
    options: SweeperOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 300;
    this.batchSize = options.batchSize ?? 200;
    this.keyCleanupMs = options.keyCleanupMs ?? 60_000;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    if (this.deps.databaseUrl) this.startWorker(this.deps.databaseUrl);
    else this.schedule(0);
    // Old idempotency keys are not urgent: this thread, now and then.
    this.keyTimer = setInterval(() => {
      deleteOldKeys(this.deps.pool).catch((error) => this.deps.logger?.warn("idempotency key cleanup failed", { error }));
    }, this.keyCleanupMs);
    this.keyTimer.unref();
  }

  /** Stops sweeping, waits for a batch in progress to commit, and for its announcement. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.started = false;
    clearTimeout(this.timer);
    clearInterval(this.keyTimer);
    this.worker?.postMessage("stop");
    await Promise.all([this.running, this.workerStopped]);
    this.worker = undefined;
    await this.announcing;
  }

  /** One pass on this thread: expires every due hold, a batch per transaction. Returns how many. */
  async sweep(): Promise<number> {
    let total = 0;
    for (;;) {
      const expired = await inTransaction(this.deps.pool, (client) => expireDueHolds(client, this.batchSize));
      this.deps.metrics?.holdsEnded(expired.holds);
      await afterCommit(this.deps.logger, () => announceExpiry(this.deps, expired));
      total += expired.holds.length;
      // A short batch means nothing else is due (or other instances have it locked).
      if (expired.holds.length < this.batchSize || this.stopping) return total;
    }
  }

  private startWorker(url: string): void {
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { url, intervalMs: this.intervalMs, batchSize: this.batchSize, sql: SWEEP_SQL, pg: require.resolve("pg") },
    });
    this.worker = worker;
    this.workerStopped = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.on("message", (message: FromWorker) => {
      if ("expired" in message) {
        const { expired } = message;
        this.deps.metrics?.holdsEnded(expired.holds);
        this.announcing = this.announcing.then(() => afterCommit(this.deps.logger, () => announceExpiry(this.deps, expired)));
      } else if ("recovered" in message) {
        this.outage?.ok();
      } else if ("failed" in message) {
        // The database may be away for a moment (logged once per outage).
        (this.outage ??= new OutageLog(this.deps.logger, "hold sweep")).failed(new Error(message.failed));
      }
    });
    worker.on("error", (error) => this.deps.logger?.error("hold sweeper worker failed", { error }));
    worker.once("exit", () => {
      // A worker that died (not stopped) is started again after a tick.
      if (!this.stopping && this.worker === worker) setTimeout(() => !this.stopping && this.startWorker(url), this.intervalMs).unref();
    });
    // A sweeper alone must not keep a process alive.
    worker.unref();
  }

  private schedule(delayMs: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.schedule(this.intervalMs);
      });
    }, delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.sweep();
    } catch (error) {
      // The database may be away for a moment; the next tick tries again (logged once per outage).
      (this.outage ??= new OutageLog(this.deps.logger, "hold sweep")).failed(error);
      return;
    }
    this.outage?.ok();
  }
}
