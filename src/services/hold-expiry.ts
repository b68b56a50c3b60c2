// Ending holds whose time has passed: the reservation and its payment become
// EXPIRED and the seats it still holds AVAILABLE, in the caller's transaction.
// Used by the sweeper (in batches) and by reserveSeats (a user's own stale hold
// that would otherwise block a new one through the one-HELD-per-concert index).
import type { PoolClient } from "pg";
import type { EventBus } from "../pubsub/event-bus";
import { publishSeatChanges, type SeatChange } from "../pubsub/seat-events";
import type { QueueGate } from "./queue/queue.types";
import { releaseSeats } from "./seat-locks";

export interface ExpiredHolds {
  /** concertId and lagSeconds (how long after heldUntil it ended) come from the sweeper's query only. */
  holds: { id: string; queueToken: string; concertId?: string; lagSeconds?: number }[];
  seats: SeatChange[];
}

const NONE: ExpiredHolds = { holds: [], seats: [] };

/**
 * Up to `limit` due holds, oldest first, through the partial index on
 * held_until (status = 'HELD'). SKIP LOCKED lets every instance sweep at once
 * without two taking the same hold, and passes over a hold that a pay or a
 * cancel has locked: that one decides it (its conditional update re-checks the
 * time), and if it rolls back the next sweep takes the hold.
 */
export async function expireDueHolds(client: PoolClient, limit: number): Promise<ExpiredHolds> {
  const { rows } = await client.query<{ id: string; queueToken: string }>(
    `WITH due AS MATERIALIZED (
       SELECT id FROM reservations WHERE status = 'HELD' AND held_until <= now()
        ORDER BY held_until LIMIT $1 FOR UPDATE SKIP LOCKED
     )
     UPDATE reservations r SET status = 'EXPIRED' FROM due
      WHERE r.id = due.id AND r.status = 'HELD'
     RETURNING r.id, r.queue_token AS "queueToken", r.concert_id AS "concertId",
               EXTRACT(EPOCH FROM clock_timestamp() - r.held_until)::float8 AS "lagSeconds"`,
    [limit],
  );
  return finish(client, rows);
}

/**
 * Every due hold of one concert (the same statement as expireDueHolds, for one
 * concert and without a limit): before a sell-out is announced, the holds that
 * ran out first end as such (HOLD_TIMEOUT), not as SOLD_OUT.
 */
export async function expireDueHoldsOfConcert(client: PoolClient, concertId: string): Promise<ExpiredHolds> {
  const { rows } = await client.query<{ id: string; queueToken: string }>(
    `WITH due AS MATERIALIZED (
       SELECT id FROM reservations WHERE status = 'HELD' AND held_until <= now() AND concert_id = $1
        ORDER BY held_until FOR UPDATE SKIP LOCKED
     )
     UPDATE reservations r SET status = 'EXPIRED' FROM due
      WHERE r.id = due.id AND r.status = 'HELD'
     RETURNING r.id, r.queue_token AS "queueToken"`,
    [concertId],
  );
  return finish(client, rows);
}

/**
 * The user's HELD reservation for the concert if its time has passed (the
 * unique partial index finds it). Waits for a lock rather than skipping: the
 * caller needs the answer.
 */
export async function expireStaleHoldOf(client: PoolClient, userId: string, concertId: string): Promise<ExpiredHolds> {
  const { rows } = await client.query<{ id: string; queueToken: string }>(
    `UPDATE reservations SET status = 'EXPIRED'
      WHERE user_id = $1 AND concert_id = $2 AND status = 'HELD' AND held_until <= now()
     RETURNING id, queue_token AS "queueToken"`,
    [userId, concertId],
  );
  return finish(client, rows);
}

async function finish(client: PoolClient, holds: ExpiredHolds["holds"]): Promise<ExpiredHolds> {
  if (holds.length === 0) return NONE;
  const ids = holds.map((h) => h.id);
  await client.query(`UPDATE payments SET status = 'EXPIRED' WHERE reservation_id = ANY($1::uuid[]) AND status = 'PENDING'`, [ids]);
  return { holds, seats: await releaseSeats(client, ids) };
}

/** After the commit: each hold's token ends (HOLD_TIMEOUT) and the freed seats are pushed. */
export async function announceExpiry(deps: { queue: QueueGate; bus: EventBus }, expired: ExpiredHolds): Promise<void> {
  if (expired.holds.length === 0) return;
  await Promise.all([
    ...expired.holds.map((h) => deps.queue.expireToken(h.queueToken, "HOLD_TIMEOUT")),
    publishSeatChanges(deps.bus, expired.seats),
  ]);
  await deps.queue.seatsBackOnSale(expired.seats);
}
