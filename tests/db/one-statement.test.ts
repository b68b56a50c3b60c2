// oneStatement (src/db/one-statement.ts), on real PostgreSQL: a statement the
// server refuses gives its connection back to the pool instead of closing it
// (a refused hold is the common case in a rush), the refusal reaches the
// caller as it was raised, and a connection that failed itself is dropped.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client, type Pool } from "pg";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { createPool } from "../../src/db/database";
import { oneStatement, refusalOf } from "../../src/db/one-statement";

let testDb: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  testDb = await createTestDatabase();
  pool = createPool(testDb.url, 2);
});
afterAll(async () => {
  await pool.end();
  await testDb.drop();
});

const backends = async () =>
  new Set(
    (await Promise.all(Array.from({ length: 6 }, () => oneStatement<{ pid: number }>(pool, "SELECT pg_backend_pid() AS pid", [])))).map(
      ([r]) => r.pid,
    ),
  );

describe("oneStatement", () => {
  it("keeps the connection of a refused statement, and hands the refusal over", async () => {
    const before = await backends();
    expect(before.size).toBeGreaterThan(0);
    expect(before.size).toBeLessThanOrEqual(2);
    const refusals = await Promise.all(
      Array.from({ length: 40 }, () =>
        oneStatement(pool, `DO $$ BEGIN RAISE EXCEPTION 'ticketing:SEAT_UNAVAILABLE' USING DETAIL = '3,4'; END $$`, []).catch((e) => e),
      ),
    );
    expect(refusals.map(refusalOf)).toEqual(refusals.map(() => ({ code: "SEAT_UNAVAILABLE", detail: "3,4" })));
    await expect(oneStatement(pool, "SELECT 1 / 0", [])).rejects.toMatchObject({ code: "22012" });
    // The same backends still serve: none was closed and opened again.
    const after = await backends();
    expect([...after].every((pid) => before.has(pid))).toBe(true);
  });

  it("drops a connection whose backend went away, and the next statement gets a new one", async () => {
    const before = await backends();
    // An administrator ends every backend of this database (from outside the pool).
    const admin = new Client({ connectionString: testDb.url });
    await admin.connect();
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()");
    await admin.end();
    // A pooled connection whose backend is gone fails without a refusal's SQLSTATE, and is dropped.
    for (let i = 0; i < 4; i++) await oneStatement(pool, "SELECT 1", []).catch(() => undefined);
    const after = await backends();
    expect([...after].some((pid) => before.has(pid))).toBe(false);
    expect((await oneStatement<{ one: number }>(pool, "SELECT 1 AS one", []))[0].one).toBe(1);
  });
});
