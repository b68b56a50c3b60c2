// What the sold-out question of a sale reads (src/services/sold-out.ts, isConcertSoldOut: "has
// the date a seat not SOLD?"), on real PostgreSQL, in buffers. It is asked after the last pays of
// a date and, 200 ms later, once per date after the others. The database holds one date, as
// during an on-sale, and its statistics were taken before the sale, with every seat AVAILABLE.
import { describe, expect, it } from "vitest";
import { buffersOf, holdCrowd, oneDateOnSale } from "../support/seat-reads";
import { DATE_SOLD_OUT } from "../../src/services/sold-out";

const SEATS = 10_000;

const room = oneDateOnSale("One big room", SEATS);

/** Seats first..first + 4 × holders − 1 held by `holders` new users, 4 each, and paid. */
async function sell(holders: number, first: number): Promise<void> {
  await holdCrowd(room.db, room.date, holders, first);
  await room.db.query(`UPDATE users SET balance = 1000000`);
  await room.db.query(`SELECT ticket_pay(r.id, r.user_id, NULL, NULL, NULL) FROM reservations r WHERE r.status = 'HELD'`);
}

/** The most buffers the prepared question read over `times` asks (its generic plan comes after five). */
async function mostReads(times: number): Promise<number> {
  const reads: number[] = [];
  for (let i = 0; i < times; i++) reads.push(await buffersOf(room.db, `EXECUTE date_sold_out('${room.date.dateId}')`, []));
  return Math.max(...reads);
}

describe("the sold-out question of a date", () => {
  it("reads the unsold seats' index, not every page of the seats sold, with 9,988 of 10,000 seats sold", async () => {
    await room.db.query(`PREPARE date_sold_out (uuid) AS ${DATE_SOLD_OUT}`);
    await mostReads(1); // the connection's caches and the function's plan warm up
    const fresh = await mostReads(8);
    await sell(2_497, 1); // seats 1 to 9,988 sold
    await mostReads(1); // the first probe marks the index entries of the seats sold since as dead
    const late = await mostReads(8);
    const [{ done }] = (await room.db.query(`EXECUTE date_sold_out('${room.date.dateId}')`)).rows;
    expect(done).toBe(false);
    // By a sequential scan (no enable_seqscan = off on date_sold_out) the question read 104 pages
    // here, every page of the seats sold (2 before the sale); by the index 14 (5 before): the leaf
    // pages of the entries marked dead, which it reads until a vacuum takes them out.
    expect(late).toBeLessThan(fresh + 40);
  });

  it("says yes once the last seat is sold, of the date and of its concert, and no for a date that does not exist", async () => {
    const ask = async (sql: string, id: string) => (await room.db.query(sql, [id])).rows[0].done as boolean;
    expect(await ask(DATE_SOLD_OUT, room.date.dateId)).toBe(false);
    expect(await ask(`SELECT concert_sold_out($1) AS done`, room.date.concertId)).toBe(false);
    await sell(3, 9_989); // seats 9,989 to 10,000: every seat sold
    expect(await ask(DATE_SOLD_OUT, room.date.dateId)).toBe(true);
    expect(await ask(`SELECT concert_sold_out($1) AS done`, room.date.concertId)).toBe(true);
    expect(await ask(DATE_SOLD_OUT, "00000000-0000-4000-8000-000000000000")).toBe(false);
    expect(await ask(`SELECT concert_sold_out($1) AS done`, "00000000-0000-4000-8000-000000000000")).toBe(false);
  });
});
