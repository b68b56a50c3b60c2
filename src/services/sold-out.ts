// "Sold out", defined once: a date is sold out when none of its seats is left
// unsold (every seat SOLD; a HELD seat may still come back), and a concert
// when it has a date to come and none of its dates to come has a seat left
// unsold. Both probes use the partial index seats_unsold_idx (status <> 'SOLD'),
// so a nearly sold-out date of 100,000 seats costs one index probe, not a scan.
// Used after a sale (here), by enterQueue (queue.service.ts) and by
// availableDates (concert.service.ts); `soldOut` of a date counts the same
// thing in availabilityOfDates' one aggregate.
import type { Pool } from "pg";
import { named } from "../db/named";

/** SQL: the date `date` (an alias of concert_dates) still has a seat not SOLD. */
export const dateHasUnsoldSeat = (date: string) => `EXISTS (SELECT 1 FROM seats s WHERE s.concert_date_id = ${date}.id AND s.status <> 'SOLD')`;

/** SQL: the concert whose id is `concertId` (a parameter or column) is sold out. */
export const concertIsSoldOut = (concertId: string) =>
  `(EXISTS (SELECT 1 FROM concert_dates d WHERE d.concert_id = ${concertId} AND d.starts_at > now())
    AND NOT EXISTS (SELECT 1 FROM concert_dates d WHERE d.concert_id = ${concertId} AND d.starts_at > now() AND ${dateHasUnsoldSeat("d")}))`;

// Built once: each text is its prepared statement's key (src/db/named.ts), looked up after every sale.
const DATE_SOLD_OUT = `SELECT NOT ${dateHasUnsoldSeat("d")} AS done FROM concert_dates d WHERE d.id = $1`;
const CONCERT_SOLD_OUT = `SELECT ${concertIsSoldOut("$1")} AS done`;

export async function isConcertSoldOut(pool: Pool, concertId: string, soldDateId: string): Promise<boolean> {
  // Most sales leave their own date with seats: answer that cheaply first.
  const date = await pool.query<{ done: boolean }>(named(DATE_SOLD_OUT, [soldDateId]));
  if (!date.rows[0]?.done) return false;
  const concert = await pool.query<{ done: boolean }>(named(CONCERT_SOLD_OUT, [concertId]));
  return concert.rows[0].done;
}
