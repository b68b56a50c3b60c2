// The queueStatusChanged subscriptions one instance holds. Status changes
// (admission, expiry) arrive as events from whichever instance made them and
// are pushed at once; places and estimates are refreshed once a second with
// one batched read per concert, so the cost grows with the subscribers held
// here, not with the length of the line.
import type { EventBus } from "../../pubsub/event-bus";
import { AsyncQueue } from "../../pubsub/async-queue";
import type { Logger } from "../../observability/logger";
import { concertChannel, type ConcertQueueEvent, type QueueService } from "./queue.service";
import type { TokenState } from "./queue-store";
import { toTicket } from "./queue-ticket";
import { OutageLog } from "../../observability/outage-log";
import type { QueueTicketView } from "./queue.types";

export type TicketListener = (ticket: QueueTicketView) => void;

interface Watcher {
  listener: TicketListener;
  last: string;
}

interface ConcertWatch {
  tokens: Map<string, Set<Watcher>>;
  unlisten: Promise<() => void>;
}

/** Tokens read and pushed at a time by the refresh. */
const REFRESH_SLICE = 500;

const keyOf = (t: QueueTicketView) => `${t.status}|${t.queuePosition}|${t.estimatedWaitSeconds}|${t.expiredReason}`;

export class QueueWatchers {
  private readonly concerts = new Map<string, ConcertWatch>();
  /** Told of each admission pushed here, with its state as the admission step left it (metrics: admission → push). */
  onAdmissionPushed: ((state: TokenState) => void) | undefined;
  private outage: OutageLog | undefined;

  constructor(private readonly queue: QueueService, private readonly bus: EventBus, private readonly logger: Logger) {}

  get count(): number {
    let n = 0;
    for (const c of this.concerts.values()) for (const set of c.tokens.values()) n += set.size;
    return n;
  }

  /**
   * queueStatusChanged: the caller's ticket now, then each change, ending after EXPIRED.
   * An open subscription keeps a WAITING token seen (the refresh reads touch it).
   */
  async subscribe(actor: { id: string }, token: string): Promise<AsyncIterableIterator<QueueTicketView>> {
    const state = await this.queue.ownToken(actor, token, true);
    const first = toTicket(state);
    const events = new AsyncQueue<QueueTicketView>();
    events.push(first);
    if (first.status === "EXPIRED") {
      events.end();
      return events;
    }
    events.onEnd(
      this.watch(state.concertId, token, first, (ticket) => {
        events.push(ticket);
        if (ticket.status === "EXPIRED") events.end();
      }),
    );
    return events;
  }

  /**
   * Calls `listener` with the ticket each time its status, place or estimate
   * changes, the last time with EXPIRED. `initial` is the ticket already sent.
   */
  watch(concertId: string, token: string, initial: QueueTicketView, listener: TicketListener): () => void {
    let concert = this.concerts.get(concertId);
    if (!concert) {
      const unlisten = this.bus.listen<ConcertQueueEvent>(concertChannel(concertId), (e) => this.onEvent(concertId, e));
      concert = { tokens: new Map(), unlisten };
      this.concerts.set(concertId, concert);
    }
    const watcher: Watcher = { listener, last: keyOf(initial) };
    let set = concert.tokens.get(token);
    if (!set) concert.tokens.set(token, (set = new Set()));
    set.add(watcher);
    return () => this.remove(concertId, token, watcher);
  }

  /** Reads every watched token once (one round trip per concert) and pushes what changed. */
  async refresh(): Promise<void> {
    await Promise.all(
      [...this.concerts.entries()].map(async ([concertId, concert]) => {
        const tokens = [...concert.tokens.keys()];
        try {
          // In slices, yielding between them: thousands of pushes in one go would
          // hold the event loop and delay every request waiting behind them.
          for (let i = 0; i < tokens.length; i += REFRESH_SLICE) {
            const slice = tokens.slice(i, i + REFRESH_SLICE);
            const states = await this.queue.readMany(concertId, slice);
            states.forEach((s, j) => {
              this.deliver(concertId, slice[j], s);
            });
            await new Promise((resolve) => setImmediate(resolve));
          }
          this.outage?.ok();
        } catch (error) {
          // Subscriptions stay open through an outage; logged once, not per second.
          (this.outage ??= new OutageLog(this.logger, "queue refresh")).failed(error);
        }
      }),
    );
  }

  close(): void {
    for (const [concertId, concert] of this.concerts) {
      for (const [token, set] of concert.tokens) for (const w of set) this.remove(concertId, token, w);
    }
  }

  private onEvent(concertId: string, event: ConcertQueueEvent): void {
    const concert = this.concerts.get(concertId);
    if (!concert) return;
    if (event.kind === "changed") {
      for (const s of event.states) {
        if (concert.tokens.has(s.token) && this.deliver(concertId, s.token, s) && s.status === "ACTIVE") this.onAdmissionPushed?.(s);
      }
      return;
    }
    // Sold out: every token watched here has ended; read them to send their final ticket.
    void this.refresh();
  }

  /** Pushes the token's ticket to its watchers that have not seen it; true when one was pushed. */
  private deliver(concertId: string, token: string, state: TokenState | null): boolean {
    const set = this.concerts.get(concertId)?.tokens.get(token);
    if (!set || !state) return false;
    const ticket = toTicket(state);
    const key = keyOf(ticket);
    let pushed = false;
    for (const w of [...set]) {
      if (w.last === key) continue;
      w.last = key;
      pushed = true;
      w.listener(ticket);
      if (ticket.status === "EXPIRED") this.remove(concertId, token, w);
    }
    return pushed;
  }

  private remove(concertId: string, token: string, watcher: Watcher): void {
    const concert = this.concerts.get(concertId);
    const set = concert?.tokens.get(token);
    if (!concert || !set?.delete(watcher)) return;
    if (set.size === 0) concert.tokens.delete(token);
    if (concert.tokens.size === 0) {
      this.concerts.delete(concertId);
      void concert.unlisten.then((stop) => stop());
    }
  }
}
