// Idempotency keys at the service level: the format, and retention (kept at
// least 24 hours, older ones deleted in bounded batches by the sweeper).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { sql } from "../support/sql";
import { createDatabase, type Database } from "../../src/db/database";
import { checkIdempotencyKey, deleteOldKeys } from "../../src/services/idempotency";
import { WalletService } from "../../src/services/wallet.service";

let testDb: TestDatabase;
let db: Database;

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = createDatabase(testDb.url, 5);
});
afterAll(async () => {
  await db.close();
  await testDb.drop();
});

describe("idempotency keys", () => {
  it("are 1 to 200 printable characters", () => {
    for (const ok of ["a", "x".repeat(200), "order 42 / try #2", "clé-été-🎫"]) expect(checkIdempotencyKey(ok)).toBe(ok);
    expect(checkIdempotencyKey(undefined)).toBeUndefined();
    expect(checkIdempotencyKey(null)).toBeUndefined();
    for (const bad of ["", "x".repeat(201), "new\nline", "nul\u0000", "zero\u200bwidth"]) {
      expect(() => checkIdempotencyKey(bad)).toThrowError(expect.objectContaining({ code: "BAD_USER_INPUT" }));
    }
  });

  it("are kept for at least 24 hours, then deleted a bounded batch at a time", async () => {
    const [user] = await sql<{ id: string }>(testDb.url, `INSERT INTO users (email, password_hash) VALUES ('k@x.io', 'x') RETURNING id`);
    const wallet = new WalletService({ pool: db.pool, settings: { maxCharge: 1000, maxBalance: 100_000 } });
    const actor = { id: user.id, role: "USER" as const };
    for (let i = 0; i < 5; i++) await wallet.chargeBalance(actor, { amount: 10, idempotencyKey: `old-${i}` });
    await wallet.chargeBalance(actor, { amount: 10, idempotencyKey: "day-old" });
    await wallet.chargeBalance(actor, { amount: 10, idempotencyKey: "fresh" });
    await sql(testDb.url, `UPDATE idempotency_keys SET created_at = now() - interval '30 hours' WHERE key LIKE 'old-%'`);
    await sql(testDb.url, `UPDATE idempotency_keys SET created_at = now() - interval '23 hours 59 minutes' WHERE key = 'day-old'`);
    expect(await deleteOldKeys(db.pool, 3)).toBe(3);
    expect(await deleteOldKeys(db.pool, 3)).toBe(2);
    expect(await deleteOldKeys(db.pool, 3)).toBe(0);
    const left = await sql<{ key: string }>(testDb.url, `SELECT key FROM idempotency_keys ORDER BY key`);
    expect(left.map((k) => k.key)).toEqual(["day-old", "fresh"]);
    // A key still kept answers with the first result and moves no money.
    expect(await wallet.chargeBalance(actor, { amount: 10, idempotencyKey: "day-old" })).toBe(60);
    expect(await wallet.balance(actor)).toBe(70);
  });
});
