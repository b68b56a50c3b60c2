// Single-statement writes: a call of one of the ticketing functions
// (prisma/migrations/*_money_functions) is its own transaction and one round
// trip. Refusals come back as errors whose message is 'ticketing:<CODE>', with
// the facts in their detail.
import type { Pool, QueryResultRow } from "pg";
import { classifyDbError } from "../errors/db-errors";

/**
 * Runs one statement outside an explicit transaction. A deadlock or a
 * serialization failure (which the fixed lock orders are meant to rule out)
 * rolled all of it back, so it is retried from the start rather than reaching
 * a client, as inTransaction does.
 */
export async function oneStatement<T extends QueryResultRow>(pool: Pool, text: string, values: unknown[], attempts = 3): Promise<T[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await pool.query<T>(text, values)).rows;
    } catch (error) {
      const { kind } = classifyDbError(error);
      if ((kind === "deadlock" || kind === "serialization") && attempt < attempts) continue;
      throw error;
    }
  }
}

/** The refusal a ticketing function raised (its CODE and DETAIL), or undefined for any other error. */
export function refusalOf(error: unknown): { code: string; detail: string | undefined } | undefined {
  const e = error as { code?: string; message?: string; detail?: string } | null;
  if (!e || e.code !== "P0001" || typeof e.message !== "string" || !e.message.startsWith("ticketing:")) return undefined;
  return { code: e.message.slice("ticketing:".length), detail: e.detail };
}
