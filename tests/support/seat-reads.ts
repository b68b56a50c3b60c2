// For the tests that count what the ticketing functions read (tests/db/*: seat-writes-reads,
// plans-without-statistics, available-probe): a date with its seats, a crowd of holds, and the
// buffers a statement read, straight on one connection.
import { Client } from "pg";
import { afterAll, beforeAll } from "vitest";
import { createTestDatabase, type TestDatabase } from "./database";

export interface DateOnSale {
  concertId: string;
  dateId: string;
}

/** A concert titled `title` with one date in 30 days, of seats 1..seats at 100. */
export async function addDate(db: Client, title: string, seats: number): Promise<DateOnSale> {
  const [{ id: concertId }] = (await db.query(`INSERT INTO concerts (title) VALUES ($1) RETURNING id`, [title])).rows;
  const [{ id: dateId }] = (
    await db.query(`INSERT INTO concert_dates (concert_id, starts_at, total_seats) VALUES ($1, now() + interval '30 days', $2) RETURNING id`, [
      concertId,
      seats,
    ])
  ).rows;
  await db.query(`INSERT INTO seats (concert_date_id, number, price) SELECT $1, n, 100 FROM generate_series(1, $2::int) n`, [dateId, seats]);
  return { concertId, dateId };
}

/** A new database for one test file, holding one date of `seats` seats (analysed), and a connection to it: filled in by vitest's beforeAll. */
export function oneDateOnSale(title: string, seats: number): { db: Client; date: DateOnSale } {
  const room = {} as { db: Client; date: DateOnSale };
  let testDb: TestDatabase | undefined;
  beforeAll(async () => {
    testDb = await createTestDatabase();
    room.db = new Client({ connectionString: testDb.url });
    await room.db.connect();
    room.date = await addDate(room.db, title, seats);
    await room.db.query(`ANALYZE`);
  }, 60_000);
  afterAll(async () => {
    await room.db?.end();
    await testDb?.drop();
  });
  return room;
}

/** `holders` new users hold 4 seats each of `date`, from seat `first` on, in one statement. */
export async function holdCrowd(db: Client, date: DateOnSale, holders: number, first: number): Promise<void> {
  const users = await db.query<{ id: string }>(
    `INSERT INTO users (email, password_hash) SELECT gen_random_uuid() || '@example.com', 'x' FROM generate_series(1, $1::int) RETURNING id`,
    [holders],
  );
  await db.query(
    `SELECT ticket_hold(gen_random_uuid(), u.id, $1::uuid, $2::uuid, 'token', 3600, ARRAY(SELECT $4::int + 4 * (u.i::int - 1) + k FROM generate_series(0, 3) k))
       FROM unnest($3::uuid[]) WITH ORDINALITY AS u (id, i)`,
    [date.concertId, date.dateId, users.rows.map((u) => u.id), first],
  );
}

/** Shared buffers a statement read (hit or from disk), with everything the functions it calls read. */
export async function buffersOf(db: Client, statement: string, values: unknown[]): Promise<number> {
  const { rows } = await db.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${statement}`, values);
  const plan = rows[0]["QUERY PLAN"][0].Plan;
  return plan["Shared Hit Blocks"] + plan["Shared Read Blocks"];
}
