// prisma/schema.prisma must describe the tables the SQL migrations create: the
// generated client selects every scalar field of a model, so a field without its
// column (or a column of another type) fails here, not in a request.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase, type Database } from "../../src/db/database";
import { Prisma } from "../../src/generated/prisma/client";
import { createTestDatabase, type TestDatabase } from "../support/database";

let db: TestDatabase;
let database: Database;
beforeAll(async () => {
  db = await createTestDatabase();
  database = createDatabase(db.url, 2);
});
afterAll(async () => {
  await database?.close();
  await db?.drop();
});

const delegate = (model: string) =>
  (database.prisma as unknown as Record<string, { findFirst(): Promise<unknown> }>)[model[0].toLowerCase() + model.slice(1)];

describe("prisma/schema.prisma against the migrated database", () => {
  it.each(Object.values(Prisma.ModelName))("reads every field of %s from its table", async (model) => {
    await expect(delegate(model).findFirst()).resolves.toBeDefined();
  });

  it("reads the journal's rows with their types (epoch ms as BigInt, the order of entry)", async () => {
    const concertId = "00000000-0000-4000-8000-000000000001";
    await database.pool.query(`INSERT INTO queue_lines (concert_id, waitlist) VALUES ($1, true)`, [concertId]);
    await database.pool.query(
      `INSERT INTO queue_tokens (token, concert_id, user_id, seq, status, session_ends_at, pre_queue) VALUES ('t1', $1, 'u1', 7, 'ACTIVE', 1796000000000, true)`,
      [concertId],
    );
    expect(await database.prisma.queueLine.findUnique({ where: { concertId } })).toMatchObject({ soldOut: false, waitlist: true, rebuilds: 0 });
    expect(await database.prisma.queueToken.findUnique({ where: { token: "t1" } })).toMatchObject({
      concertId,
      userId: "u1",
      seq: 7n,
      status: "ACTIVE",
      sessionEndsAt: 1796000000000n,
      holdUntil: null,
      preQueue: true,
    });
  });
});
