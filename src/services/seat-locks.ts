// The statement that releases seats, and the one lock order every statement
// that changes seats follows (here, and in ticket_hold and ticket_pay in
// prisma/functions/, which hold and sell seats).
//
// Lock order: every transaction that locks several seats locks them sorted by
// (concert_date_id, number), with `SELECT … ORDER BY … FOR UPDATE` in a
// MATERIALIZED CTE (the plan is LockRows over Sort, so locks are taken in that
// order), or one seat at a time in that order (ticket_hold), before the UPDATE
// touches them. A plain `UPDATE … WHERE number = ANY($2)`
// locks rows in whatever order its plan visits them (index order for one plan,
// heap order for a bitmap scan), so two overlapping multi-seat holds could each
// take one seat and wait for the other's: a deadlock. With one global order the
// second transaction simply waits on the first seat they share.
// The other locks: reservation row before its seats (pay, cancel, sweeper), and
// the user row (balance) after the seats; nothing locks a seat and then waits
// for a reservation, so the orders never cross.
import type { PoolClient } from "pg";
import type { SeatChange } from "../pubsub/seat-events";
import { holdIsOver } from "./hold-state";

/** The status a reader sees: an expired hold is AVAILABLE even before the sweeper runs. */
export const EFFECTIVE_SEAT_STATUS = `CASE WHEN s.status = 'HELD' AND ${holdIsOver("s.held_until")} THEN 'AVAILABLE' ELSE s.status::text END`;

/**
 * Makes AVAILABLE the seats still HELD by these reservations (cancel, expiry).
 * A seat that a newer hold took over after this one ran out points elsewhere
 * and is left alone.
 *
 * The seats are found from the reservations' own (reservation_seats, one
 * reservation at a time by its key, then each seat by its primary key, locked
 * one at a time in (date, number) order) and checked as locked: no condition on
 * `s.status` filters the scan, because the planner would answer it from a
 * partial index on status (`seats_unsold_idx`, status <> 'SOLD'), reading every
 * unsold seat of the database, as the dropped `seats_held_until_idx` (status =
 * 'HELD') once made each pay and release read every HELD seat (ticket_pay.sql).
 * A join of reservation_seats to seats is not left to the planner either:
 * before reservation_seats had statistics, it scanned every seat for each
 * release (tests/db/plans-without-statistics.test.ts).
 */
/** releaseSeats' statement ($1: the reservation ids), for the sweeper's worker too. */
export const RELEASE_SEATS_SQL = `WITH mine AS MATERIALIZED (
       SELECT x.seat_id, x.reservation_id
         FROM unnest($1::uuid[]) AS q (id),
              LATERAL (SELECT rs.seat_id, rs.reservation_id, rs.seat_number, r.concert_date_id
                         FROM reservations r JOIN reservation_seats rs ON rs.reservation_id = r.id
                        WHERE r.id = q.id OFFSET 0) x
        ORDER BY x.concert_date_id, x.seat_number
     ), locked AS MATERIALIZED (
       SELECT s.id, s.status
         FROM mine,
              LATERAL (SELECT s.id, s.status FROM seats s WHERE s.id = mine.seat_id AND s.reservation_id = mine.reservation_id FOR UPDATE) s
     )
     UPDATE seats s SET status = 'AVAILABLE', held_until = NULL, reservation_id = NULL
       FROM locked
      WHERE s.id = locked.id AND locked.status = 'HELD'
     RETURNING s.id, s.concert_date_id AS "concertDateId", s.number, s.price, s.grade, 'AVAILABLE' AS status`;

export async function releaseSeats(client: PoolClient, reservationIds: string[]): Promise<SeatChange[]> {
  if (reservationIds.length === 0) return [];
  const { rows } = await client.query<SeatChange>(RELEASE_SEATS_SQL, [reservationIds]);
  return rows;
}
