// The statements that change seats, with the one lock order they all follow.
//
// Lock order: every transaction that locks several seats locks them sorted by
// (concert_date_id, number), with `SELECT … ORDER BY … FOR UPDATE` in a
// MATERIALIZED CTE (the plan is LockRows over Sort, so locks are taken in that
// order) before the UPDATE touches them. A plain `UPDATE … WHERE number = ANY($2)`
// locks rows in whatever order its plan visits them (index order for one plan,
// heap order for a bitmap scan), so two overlapping multi-seat holds could each
// take one seat and wait for the other's: a deadlock. With one global order the
// second transaction simply waits on the first seat they share.
// The other locks: reservation row before its seats (pay, cancel, sweeper), and
// the user row (balance) after the seats; nothing locks a seat and then waits
// for a reservation, so the orders never cross.
import type { PoolClient } from "pg";
import type { SeatChange } from "../pubsub/seat-events";

/** A seat is free when AVAILABLE, or HELD by a hold whose time has passed (not yet swept). */
export const SEAT_IS_FREE = `(s.status = 'AVAILABLE' OR (s.status = 'HELD' AND s.held_until <= now()))`;

/** The status a reader sees: an expired hold is AVAILABLE even before the sweeper runs. */
export const EFFECTIVE_SEAT_STATUS = `CASE WHEN s.status = 'HELD' AND s.held_until <= now() THEN 'AVAILABLE' ELSE s.status::text END`;

/**
 * Holds the seats `numbers` of one date for `reservationId`, all of them or
 * none: the caller compares the rows returned with the seats asked and rolls
 * back on a shortfall. Under READ COMMITTED the UPDATE re-checks SEAT_IS_FREE
 * on the newest version of each row it waited for, so a seat another hold took
 * meanwhile drops out of the count.
 */
export async function holdSeats(
  client: PoolClient,
  input: { concertDateId: string; numbers: number[]; reservationId: string; heldUntil: Date },
): Promise<SeatChange[]> {
  const { rows } = await client.query<SeatChange>(
    `WITH locked AS MATERIALIZED (
       SELECT id FROM seats WHERE concert_date_id = $1 AND number = ANY($2::int[]) ORDER BY number FOR UPDATE
     )
     UPDATE seats s SET status = 'HELD', held_until = $3, reservation_id = $4
       FROM locked
      WHERE s.id = locked.id AND ${SEAT_IS_FREE}
     RETURNING s.id, s.concert_date_id AS "concertDateId", s.number, s.price, 'HELD' AS status`,
    [input.concertDateId, input.numbers, input.heldUntil, input.reservationId],
  );
  return rows;
}

/**
 * Makes AVAILABLE the seats still HELD by these reservations (cancel, expiry).
 * A seat that a newer hold took over after this one ran out points elsewhere
 * and is left alone.
 */
export async function releaseSeats(client: PoolClient, reservationIds: string[]): Promise<SeatChange[]> {
  if (reservationIds.length === 0) return [];
  const { rows } = await client.query<SeatChange>(
    `WITH locked AS MATERIALIZED (
       SELECT s.id FROM reservation_seats rs JOIN seats s ON s.id = rs.seat_id
        WHERE rs.reservation_id = ANY($1::uuid[]) AND s.reservation_id = rs.reservation_id AND s.status = 'HELD'
        ORDER BY s.concert_date_id, s.number
        FOR UPDATE OF s
     )
     UPDATE seats s SET status = 'AVAILABLE', held_until = NULL, reservation_id = NULL
       FROM locked
      WHERE s.id = locked.id AND s.status = 'HELD' AND s.reservation_id = ANY($1::uuid[])
     RETURNING s.id, s.concert_date_id AS "concertDateId", s.number, s.price, 'AVAILABLE' AS status`,
    [reservationIds],
  );
  return rows;
}

/**
 * Marks SOLD the seats of a reservation that are still HELD by it. The caller
 * compares the count with the reservation's seats: fewer means a seat was
 * taken over after the hold ran out, and the payment must roll back.
 */
export async function sellSeats(client: PoolClient, reservationId: string): Promise<SeatChange[]> {
  const { rows } = await client.query<SeatChange>(
    `WITH locked AS MATERIALIZED (
       SELECT s.id FROM reservation_seats rs JOIN seats s ON s.id = rs.seat_id
        WHERE rs.reservation_id = $1
        ORDER BY s.concert_date_id, s.number
        FOR UPDATE OF s
     )
     UPDATE seats s SET status = 'SOLD', held_until = NULL
       FROM locked
      WHERE s.id = locked.id AND s.status = 'HELD' AND s.reservation_id = $1
     RETURNING s.id, s.concert_date_id AS "concertDateId", s.number, s.price, 'SOLD' AS status`,
    [reservationId],
  );
  return rows;
}
