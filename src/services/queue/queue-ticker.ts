// The admission loop every instance runs: several times a second, one atomic
// admission step per concert (so a place that comes free is filled within
// about a second), and twice a second a refresh of this instance's subscribers
// (only those whose push is due).
// Running it on every instance at once is safe: each step is one script.
import type { Logger } from "../../observability/logger";
import type { QueueService } from "./queue.service";
import type { QueueStore } from "./queue-store";
import { REFRESH_SLOT_MS, type QueueWatchers } from "./queue-watchers";
import { OutageLog } from "../../observability/outage-log";

const TICK_MS = 250;
/** The subscribers' refresh visits the due slots of its wheel this often (rule 12's cadence is per token). */
const REFRESH_MS = REFRESH_SLOT_MS;
const TICK_PARALLEL = 50;

export class QueueTicker {
  private tickTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private ticking = false;
  private refreshing = false;
  admissions = 0;
  private outage: OutageLog | undefined;

  constructor(
    private readonly queue: QueueService,
    private readonly store: QueueStore,
    private readonly watchers: QueueWatchers,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.tickTimer ??= setInterval(() => void this.tick(), TICK_MS);
    this.refreshTimer ??= setInterval(() => void this.refresh(), REFRESH_MS);
  }

  stop(): void {
    clearInterval(this.tickTimer);
    clearInterval(this.refreshTimer);
    this.tickTimer = this.refreshTimer = undefined;
  }

  async tick(): Promise<void> {
    if (this.ticking) return; // a slow step is not stacked on another
    this.ticking = true;
    try {
      const concerts = await this.store.concerts();
      // Concerts side by side (their Redis calls share round trips), a bounded
      // number at a time; one concert's step never waits for another's.
      for (let i = 0; i < concerts.length; i += TICK_PARALLEL) {
        await Promise.all(
          concerts.slice(i, i + TICK_PARALLEL).map(async (concertId) => {
            const result = await this.queue.tick(concertId);
            if (!result) return;
            this.admissions += result.admitted;
            if (result.waiting === 0 && result.active === 0) await this.store.forgetIfIdle(concertId);
          }),
        );
      }
      this.outage?.ok();
    } catch (error) {
      // Redis or PostgreSQL away: logged once per outage, not four times a second.
      (this.outage ??= new OutageLog(this.logger, "queue tick")).failed(error);
    } finally {
      this.ticking = false;
    }
  }

  private async refresh(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      await this.watchers.refresh();
    } finally {
      this.refreshing = false;
    }
  }
}
