// Single-statement writes: a call of one of the ticketing functions
// (prisma/functions/) is its own transaction and one round
// trip. Refusals come back as errors whose message is 'ticketing:<CODE>', with
// the facts in their detail.
import type { Pool, QueryResultRow } from "pg";
import { classifyDbError } from "../errors/db-errors";
import { named } from "./named";
import { onPooledClient } from "./transaction";

/**
 * Runs one statement (prepared once per connection: its text must be constant) outside an
 * explicit transaction. A deadlock or a
 * serialization failure (which the fixed lock orders are meant to rule out)
 * rolled all of it back, so it is retried from the start rather than reaching
 * a client, as inTransaction does.
 */
export async function oneStatement<T extends QueryResultRow>(pool: Pool, text: string, values: unknown[], attempts = 3): Promise<T[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await queryKeepingConnection<T>(pool, text, values);
    } catch (error) {
      const { kind } = classifyDbError(error);
      if ((kind === "deadlock" || kind === "serialization") && attempt < attempts) continue;
      throw error;
    }
  }
}

/**
 * pool.query(), except that a statement the server refused (an error with a
 * SQLSTATE: SEAT_UNAVAILABLE, a unique violation) gives its connection back to
 * the pool. pool.query() closes the connection on any error, and a refused hold
 * is the common case in a rush: every SEAT_UNAVAILABLE cost a new connection
 * (a PostgreSQL backend started, its caches and these functions compiled again),
 * which the rush profile showed as connection start-ups and ends. Only a
 * connection that failed itself is dropped.
 */
function queryKeepingConnection<T extends QueryResultRow>(pool: Pool, text: string, values: unknown[]): Promise<T[]> {
  return onPooledClient(pool, async (client, markBroken) => {
    try {
      return (await client.query<T>(named(text, values))).rows;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code)) markBroken();
      throw error;
    }
  });
}

/** The refusal a ticketing function raised (its CODE and DETAIL), or undefined for any other error. */
export function refusalOf(error: unknown): { code: string; detail: string | undefined } | undefined {
  const e = error as { code?: string; message?: string; detail?: string } | null;
  if (e?.code !== "P0001" || typeof e.message !== "string" || !e.message.startsWith("ticketing:")) return undefined;
  return { code: e.message.slice("ticketing:".length), detail: e.detail };
}
