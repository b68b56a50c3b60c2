// The queue's journal in PostgreSQL (rule 27) under concurrent writes: entries
// recorded while admissions and endings of the same tokens are noted, two batches
// in flight at once. Every row ends with its latest status and its order of entry,
// no batch fails, and an entry's promise resolves only once its row is committed.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QueueJournal, type JournalRow } from "../../src/services/queue/queue-journal";
import { createTestDatabase, type TestDatabase } from "../support/database";

let db: TestDatabase;
let journal: QueueJournal;
beforeAll(async () => {
  db = await createTestDatabase();
  journal = new QueueJournal(QueueJournal.createPool(db.url));
});
afterAll(async () => {
  await journal?.close();
  await journal?.pool.end();
  await db?.drop();
});

describe("the queue journal", () => {
  it("keeps every entry with its latest status under concurrent entries and notes, two batches in flight", async () => {
    const concertId = randomUUID();
    const n = 3_000;
    const entries: JournalRow[] = Array.from({ length: n }, (_, i) => ({
      token: `qt_${randomUUID()}`,
      concertId,
      userId: `u${i}`,
      seq: i + 1,
      status: "WAITING",
    }));
    // Each entry is recorded on its own (as enterQueue does); every third is then admitted
    // and every ninth ended, noted in any order relative to the entry's own write.
    const writes: Promise<void>[] = [];
    for (const [i, e] of entries.entries()) {
      writes.push(journal.record([e]));
      if (i % 3 === 0) writes.push(journal.note([{ token: e.token, concertId, userId: "", status: "ACTIVE", sessionEndsAt: 1_000 + i }]));
      if (i % 9 === 0) writes.push(journal.note([{ token: e.token, concertId, userId: "", status: "EXPIRED", reason: "PAID" }]));
      if (i % 50 === 0) await new Promise((r) => setImmediate(r)); // batches start meanwhile
    }
    await Promise.all(writes);
    expect(journal.stats.failures).toBe(0);
    expect(journal.stats.mostInFlight).toBe(2);

    const { rows } = await journal.pool.query<{ token: string; user_id: string; seq: string; status: string; session_ends_at: string | null }>(
      `SELECT token, user_id, seq, status, session_ends_at FROM queue_tokens WHERE concert_id = $1`,
      [concertId],
    );
    expect(rows).toHaveLength(n);
    const byToken = new Map(rows.map((r) => [r.token, r]));
    for (const [i, e] of entries.entries()) {
      const row = byToken.get(e.token)!;
      expect(row.user_id).toBe(`u${i}`);
      expect(Number(row.seq)).toBe(i + 1);
      expect(row.status).toBe(i % 9 === 0 ? "EXPIRED" : i % 3 === 0 ? "ACTIVE" : "WAITING");
      if (i % 3 === 0) expect(Number(row.session_ends_at)).toBe(1_000 + i);
    }
  });

  it("resolves an entry only once its row is committed", async () => {
    const concertId = randomUUID();
    const token = `qt_${randomUUID()}`;
    await journal.record([{ token, concertId, userId: "u", seq: 1, status: "WAITING" }]);
    const { rows } = await journal.pool.query(`SELECT status FROM queue_tokens WHERE token = $1`, [token]);
    expect(rows).toEqual([{ status: "WAITING" }]);
  });
});
