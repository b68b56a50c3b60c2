// "Sold out", defined once, in PostgreSQL: a date is sold out when none of its seats is left
// unsold (every seat SOLD; a HELD seat may still come back), and a concert when it has a date to
// come and none of its dates to come has a seat left unsold (prisma/functions/date_sold_out.sql,
// concert_sold_out.sql). Both read the partial index seats_unsold_idx (status <> 'SOLD') and
// nothing else, so a nearly sold-out date of 100,000 seats costs one index probe, not a scan.
// Asked after a sale (here), with the queue's facts of a concert (queue.service.ts) and by
// availableDates (concert.service.ts); `soldOut` of a date counts the same thing in
// availabilityOfDates' one aggregate.
import type { Pool } from "pg";
import { named } from "../db/named";

// Built once: each text is its prepared statement's key (src/db/named.ts), looked up after every sale.
export const DATE_SOLD_OUT = `SELECT date_sold_out($1) AS done`;
const CONCERT_SOLD_OUT = `SELECT concert_sold_out($1) AS done`;

export async function isConcertSoldOut(pool: Pool, concertId: string, soldDateId: string): Promise<boolean> {
  // Most sales leave their own date with seats: answer that cheaply first.
  const date = await pool.query<{ done: boolean }>(named(DATE_SOLD_OUT, [soldDateId]));
  if (!date.rows[0].done) return false;
  const concert = await pool.query<{ done: boolean }>(named(CONCERT_SOLD_OUT, [concertId]));
  return concert.rows[0].done;
}

/** How long a pay that saw seats left on its date leaves its sold-out question for later, ms. */
const SOLD_OUT_LATER_MS = 200;

/**
 * The sold-out questions that pays leave for a little later, one per date however many pays asked.
 *
 * A pay's last statement (ticket_pay's `available_left`) sees whether its date still has a seat
 * AVAILABLE. None: the date may be sold out once the pays in flight commit, and the pay asks
 * isConcertSoldOut after its commit, before it answers, as every pay once did; of overlapping last
 * pays, each sees the others' seats HELD, so each asks, and the last to commit hears the sell-out
 * before it answers. Some: asking would almost always hear "no", and it cost a round trip per pay
 * (BENCHMARKS.md, 2026-12-04). It is still not proof: the seat it saw AVAILABLE may be held and paid
 * by pays that commit before this one does, each asking too early. So the question is asked again
 * here, SOLD_OUT_LATER_MS after the first pay that left it, after every pay that left it has
 * committed: even then the sell-out is heard within the second rule 6 gives.
 */
export class SoldOutLater {
  private readonly due = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ask: (concertId: string, dateId: string) => Promise<void>) {}

  /** Called after the pay's commit: the question is asked after this call. */
  add(concertId: string, dateId: string): void {
    this.due.set(dateId, concertId);
    if (this.timer) return;
    this.timer = setTimeout(() => void this.askAll(), SOLD_OUT_LATER_MS);
    // A process that is stopping does not wait (as after-commit.ts's retries).
    this.timer.unref();
  }

  /** Asks now what is due, and waits for the answers (the instance is closing: its pool is still open). */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    await this.askAll();
  }

  private async askAll(): Promise<void> {
    this.timer = undefined;
    const due = [...this.due];
    this.due.clear();
    await Promise.all(due.map(([dateId, concertId]) => this.ask(concertId, dateId)));
  }
}
