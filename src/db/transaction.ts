// Short transactions on one pooled connection, for the hot paths that need
// exact SQL (conditional updates whose row counts decide races).
import type { Pool, PoolClient } from "pg";
import { classifyDbError } from "../errors/db-errors";

/**
 * Runs `work` between BEGIN and COMMIT (READ COMMITTED). A throw rolls back and
 * is re-thrown, so a service aborts by throwing its AppError. A deadlock or a
 * serialization failure — which the fixed lock orders are meant to rule out —
 * is retried from the start rather than reaching a client: nothing was written.
 */
export async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken = false;
    // A checked-out client whose connection dies (database restart, killed
    // session) emits "error"; unheard, that event would crash the process. The
    // query in flight fails on its own, so only note that the client is broken.
    const onError = () => {
      broken = true;
    };
    client.on("error", onError);
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {
        broken = true;
      });
      const { kind } = classifyDbError(error);
      if ((kind === "deadlock" || kind === "serialization") && attempt < attempts) continue;
      throw error;
    } finally {
      // A connection whose ROLLBACK failed is in an unknown state: drop it.
      client.removeListener("error", onError);
      client.release(broken || undefined);
    }
  }
}
