// One pg pool per instance, shared by Prisma (through the driver adapter) and by
// the few hot-path statements that need exact SQL (conditional updates).
import { Pool } from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../generated/prisma/client";

export interface Database {
  pool: Pool;
  prisma: PrismaClient;
  close(): Promise<void>;
}

/**
 * How long a request waits for a pooled connection. A PostgreSQL that is stopped
 * or restarting refuses at once, and the request answers SERVICE_UNAVAILABLE
 * within milliseconds (rule 27); this bound is for a busy pool, where waiting
 * is right (under a rush, a shorter one turned slow answers into refusals).
 */
export const CONNECT_TIMEOUT_MS = 10_000;

/** A pg pool that survives its connections being lost. */
export function createPool(url: string, max: number): Pool {
  const pool = new Pool({
    connectionString: url,
    max,
    // A connection that cannot be had within this time means the database is
    // overloaded or gone: fail the request (SERVICE_UNAVAILABLE) instead of queueing forever.
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    keepAlive: true,
    idleTimeoutMillis: 30_000,
  });
  // A connection that loses its server (a restart, an admin's kill) emits
  // "error": on an idle one the pool hears it; on one checked out between two
  // queries nobody would, and an unheard "error" ends the process. The query
  // that next uses it fails on its own and the pool drops the connection.
  pool.on("error", () => undefined);
  pool.on("connect", (client) => client.on("error", () => undefined));
  return pool;
}

export function createDatabase(url: string, poolSize: number): Database {
  const pool = createPool(url, poolSize);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  let closed: Promise<void> | undefined;
  return {
    pool,
    prisma,
    close() {
      closed ??= prisma.$disconnect().then(() => pool.end());
      return closed;
    },
  };
}
