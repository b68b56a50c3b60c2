// When a hold is over, and what a pay or cancel answers when the reservation
// is not a running hold.
import type { PoolClient } from "pg";
import { AppError } from "../errors/app-error";

/**
 * SQL that is true once the hold ending at `heldUntil` (a column) is over. The
 * one definition, with its one clock, is the database function hold_is_over
 * (prisma/functions/hold_is_over.sql: clock_timestamp(), and why); every
 * statement here and every PL/pgSQL function asks it. The in-memory seat maps
 * (seat-maps.ts), which cannot ask the database per read, compare the same
 * held_until with this instance's clock.
 */
export const holdIsOver = (heldUntil: string) => `hold_is_over(${heldUntil})`;

/**
 * HOLD_EXPIRED for a hold that ran out (EXPIRED, or HELD past held_until and
 * not yet swept: the answer must not depend on when the sweeper ran);
 * RESERVATION_NOT_HELD for a CONFIRMED or CANCELLED one.
 */
export function assertStillHeld(status: string): void {
  if (status === "HELD") return;
  if (status === "EXPIRED") throw new AppError("HOLD_EXPIRED", "This hold ran out and its seats were released: reserve again.");
  throw new AppError("RESERVATION_NOT_HELD", `This reservation is ${status}, not held.`);
}

/**
 * Inside a transaction whose conditional update on the reservation matched no
 * row: throws the error that says why.
 */
export async function explainNotHeld(client: PoolClient, reservationId: string): Promise<never> {
  const { rows } = await client.query<{ status: string }>(
    `SELECT CASE WHEN status = 'HELD' AND ${holdIsOver("held_until")} THEN 'EXPIRED' ELSE status::text END AS status
       FROM reservations WHERE id = $1`,
    [reservationId],
  );
  assertStillHeld(rows[0]?.status ?? "EXPIRED");
  throw new Error(`reservation ${reservationId} is held but its conditional update matched nothing`);
}
