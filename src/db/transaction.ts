// Short transactions on one pooled connection, for the hot paths that need
// exact SQL (conditional updates whose row counts decide races).
import type { Pool, PoolClient } from "pg";
import { classifyDbError } from "../errors/db-errors";

/**
 * Runs `work` on a connection of the pool and gives the connection back, or
 * drops it when it is broken: when it emitted "error" (its server went away;
 * unheard, that event would end the process — the query in flight fails on its
 * own) or when `work` says so through `markBroken`.
 */
export async function onPooledClient<T>(pool: Pool, work: (client: PoolClient, markBroken: () => void) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  const markBroken = () => {
    broken = true;
  };
  client.on("error", markBroken);
  try {
    return await work(client, markBroken);
  } finally {
    client.removeListener("error", markBroken);
    client.release(broken || undefined);
  }
}

/**
 * Runs `work` between BEGIN and COMMIT (READ COMMITTED). A throw rolls back and
 * is re-thrown, so a service aborts by throwing its AppError. A deadlock or a
 * serialization failure — which the fixed lock orders are meant to rule out —
 * is retried from the start rather than reaching a client: nothing was written.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await onPooledClient(pool, async (client, markBroken) => {
        try {
          await client.query("BEGIN");
          const result = await work(client);
          await client.query("COMMIT");
          return result;
        } catch (error) {
          // A connection whose ROLLBACK failed is in an unknown state: drop it.
          await client.query("ROLLBACK").catch(markBroken);
          throw error;
        }
      });
    } catch (error) {
      const { kind } = classifyDbError(error);
      if ((kind === "deadlock" || kind === "serialization") && attempt < attempts) continue;
      throw error;
    }
  }
}
