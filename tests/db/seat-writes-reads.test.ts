// What a hold, a pay and a release of seats read, on real PostgreSQL, counted in
// buffers (EXPLAIN's BUFFERS, which include what the function's own statements
// read), not in time. Each once walked far more rows than it changes, for a
// plan PostgreSQL chose from statistics that were true but misleading
// (BENCHMARKS.md, 2026-12-02, sixth stop):
//
// - a hold asked for `number = ANY(...)`; where the database's dates average a
//   few seats, the generic plan read the whole date by concert_date_id and
//   filtered the numbers (every hold of the rush read its 5,000 seats, twice);
// - a pay and a release had a condition on seats.status, which the planner
//   answered from a partial index on status, and so walked every HELD seat.
//
// For the second, the seats' statistics are taken while nothing is held, as
// they stand during an on-sale until autovacuum's next ANALYZE: the planner then
// believes few seats are HELD, which is when the index looked cheap. The crowd
// grows from 2,400 held seats to 7,200 between the two measures; every other
// table is analysed after each step, and both steps keep each index at the same
// depth, so that only a walk over the HELD seats can tell the two apart.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { RELEASE_SEATS_SQL } from "../../src/services/seat-locks";
import { addDate, buffersOf as buffersOn, holdCrowd } from "../support/seat-reads";

const SEATS = 10_000;

let testDb: TestDatabase;
let db: Client;
let concertId: string;
let dateId: string;
let smallConcertId: string;
let smallDateIds: string[];

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = new Client({ connectionString: testDb.url });
  await db.connect();
  ({ concertId, dateId } = await addDate(db, "Reads", SEATS));
  // Another concert's 2,000 dates of 2 seats: to the planner, a date then has about 7 seats.
  [{ id: smallConcertId }] = (await db.query(`INSERT INTO concerts (title) VALUES ('Small rooms') RETURNING id`)).rows;
  smallDateIds = (
    await db.query<{ id: string }>(
      `INSERT INTO concert_dates (concert_id, starts_at, total_seats)
       SELECT $1, now() + make_interval(days => g), 2 FROM generate_series(1, 2000) g RETURNING id`,
      [smallConcertId],
    )
  ).rows.map((d) => d.id);
  await db.query(`INSERT INTO seats (concert_date_id, number, price) SELECT d, n, 100 FROM unnest($1::uuid[]) d, generate_series(1, 2) n`, [
    smallDateIds,
  ]);
  await db.query(`ANALYZE`);
}, 60_000);
afterAll(async () => {
  await db?.end();
  await testDb?.drop();
});

/** A new user with the balance to pay. */
async function newUser(): Promise<string> {
  const { rows } = await db.query(`INSERT INTO users (email, password_hash, balance) VALUES ($1, 'x', 10000) RETURNING id`, [
    `${randomUUID()}@example.com`,
  ]);
  return rows[0].id;
}

/** Holds `seat` for `user`: the reservation's id. */
async function hold(user: string, seat: number): Promise<string> {
  const id = randomUUID();
  await db.query(`SELECT * FROM ticket_hold($1, $2, $3, $4, 'token', 3600, $5)`, [id, user, concertId, dateId, [seat]]);
  return id;
}

/** The buffers a hold of two seats by a new user reads. */
async function holdReads(concert: string, date: string, seats: number[]): Promise<number> {
  const reads = await buffersOf(`SELECT * FROM ticket_hold($1, $2, $3, $4, 'token', 3600, $5)`, [
    randomUUID(),
    await newUser(),
    concert,
    date,
    seats,
  ]);
  const held = await db.query(`SELECT count(*)::int AS n FROM seats WHERE concert_date_id = $1 AND number = ANY($2) AND status = 'HELD'`, [
    date,
    seats,
  ]);
  expect(held.rows[0].n).toBe(seats.length);
  return reads;
}

const buffersOf = (statement: string, values: unknown[]) => buffersOn(db, statement, values);

/** The most buffers read by each of `n` one-seat pays and `n` releases of a cancelled one-seat hold, on seats from `first` on. */
async function mostReads(first: number, n: number): Promise<{ pay: number; release: number }> {
  const pay: number[] = [];
  const release: number[] = [];
  for (let i = 0; i < n; i++) {
    const buyer = await newUser();
    pay.push(await buffersOf(`SELECT * FROM ticket_pay($1, $2, NULL, NULL, NULL)`, [await hold(buyer, first + 2 * i), buyer]));
    const seat = first + 2 * i + 1;
    const cancelled = await hold(await newUser(), seat);
    await db.query("BEGIN");
    try {
      await db.query(`UPDATE reservations SET status = 'CANCELLED' WHERE id = $1`, [cancelled]);
      release.push(await buffersOf(RELEASE_SEATS_SQL, [[cancelled]]));
      const freed = await db.query(`SELECT status, reservation_id FROM seats WHERE concert_date_id = $1 AND number = $2`, [dateId, seat]);
      expect(freed.rows[0]).toEqual({ status: "AVAILABLE", reservation_id: null });
    } finally {
      await db.query("ROLLBACK");
    }
  }
  const paid = await db.query(`SELECT count(*)::int AS n FROM seats WHERE status = 'SOLD' AND number BETWEEN $1 AND $2`, [first, first + 2 * n]);
  expect(paid.rows[0].n).toBe(n);
  return { pay: Math.max(...pay), release: Math.max(...release) };
}

/** `holders` new users hold 4 seats each, from seat `first` on, in one statement; then every table but seats is analysed. */
async function crowd(holders: number, first: number): Promise<void> {
  await holdCrowd(db, { concertId, dateId }, holders, first);
  await db.query(`ANALYZE users, reservations, reservation_seats, payments, tickets, ledger_entries`);
}

describe("a hold", () => {
  it("reads as many pages on a date of 10,000 seats as on one of 2, where dates average 7 seats", async () => {
    const small: number[] = [];
    const big: number[] = [];
    for (let i = 0; i < 6; i++) {
      small.push(await holdReads(smallConcertId, smallDateIds[i], [1, 2]));
      big.push(await holdReads(concertId, dateId, [9001 + 2 * i, 9002 + 2 * i]));
    }
    // The first two of each warm the connection up. Before the fix (b77b32f), a hold on the big date read 404
    // buffers against 100 on a small date (its 10,000 seats' index entries and heap pages, twice); after, 101 and 104.
    expect(Math.max(...big.slice(2))).toBeLessThanOrEqual(Math.max(...small.slice(2)) + 8);
  });
});

describe("a seat's pay and release", () => {
  it("read as many pages with 7,200 seats held by others as with 2,400", async () => {
    await crowd(600, 1001);
    await mostReads(1, 3); // the connection's caches (catalogue, plans made again after ANALYZE) warm up
    const some = await mostReads(11, 6);
    await crowd(1200, 3401);
    const [{ held }] = (
      await db.query(`SELECT count(*)::int AS held FROM seats WHERE concert_date_id = $1 AND status = 'HELD' AND number BETWEEN 1001 AND 8200`, [
        dateId,
      ])
    ).rows;
    expect(held).toBe(7_200);
    await mostReads(31, 1);
    const many = await mostReads(41, 6);
    // Before the fix (fdb3ad6): a pay read 133 pages, then 204; a release 7,300, then 21,900 (three for each seat HELD).
    // After: about 100 and 24 both times.
    expect(many.pay).toBeLessThanOrEqual(some.pay + 8);
    expect(many.release).toBeLessThanOrEqual(some.release + 8);
  });
});
