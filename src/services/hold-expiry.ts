// Ending holds whose time has passed: the reservation and its payment become
// EXPIRED and the seats it still holds AVAILABLE, in the caller's transaction.
// Used by the sweeper (in batches, from its own worker: hold-sweeper.ts), before
// a sell-out is announced (one concert's), and by reserveSeats (a user's own
// stale hold that would otherwise block a new one through the
// one-HELD-per-concert index). One statement for all three, with the one
// definition of a hold being over (holdIsOver).
import type { PoolClient } from "pg";
import type { EventBus } from "../pubsub/event-bus";
import { publishSeatChanges, type SeatChange } from "../pubsub/seat-events";
import type { QueueGate } from "./queue/queue.types";
import { holdIsOver } from "./hold-state";
import { RELEASE_SEATS_SQL } from "./seat-locks";

export interface ExpiredHolds {
  /** lagSeconds: how long after heldUntil it ended. */
  holds: { id: string; queueToken: string; concertId?: string; lagSeconds?: number }[];
  seats: SeatChange[];
}

const NONE: ExpiredHolds = { holds: [], seats: [] };

/**
 * Ends the due HELD reservations that `where` picks, oldest first, through the
 * partial index on held_until (status = 'HELD'). With SKIP LOCKED every
 * instance sweeps at once without two taking the same hold, and a hold that a
 * pay or a cancel has locked is passed over: that one decides it (its
 * conditional update re-checks the time), and if it rolls back the next sweep
 * takes it. Without, the caller waits for the lock: it needs the answer.
 */
function expireStatement(where: string, options: { limit?: string; skipLocked: boolean }): string {
  return `WITH due AS MATERIALIZED (
       SELECT id FROM reservations WHERE status = 'HELD' AND ${holdIsOver("held_until")} ${where}
        ORDER BY held_until ${options.limit ? `LIMIT ${options.limit}` : ""} FOR UPDATE ${options.skipLocked ? "SKIP LOCKED" : ""}
     )
     UPDATE reservations r SET status = 'EXPIRED' FROM due
      WHERE r.id = due.id AND r.status = 'HELD'
     RETURNING r.id, r.queue_token AS "queueToken", r.concert_id AS "concertId",
               EXTRACT(EPOCH FROM clock_timestamp() - r.held_until)::float8 AS "lagSeconds"`;
}

const EXPIRE_PAYMENTS_SQL = `UPDATE payments SET status = 'EXPIRED' WHERE reservation_id = ANY($1::uuid[]) AND status = 'PENDING'`;

/** The sweeper's statements, run by its worker in one transaction per batch ($1: the batch size, then the ids). */
export const SWEEP_SQL = {
  expire: expireStatement("", { limit: "$1", skipLocked: true }),
  payments: EXPIRE_PAYMENTS_SQL,
  seats: RELEASE_SEATS_SQL,
};

/** Up to `limit` due holds of any concert. */
export function expireDueHolds(client: PoolClient, limit: number): Promise<ExpiredHolds> {
  return expire(client, SWEEP_SQL.expire, [limit]);
}

/** Every due hold of one concert: before a sell-out is announced, the holds that ran out first end as such (HOLD_TIMEOUT), not as SOLD_OUT. */
export function expireDueHoldsOfConcert(client: PoolClient, concertId: string): Promise<ExpiredHolds> {
  return expire(client, expireStatement("AND concert_id = $1", { skipLocked: true }), [concertId]);
}

/** The user's HELD reservation for the concert if its time has passed (the unique partial index finds it). */
export function expireStaleHoldOf(client: PoolClient, userId: string, concertId: string): Promise<ExpiredHolds> {
  return expire(client, expireStatement("AND user_id = $1 AND concert_id = $2", { skipLocked: false }), [userId, concertId]);
}

async function expire(client: PoolClient, statement: string, values: unknown[]): Promise<ExpiredHolds> {
  const { rows: holds } = await client.query<ExpiredHolds["holds"][number]>(statement, values);
  if (holds.length === 0) return NONE;
  const ids = holds.map((h) => h.id);
  await client.query(EXPIRE_PAYMENTS_SQL, [ids]);
  const { rows: seats } = await client.query<SeatChange>(RELEASE_SEATS_SQL, [ids]);
  return { holds, seats };
}

/** After the commit: each hold's token ends (HOLD_TIMEOUT) and the freed seats are pushed. */
export async function announceExpiry(deps: { queue: QueueGate; bus: EventBus }, expired: ExpiredHolds): Promise<void> {
  if (expired.holds.length === 0) return;
  await Promise.all([...expired.holds.map((h) => deps.queue.expireToken(h.queueToken, "HOLD_TIMEOUT")), publishSeatChanges(deps.bus, expired.seats)]);
  await deps.queue.seatsBackOnSale(expired.seats);
}
