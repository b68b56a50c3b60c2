// Ends holds at held_until: within a tick their seats are AVAILABLE again (and
// pushed), the reservation and payment EXPIRED, the token EXPIRED (HOLD_TIMEOUT).
// Every instance runs one; SKIP LOCKED keeps them from taking the same hold, and
// since the state lives in PostgreSQL a restart loses nothing: the next tick
// finds whatever came due meanwhile through the held_until partial index.
import type { Pool } from "pg";
import type { EventBus } from "../pubsub/event-bus";
import type { Logger } from "../observability/logger";
import type { Metrics } from "../observability/metrics";
import { inTransaction } from "../db/transaction";
import type { QueueGate } from "./queue/queue.types";
import { afterCommit } from "./after-commit";
import { announceExpiry, expireDueHolds } from "./hold-expiry";
import { deleteOldKeys } from "./idempotency";
import { OutageLog } from "../observability/outage-log";

type Deps = { pool: Pool; bus: EventBus; queue: QueueGate; logger?: Logger; metrics?: Pick<Metrics, "holdsEnded"> };

export interface SweeperOptions {
  /** Between ticks. 300 ms keeps "within a second" with room for a slow tick. */
  intervalMs?: number;
  /** Holds per transaction: short transactions, few round trips per hold. */
  batchSize?: number;
  /** How often old idempotency keys are deleted. */
  keyCleanupMs?: number;
}

export class HoldSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private started = false;
  private stopping = false;
  private lastKeyCleanup = 0;
  private readonly intervalMs: number;
  private readonly batchSize: number;
  private readonly keyCleanupMs: number;
  private outage: OutageLog | undefined;

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
    this.schedule(0);
  }

  /** Stops ticking and waits for a tick in progress to finish. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.started = false;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass: expires every due hold, a batch per transaction. Returns how many. */
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

  private schedule(delayMs: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.schedule(this.intervalMs);
      });
    }, delayMs);
    // A sweeper alone must not keep a process alive.
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      await this.sweep();
      if (Date.now() - this.lastKeyCleanup >= this.keyCleanupMs) {
        this.lastKeyCleanup = Date.now();
        await deleteOldKeys(this.deps.pool);
      }
    } catch (error) {
      // The database may be away for a moment; the next tick tries again (logged once per outage).
      (this.outage ??= new OutageLog(this.deps.logger, "hold sweep")).failed(error);
      return;
    }
    this.outage?.ok();
  }
}
