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

export function createDatabase(url: string, poolSize: number): Database {
  const pool = new Pool({
    connectionString: url,
    max: poolSize,
    // A connection that cannot be had within this time means the database is
    // overloaded or gone: fail the request instead of queueing forever.
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client that loses its server must not crash the process.
  pool.on("error", () => undefined);
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
