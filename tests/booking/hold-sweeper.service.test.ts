// The hold sweeper and the expiry rules at the service level, on real
// PostgreSQL, with a recording queue gate (the real queue is exercised by the API
// tests): several sweepers at once, reads between sweeps, stale holds in the way.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { sql } from "../support/sql";
import { createDatabase, type Database } from "../../src/db/database";
import { createMemoryEventBus, type EventBus } from "../../src/pubsub/event-bus";
import { seatChannel, type SeatChangeMessage } from "../../src/pubsub/seat-events";
import { ReservationService } from "../../src/services/reservation.service";
import { PaymentService } from "../../src/services/payment.service";
import { SeatService } from "../../src/services/seat.service";
import { SeatMaps } from "../../src/services/seat-maps";
import { HoldSweeper } from "../../src/services/hold-sweeper";
import type { QueueGate } from "../../src/services/queue/queue.types";

let testDb: TestDatabase;
let db: Database;
let bus: EventBus;
const expired: string[] = [];
const gate: QueueGate = {
  async requireActive() {},
  async holdPlaced() {},
  async holdReleased() {},
  async expireToken(token, reason) {
    expired.push(`${token}:${reason}`);
  },
  async concertSoldOut(concertId) {
    expired.push(`${concertId}:SOLD_OUT`);
  },
};
const tokens = { watch: () => () => undefined };
let reservations: ReservationService;
let payments: PaymentService;
let seats: SeatService;

beforeAll(async () => {
  testDb = await createTestDatabase();
  db = createDatabase(testDb.url, 20);
  bus = createMemoryEventBus();
  reservations = new ReservationService({ pool: db.pool, bus, queue: gate, settings: { holdSeconds: 300, maxSeatsPerReservation: 4 } });
  payments = new PaymentService({ pool: db.pool, bus, queue: gate });
  seats = new SeatService({ pool: db.pool, bus, queue: gate, tokens, maps: new SeatMaps(db.pool, bus) });
});
beforeEach(() => {
  expired.length = 0;
});
afterAll(async () => {
  await db.close();
  await testDb.drop();
});

async function newDate(seatCount: number) {
  const [c] = await sql<{ id: string }>(testDb.url, `INSERT INTO concerts (title) VALUES ('t') RETURNING id`);
  const [d] = await sql<{ id: string }>(
    testDb.url,
    `INSERT INTO concert_dates (concert_id, starts_at, total_seats) VALUES ($1, now() + interval '1 day', $2) RETURNING id`,
    [c.id, seatCount],
  );
  await sql(testDb.url, `INSERT INTO seats (concert_date_id, number, price) SELECT $1, n, 100 FROM generate_series(1, $2::int) n`, [d.id, seatCount]);
  return { concertId: c.id, dateId: d.id };
}

async function newUsers(n: number) {
  const rows = await sql<{ id: string }>(
    testDb.url,
    `INSERT INTO users (email, password_hash) SELECT 'u' || gen_random_uuid() || '@x.io', 'x' FROM generate_series(1, $1::int) RETURNING id`,
    [n],
  );
  return rows.map((r) => ({ id: r.id, role: "USER" as const }));
}

/** Makes every hold of the date run out now, as if HOLD_SECONDS had passed. */
const runOut = (dateId: string) =>
  sql(
    testDb.url,
    `WITH r AS (UPDATE reservations SET held_until = now() - interval '1 second' WHERE concert_date_id = $1 AND status = 'HELD')
     UPDATE seats SET held_until = now() - interval '1 second' WHERE concert_date_id = $1 AND status = 'HELD'`,
    [dateId],
  );

describe("hold sweeper", () => {
  it("expires each due hold exactly once when several sweepers run at once", async () => {
    const { dateId } = await newDate(120);
    const users = await newUsers(60);
    const held = await Promise.all(
      users.map((u, i) => reservations.reserveSeats(u, { concertDateId: dateId, seatNumbers: [2 * i + 1, 2 * i + 2], queueToken: `t${i}` })),
    );
    const pushed: number[] = [];
    const stop = await bus.listen<SeatChangeMessage>(seatChannel(dateId), (m) => pushed.push(...m.seats.filter((s) => s.status === "AVAILABLE").map((s) => s.number)));
    await runOut(dateId);
    const sweepers = Array.from({ length: 4 }, () => new HoldSweeper({ pool: db.pool, bus, queue: gate }, { batchSize: 7 }));
    const counts = await Promise.all(sweepers.map((s) => s.sweep()));
    stop();
    expect(counts.reduce((a, b) => a + b, 0)).toBe(60);
    expect([...expired].sort()).toEqual(held.map((_, i) => `t${i}:HOLD_TIMEOUT`).sort());
    expect(pushed.sort((a, b) => a - b)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
    const left = await sql(testDb.url, `SELECT status::text, count(*)::int AS n FROM seats WHERE concert_date_id = $1 GROUP BY status`, [dateId]);
    expect(left).toEqual([{ status: "AVAILABLE", n: 120 }]);
    const states = await sql(testDb.url, `SELECT r.status::text AS r, p.status::text AS p, count(*)::int AS n FROM reservations r JOIN payments p ON p.reservation_id = r.id WHERE r.concert_date_id = $1 GROUP BY 1, 2`, [dateId]);
    expect(states).toEqual([{ r: "EXPIRED", p: "EXPIRED", n: 60 }]);
  });

  it("starts, ticks on its own and stops", async () => {
    const { dateId } = await newDate(2);
    const [u] = await newUsers(1);
    await reservations.reserveSeats(u, { concertDateId: dateId, seatNumbers: [1], queueToken: "tick" });
    await runOut(dateId);
    const sweeper = new HoldSweeper({ pool: db.pool, bus, queue: gate }, { intervalMs: 50 });
    sweeper.start();
    await new Promise((r) => setTimeout(r, 300));
    await sweeper.stop();
    expect(expired).toEqual(["tick:HOLD_TIMEOUT"]);
  });
});

describe("a hold past its time, not yet swept", () => {
  it("reads as AVAILABLE and EXPIRED, can be taken by another hold, and the late sweep leaves the new hold alone", async () => {
    const { concertId, dateId } = await newDate(4);
    const [a, b] = await newUsers(2);
    const old = await reservations.reserveSeats(a, { concertDateId: dateId, seatNumbers: [1, 2], queueToken: "old" });
    await runOut(dateId);
    const map = await seats.seats(a, { concertDateId: dateId, queueToken: "old" });
    expect(map.map((s) => s.status)).toEqual(["AVAILABLE", "AVAILABLE", "AVAILABLE", "AVAILABLE"]);
    expect((await reservations.reservations(a))[0]).toMatchObject({ id: old.id, status: "EXPIRED" });
    const taken = await reservations.reserveSeats(b, { concertDateId: dateId, seatNumbers: [2, 3], queueToken: "new" });
    await new HoldSweeper({ pool: db.pool, bus, queue: gate }).sweep();
    expect(expired).toEqual(["old:HOLD_TIMEOUT"]);
    const rows = await sql(testDb.url, `SELECT number, status::text, reservation_id FROM seats WHERE concert_date_id = $1 ORDER BY number`, [dateId]);
    expect(rows).toEqual([
      { number: 1, status: "AVAILABLE", reservation_id: null },
      { number: 2, status: "HELD", reservation_id: taken.id },
      { number: 3, status: "HELD", reservation_id: taken.id },
      { number: 4, status: "AVAILABLE", reservation_id: null },
    ]);
    expect(concertId).toBeTruthy();
  });

  it("ends HOLD_TIMEOUT, not SOLD_OUT, when its seats are taken and sold out before any sweep", async () => {
    const { concertId, dateId } = await newDate(2);
    const [a, b] = await newUsers(2);
    await sql(testDb.url, `UPDATE users SET balance = 1000 WHERE id = $1`, [b.id]);
    await reservations.reserveSeats(a, { concertDateId: dateId, seatNumbers: [1, 2], queueToken: "ran-out" });
    await runOut(dateId);
    const taken = await reservations.reserveSeats(b, { concertDateId: dateId, seatNumbers: [1, 2], queueToken: "buyer" });
    await payments.pay(b, { reservationId: taken.id, queueToken: "buyer" });
    // The buyer's token ends PAID, the run-out hold's HOLD_TIMEOUT, and only then every other one with the sell-out.
    expect(expired).toEqual(["buyer:PAID", "ran-out:HOLD_TIMEOUT", `${concertId}:SOLD_OUT`]);
    const states = await sql(testDb.url, `SELECT r.queue_token AS t, r.status::text AS r, p.status::text AS p FROM reservations r JOIN payments p ON p.reservation_id = r.id WHERE r.concert_date_id = $1 ORDER BY t`, [dateId]);
    expect(states).toEqual([
      { t: "buyer", r: "CONFIRMED", p: "COMPLETED" },
      { t: "ran-out", r: "EXPIRED", p: "EXPIRED" },
    ]);
  });

  it("does not block its user's next hold (HOLD_LIMIT), and ends the token it was held with", async () => {
    const { dateId } = await newDate(4);
    const [a] = await newUsers(1);
    await reservations.reserveSeats(a, { concertDateId: dateId, seatNumbers: [1], queueToken: "first" });
    await runOut(dateId);
    // Same token: that token ended with the hold.
    await expect(reservations.reserveSeats(a, { concertDateId: dateId, seatNumbers: [2], queueToken: "first" })).rejects.toMatchObject({ code: "QUEUE_TOKEN_EXPIRED" });
    expect(expired).toEqual(["first:HOLD_TIMEOUT"]);
    await reservations.reserveSeats(a, { concertDateId: dateId, seatNumbers: [1], queueToken: "first" }).then(
      (r) => expect(r.status).toBe("HELD"),
    );
    const second = await reservations.reserveSeats(a, { concertDateId: dateId, seatNumbers: [3], queueToken: randomUUID() }).catch((e) => e);
    expect(second).toMatchObject({ code: "HOLD_LIMIT" });
  });
});
