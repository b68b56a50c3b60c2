// queueStatsChanged (contract rule 26): an admin's live QueueStats of one
// concert. The numbers live in the shared queue store and the database, so
// each instance reads them once a second per watched concert (one read however
// many admins watch it here) and pushes them when any changed: a change made on
// any instance shows within about a second.
import type { Actor } from "../../auth/access-tokens";
import { AsyncQueue } from "../../pubsub/async-queue";
import type { Logger } from "../../observability/logger";
import type { QueueService, QueueStatsView } from "./queue.service";

const POLL_MS = 1_000;

interface Watched {
  listeners: Set<(stats: QueueStatsView) => void>;
  last: string;
  timer: NodeJS.Timeout;
  reading: boolean;
}

export class QueueStatsWatch {
  private readonly watched = new Map<string, Watched>();

  constructor(
    private readonly queue: QueueService,
    private readonly logger: Logger,
  ) {}

  /** The stats now (admin only; NOT_FOUND first), then each change, about once a second. */
  async subscribe(actor: Actor, concertId: string): Promise<AsyncIterableIterator<QueueStatsView>> {
    const first = await this.queue.stats(actor, concertId);
    const events = new AsyncQueue<QueueStatsView>();
    events.push(first);
    const listener = (stats: QueueStatsView) => events.push(stats);
    let w = this.watched.get(concertId);
    if (!w) {
      const created: Watched = { listeners: new Set(), last: JSON.stringify(first), reading: false, timer: undefined! };
      created.timer = setInterval(() => void this.poll(concertId, created), POLL_MS);
      this.watched.set(concertId, (w = created));
    }
    const watched = w;
    watched.listeners.add(listener);
    events.onEnd(() => {
      watched.listeners.delete(listener);
      if (watched.listeners.size === 0 && this.watched.get(concertId) === watched) {
        clearInterval(watched.timer);
        this.watched.delete(concertId);
      }
    });
    return events;
  }

  close(): void {
    for (const w of this.watched.values()) clearInterval(w.timer);
    this.watched.clear();
  }

  private async poll(concertId: string, w: Watched): Promise<void> {
    if (w.reading) return;
    w.reading = true;
    try {
      const stats = await this.queue.currentStats(concertId);
      const key = JSON.stringify(stats);
      if (key === w.last) return;
      w.last = key;
      for (const listener of [...w.listeners]) listener(stats);
    } catch (error) {
      this.logger.warn("queue stats read failed", { concertId, error });
    } finally {
      w.reading = false;
    }
  }
}
