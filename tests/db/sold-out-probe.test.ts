// What the sold-out question of a sale reads (src/services/sold-out.ts, isConcertSoldOut: "has
// the date a seat not SOLD?"), on real PostgreSQL, in buffers. It is asked after the last pays of
// a date and, 200 ms later, once per date after the others. The database holds one date, as
// during an on-sale, and its statistics were taken before the sale, with every seat AVAILABLE.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { addDate, buffersOf, holdCrowd, type DateOnSale } from "../support/seat-reads";
import { DATE_SOLD_OUT } from "../../src/services/sold-out";

const SEATS = 10_000;

let testDb: TestDatabase;
let db: Client;
let date: DateOnSale;

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = new Client({ connectionString: testDb.url });
  await db.connect();
  date = await addDate(db, "One big room", SEATS);
  await db.query(`ANALYZE`);
}, 60_000);
afterAll(async () => {
  await db?.end();
  await testDb?.drop();
});

/** Seats first..first + 4 × holders − 1 held by `holders` new users, 4 each, and paid. */
async function sell(holders: number, first: number): Promise<void> {
  await holdCrowd(db, date, holders, first);
  await db.query(`UPDATE users SET balance = 1000000`);
  await db.query(`SELECT ticket_pay(r.id, r.user_id, NULL, NULL, NULL) FROM reservations r WHERE r.status = 'HELD'`);
}

/** The most buffers the prepared question read over `times` asks (its generic plan comes after five). */
async function mostReads(times: number): Promise<number> {
  const reads: number[] = [];
  for (let i = 0; i < times; i++) reads.push(await buffersOf(db, `EXECUTE date_sold_out('${date.dateId}')`, []));
  return Math.max(...reads);
}

describe("the sold-out question of a date", () => {
  it("reads the unsold seats' index, not every page of the seats sold, with 9,988 of 10,000 seats sold", async () => {
    await db.query(`PREPARE date_sold_out (uuid) AS ${DATE_SOLD_OUT}`);
    await mostReads(1); // the connection's caches and the function's plan warm up
    const fresh = await mostReads(8);
    await sell(2_497, 1); // seats 1 to 9,988 sold
    await mostReads(1); // the first probe marks the index entries of the seats sold since as dead
    const late = await mostReads(8);
    const [{ done }] = (await db.query(`EXECUTE date_sold_out('${date.dateId}')`)).rows;
    expect(done).toBe(false);
    // By a sequential scan (no enable_seqscan = off on date_sold_out) the question read 104 pages
    // here, every page of the seats sold (2 before the sale); by the index 14 (5 before): the leaf
    // pages of the entries marked dead, which it reads until a vacuum takes them out.
    expect(late).toBeLessThan(fresh + 40);
  });

  it("says yes once the last seat is sold, of the date and of its concert, and no for a date that does not exist", async () => {
    const ask = async (sql: string, id: string) => (await db.query(sql, [id])).rows[0].done as boolean;
    expect(await ask(DATE_SOLD_OUT, date.dateId)).toBe(false);
    expect(await ask(`SELECT concert_sold_out($1) AS done`, date.concertId)).toBe(false);
    await sell(3, 9_989); // seats 9,989 to 10,000: every seat sold
    expect(await ask(DATE_SOLD_OUT, date.dateId)).toBe(true);
    expect(await ask(`SELECT concert_sold_out($1) AS done`, date.concertId)).toBe(true);
    expect(await ask(DATE_SOLD_OUT, "00000000-0000-4000-8000-000000000000")).toBe(false);
    expect(await ask(`SELECT concert_sold_out($1) AS done`, "00000000-0000-4000-8000-000000000000")).toBe(false);
  });
});
