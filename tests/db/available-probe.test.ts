// What a pay's last statement reads to tell whether its date still has a seat AVAILABLE
// (prisma/functions/ticket_pay.sql, `available_left`), on real PostgreSQL, in buffers. The
// database holds one date, as during an on-sale: to the planner, a date is then most of the
// seats and most of them AVAILABLE, and for an EXISTS a sequential scan looked cheapest. It read
// every page up to the first AVAILABLE seat, so the pays read more the more seats were taken.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { buffersOf, holdCrowd, oneDateOnSale } from "../support/seat-reads";

const SEATS = 10_000;

const room = oneDateOnSale("One big room", SEATS);

/** The most buffers read by the pays of one-seat holds of seats first, first + 1, …, first + n − 1. */
async function mostPayReads(first: number, n: number): Promise<number> {
  const reads: number[] = [];
  for (let seat = first; seat < first + n; seat++) {
    const [{ id: user }] = (
      await room.db.query(`INSERT INTO users (email, password_hash, balance) VALUES ($1, 'x', 10000) RETURNING id`, [`${randomUUID()}@example.com`])
    ).rows;
    const id = randomUUID();
    await room.db.query(`SELECT * FROM ticket_hold($1, $2, $3, $4, 'token', 3600, $5)`, [id, user, room.date.concertId, room.date.dateId, [seat]]);
    reads.push(await buffersOf(room.db, `SELECT * FROM ticket_pay($1, $2, NULL, NULL, NULL)`, [id, user]));
  }
  return Math.max(...reads);
}

describe("a pay's question whether its date has a seat AVAILABLE", () => {
  it("reads the index, not every page up to the first AVAILABLE seat, with the date's first 8,000 seats taken", async () => {
    await mostPayReads(1, 3); // the connection's caches and plans warm up
    const few = await mostPayReads(4, 6);
    await holdCrowd(room.db, room.date, 1_997, 11); // seats 11 to 7,998 held
    await mostPayReads(7_999, 1); // the first probe marks the index entries of the seats taken since as dead
    const many = await mostPayReads(8_000, 6);
    // With a sequential scan (no enable_seqscan = off on ticket_pay) a pay read about 260 pages more
    // here (79 → 340); by the index about 40 more (82 → 124): the leaf pages of the entries marked
    // dead, which the scan still reads until a vacuum takes them out.
    expect(many).toBeLessThan(few + 100);
  });
});
