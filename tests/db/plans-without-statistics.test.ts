// What a hold, a read of its seats, a pay, a refund and a release read while the tables they join
// have no statistics yet: a new database's first on-sale, before autovacuum's
// first ANALYZE of the reservations' seats (it looks once a minute; each bench
// and rush starts on a new database). Counted in buffers (EXPLAIN's BUFFERS,
// which include the functions' own statements), not in time.
//
// Without statistics PostgreSQL takes an equality to match 0.5% of a table's
// rows. reservation_seats keeps a row for every seat of every hold ever made,
// expired and cancelled ones too, so it outgrows the seats: with 20,000 rows,
// 100 seats per reservation. The generic plan of `reservation_seats JOIN seats
// WHERE reservation_id = $1` then became a hash join over a sequential scan of
// every seat, twice per pay (in the buying bench, one run in six: 8–10 ms of
// PostgreSQL's CPU per pay against 1.1–1.5 ms; BENCHMARKS.md, 2026-12-03).
// The same calls are measured again after ANALYZE, which has PostgreSQL plan
// them anew: plans that rest on no estimate read alike in both.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { addDate, buffersOf as buffersOn } from "../support/seat-reads";
import { RELEASE_SEATS_SQL } from "../../src/services/seat-locks";
import { SEATS_OF_RESERVATIONS_SQL } from "../../src/services/seat.service";

const SEATS = 10_000;
const EARLIER_HOLDS = 5_000; // cancelled, of 4 seats each: 20,000 rows in reservation_seats
/** The tables a hold, a pay or a refund reads or writes: no ANALYZE of theirs but the test's own. */
const UNANALYSED = [
  "concerts",
  "concert_dates",
  "seats",
  "users",
  "reservations",
  "reservation_seats",
  "payments",
  "tickets",
  "ledger_entries",
  "idempotency_keys",
];

let testDb: TestDatabase;
let db: Client;
let concertId: string;
let dateId: string;
let nextSeat = 1;

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = new Client({ connectionString: testDb.url });
  await db.connect();
  for (const table of UNANALYSED) await db.query(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
  ({ concertId, dateId } = await addDate(db, "No statistics", SEATS));
  // The on-sale so far: 5,000 holds of 4 seats, cancelled since (written directly: what they left is the point).
  const [{ id: earlier }] = (await db.query(`INSERT INTO users (email, password_hash) VALUES ('earlier@example.com', 'x') RETURNING id`)).rows;
  await db.query(
    `WITH r AS (
       INSERT INTO reservations (user_id, concert_id, concert_date_id, queue_token, total_price, held_until, status)
       SELECT $1, $2, $3, 'token', 400, now(), 'CANCELLED' FROM generate_series(1, $4::int) RETURNING id
     )
     INSERT INTO reservation_seats (reservation_id, seat_id, seat_number, price, grade)
     SELECT r.id, s.id, s.number, s.price, s.grade
       FROM (SELECT id, row_number() OVER () AS i FROM r) r
       JOIN seats s ON s.concert_date_id = $3 AND s.number BETWEEN (4 * (r.i - 1)) % $5::int + 1 AND (4 * (r.i - 1)) % $5::int + 4`,
    [earlier, concertId, dateId, EARLIER_HOLDS, SEATS],
  );
  const [{ n }] = (await db.query(`SELECT count(*)::int AS n FROM reservation_seats`)).rows;
  expect(n).toBe(4 * EARLIER_HOLDS);
  const stats = await db.query(`SELECT count(*)::int AS n FROM pg_stats WHERE tablename = ANY($1)`, [UNANALYSED]);
  expect(stats.rows[0].n).toBe(0);
}, 120_000);
afterAll(async () => {
  await db?.end();
  await testDb?.drop();
});

const buffersOf = (statement: string, values: unknown[]) => buffersOn(db, statement, values);

interface Reads {
  hold: number;
  read: number;
  pay: number;
  refund: number;
  release: number;
}

/** What one two-seat hold, the read of its seats, its pay, its refund, and the release of another cancelled two-seat hold read. */
async function oneOfEach(): Promise<Reads> {
  const { rows } = await db.query(`INSERT INTO users (email, password_hash, balance) VALUES ($1, 'x', 10000) RETURNING id`, [
    `${randomUUID()}@example.com`,
  ]);
  const user = rows[0].id;
  const seats = () => [nextSeat++, nextSeat++];
  const held = randomUUID();
  const hold = await buffersOf(`SELECT * FROM ticket_hold($1, $2, $3, $4, 'token', 3600, $5)`, [held, user, concertId, dateId, seats()]);
  const read = await buffersOf(SEATS_OF_RESERVATIONS_SQL, [[held]]);
  const pay = await buffersOf(`SELECT * FROM ticket_pay($1, $2, NULL, NULL, NULL)`, [held, user]);
  const refund = await buffersOf(`SELECT * FROM ticket_refund($1, $2, NULL, NULL, 24, 10, 7)`, [held, user]);
  const refunded = await db.query(
    `SELECT r.status, (SELECT count(*)::int FROM seats s WHERE s.reservation_id = r.id) AS seats FROM reservations r WHERE r.id = $1`,
    [held],
  );
  expect(refunded.rows[0]).toEqual({ status: "REFUNDED", seats: 0 });

  const cancelled = randomUUID();
  await db.query(`SELECT * FROM ticket_hold($1, $2, $3, $4, 'token', 3600, $5)`, [cancelled, user, concertId, dateId, seats()]);
  await db.query(`UPDATE reservations SET status = 'CANCELLED' WHERE id = $1`, [cancelled]);
  const release = await buffersOf(RELEASE_SEATS_SQL, [[cancelled]]);
  const freed = await db.query(`SELECT count(*)::int AS n FROM seats WHERE reservation_id = $1`, [cancelled]);
  expect(freed.rows[0].n).toBe(0);
  return { hold, read, pay, refund, release };
}

/** The most each call read over `n` rounds, after two rounds that warm the connection up (catalogue, plans). */
async function mostReads(n: number): Promise<Reads> {
  await oneOfEach();
  await oneOfEach();
  const all: Reads[] = [];
  for (let i = 0; i < n; i++) all.push(await oneOfEach());
  const most = (k: keyof Reads) => Math.max(...all.map((r) => r[k]));
  return { hold: most("hold"), read: most("read"), pay: most("pay"), refund: most("refund"), release: most("release") };
}

describe("with 20,000 seats of earlier holds and no statistics", () => {
  it("a hold, a read of its seats, a pay, a refund and a release read as many pages as after ANALYZE", async () => {
    const without = await mostReads(4);
    await db.query(`ANALYZE ${UNANALYSED.join(", ")}`);
    const withStats = await mostReads(4);
    // Before the fix (ebf9cf4), without statistics: a pay read 330 buffers against 127, a refund 299 against 96, a
    // release 143 against 44 (each a scan of the date's 10,000 seats); a hold 125 against 118, its plans alike.
    // After: 124, 103, 51 and 127, against 115, 92, 52 and 118. A scan of the seats reads about 100 more.
    // A reservation's seats (its `seats` field, a DataLoader's query): 108 against 10 before, 12 against 11 after.
    for (const k of ["hold", "read", "pay", "refund", "release"] as const) expect(without[k], k).toBeLessThanOrEqual(withStats[k] + 20);
  });
});
