// The hold sweeper and the expiry rules at the service level, on real
// PostgreSQL and the real queue gate (QueueService on each queue store; the
// gate below only records the token endings it passes on): several sweepers at
// once, reads between sweeps, stale holds in the way.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import Redis from "ioredis";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { sql } from "../support/sql";
import { assertRedisAnswers } from "../support/redis";
import { notRun } from "../support/stores";
import { isolatedRedisUrl } from "../support/server";
import { createDatabase, type Database } from "../../src/db/database";
import { createMemoryEventBus, type EventBus } from "../../src/pubsub/event-bus";
import { seatChannel, type SeatChangeMessage } from "../../src/pubsub/seat-events";
import { createMemoryRateLimiter } from "../../src/limits/rate-limiter";
import { ReservationService } from "../../src/services/reservation.service";
import { PaymentService } from "../../src/services/payment.service";
import { SeatService } from "../../src/services/seat.service";
import { SeatMaps } from "../../src/services/seat-maps";
import { HoldSweeper } from "../../src/services/hold-sweeper";
import { QueueService } from "../../src/services/queue/queue.service";
import { QueuePolicies } from "../../src/services/queue/queue-policy";
import { MemoryQueueStore } from "../../src/services/queue/memory-queue-store";
import { RedisQueueStore } from "../../src/services/queue/redis-queue-store";
import type { QueueStore } from "../../src/services/queue/queue-store";
import type { QueueGate } from "../../src/services/queue/queue.types";

const stores: [string, () => { store: QueueStore; close(): void }][] = [["in-process store", () => ({ store: new MemoryQueueStore(), close() {} })]];
if (process.env.REDIS_URL) {
  stores.push([
    "Redis store",
    () => {
      const redis = new Redis(isolatedRedisUrl(process.env.REDIS_URL!));
      return { store: new RedisQueueStore(redis), close: () => redis.disconnect() };
    },
  ]);
} else notRun("hold sweeper (Redis store)", "REDIS_URL is not set");

describe.each(stores)("hold sweeper and expiry rules (%s)", (name, makeStore) => {
  let testDb: TestDatabase;
  let db: Database;
  let bus: EventBus;
  let queue: QueueService;
  let closeStore: () => void;
  const expired: string[] = [];
  /** Queue tokens by the names the tests give them (the ones they record as `name:reason`). */
  const names = new Map<string, string>();
  const nameOf = (token: string) => names.get(token) ?? token;
  // The real gate; endings are recorded on their way to it.
  const gate: QueueGate = {
    requireActive: (actor, token, concertId) => queue.requireActive(actor, token, concertId),
    holdPlaced: (token, heldUntil) => queue.holdPlaced(token, heldUntil),
    holdReleased: (token) => queue.holdReleased(token),
    async expireToken(token, reason) {
      expired.push(`${nameOf(token)}:${reason}`);
      await queue.expireToken(token, reason);
    },
    async concertSoldOut(concertId) {
      expired.push(`${concertId}:SOLD_OUT`);
      await queue.concertSoldOut(concertId);
    },
    seatsBackOnSale: (seats, wereSold) => queue.seatsBackOnSale(seats, wereSold),
  };
  const tokens = { watch: () => () => undefined };
  let reservations: ReservationService;
  let payments: PaymentService;
  let seats: SeatService;

  beforeAll(async () => {
    if (name === "Redis store") await assertRedisAnswers();
    testDb = await createTestDatabase();
    db = createDatabase(testDb.url, 20);
    bus = createMemoryEventBus();
    const made = makeStore();
    closeStore = made.close;
    const policies = new QueuePolicies(db.prisma, { maxActiveUsers: 100_000, admitPerSecond: 100_000, activeSessionSeconds: 600 }, bus);
    queue = new QueueService({
      store: made.store,
      policies,
      pool: db.pool,
      bus,
      limiter: createMemoryRateLimiter(),
      idleSeconds: 120,
      enterPerSecond: 1000,
    });
    reservations = new ReservationService({ pool: db.pool, bus, queue: gate, settings: { holdSeconds: 300, maxSeatsPerReservation: 4 } });
    payments = new PaymentService({ pool: db.pool, bus, queue: gate });
    seats = new SeatService({ pool: db.pool, bus, queue: gate, tokens, maps: new SeatMaps(db.pool, bus) });
  });
  beforeEach(() => {
    expired.length = 0;
  });
  afterAll(async () => {
    closeStore?.();
    await db?.close();
    await testDb?.drop();
  });

  /** An ACTIVE token of the user for the concert, from the real queue, known to the tests as `label`. */
  async function tokenFor(user: { id: string; role: "USER" }, concertId: string, label: string): Promise<string> {
    const ticket = await queue.enterQueue(user, concertId);
    expect(ticket.status).toBe("ACTIVE");
    names.set(ticket.token, label);
    return ticket.token;
  }

  async function newDate(seatCount: number) {
    const [c] = await sql<{ id: string }>(testDb.url, `INSERT INTO concerts (title) VALUES ('t') RETURNING id`);
    const [d] = await sql<{ id: string }>(
      testDb.url,
      `INSERT INTO concert_dates (concert_id, starts_at, total_seats) VALUES ($1, now() + interval '1 day', $2) RETURNING id`,
      [c.id, seatCount],
    );
    await sql(testDb.url, `INSERT INTO seats (concert_date_id, number, price) SELECT $1, n, 100 FROM generate_series(1, $2::int) n`, [
      d.id,
      seatCount,
    ]);
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
      const { concertId } = (
        await sql<{ concertId: string }>(testDb.url, `SELECT concert_id AS "concertId" FROM concert_dates WHERE id = $1`, [dateId])
      )[0];
      const queueTokens = await Promise.all(users.map((u, i) => tokenFor(u, concertId, `t${i}`)));
      const held = await Promise.all(
        users.map((u, i) => reservations.reserveSeats(u, { concertDateId: dateId, seatNumbers: [2 * i + 1, 2 * i + 2], queueToken: queueTokens[i] })),
      );
      const pushed: number[] = [];
      const stop = await bus.listen<SeatChangeMessage>(seatChannel(dateId), (m) =>
        pushed.push(...m.seats.filter((s) => s.status === "AVAILABLE").map((s) => s.number)),
      );
      await runOut(dateId);
      const sweepers = Array.from({ length: 4 }, () => new HoldSweeper({ pool: db.pool, bus, queue: gate }, { batchSize: 7 }));
      const counts = await Promise.all(sweepers.map((s) => s.sweep()));
      stop();
      expect(counts.reduce((a, b) => a + b, 0)).toBe(60);
      expect([...expired].sort()).toEqual(held.map((_, i) => `t${i}:HOLD_TIMEOUT`).sort());
      expect(pushed.sort((a, b) => a - b)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1));
      const left = await sql(testDb.url, `SELECT status::text, count(*)::int AS n FROM seats WHERE concert_date_id = $1 GROUP BY status`, [dateId]);
      expect(left).toEqual([{ status: "AVAILABLE", n: 120 }]);
      const states = await sql(
        testDb.url,
        `SELECT r.status::text AS r, p.status::text AS p, count(*)::int AS n FROM reservations r JOIN payments p ON p.reservation_id = r.id WHERE r.concert_date_id = $1 GROUP BY 1, 2`,
        [dateId],
      );
      expect(states).toEqual([{ r: "EXPIRED", p: "EXPIRED", n: 60 }]);
    });

    it("starts, ticks on its own and stops", async () => {
      const { concertId, dateId } = await newDate(2);
      const [u] = await newUsers(1);
      await reservations.reserveSeats(u, { concertDateId: dateId, seatNumbers: [1], queueToken: await tokenFor(u, concertId, "tick") });
      await runOut(dateId);
      const sweeper = new HoldSweeper({ pool: db.pool, bus, queue: gate }, { intervalMs: 50 });
      sweeper.start();
      // Its own ticks (every 50 ms) find the hold: wait for that, with a generous deadline.
      await expect.poll(() => [...expired], { timeout: 10_000, interval: 20 }).toEqual(["tick:HOLD_TIMEOUT"]);
      await sweeper.stop();
      expect(expired).toEqual(["tick:HOLD_TIMEOUT"]);
    });
  });

  describe("a hold past its time, not yet swept", () => {
    it("reads as AVAILABLE and EXPIRED, can be taken by another hold, and the late sweep leaves the new hold alone", async () => {
      const { concertId, dateId } = await newDate(4);
      const [a, b] = await newUsers(2);
      const old = await reservations.reserveSeats(a, { concertDateId: dateId, seatNumbers: [1, 2], queueToken: await tokenFor(a, concertId, "old") });
      const viewer = (await newUsers(1))[0];
      await runOut(dateId);
      // Read by another user: the holder's token ends with its hold once anything notices it ran out.
      const map = await seats.seats(viewer, { concertDateId: dateId, queueToken: await tokenFor(viewer, concertId, "viewer") });
      expect(map.map((s) => s.status)).toEqual(["AVAILABLE", "AVAILABLE", "AVAILABLE", "AVAILABLE"]);
      expect((await reservations.reservations(a))[0]).toMatchObject({ id: old.id, status: "EXPIRED" });
      const taken = await reservations.reserveSeats(b, {
        concertDateId: dateId,
        seatNumbers: [2, 3],
        queueToken: await tokenFor(b, concertId, "new"),
      });
      await new HoldSweeper({ pool: db.pool, bus, queue: gate }).sweep();
      expect(expired).toEqual(["old:HOLD_TIMEOUT"]);
      const rows = await sql(testDb.url, `SELECT number, status::text, reservation_id FROM seats WHERE concert_date_id = $1 ORDER BY number`, [
        dateId,
      ]);
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
      await reservations.reserveSeats(a, { concertDateId: dateId, seatNumbers: [1, 2], queueToken: await tokenFor(a, concertId, "ran-out") });
      await runOut(dateId);
      const buyer = await tokenFor(b, concertId, "buyer");
      const taken = await reservations.reserveSeats(b, { concertDateId: dateId, seatNumbers: [1, 2], queueToken: buyer });
      await payments.pay(b, { reservationId: taken.id, queueToken: buyer });
      // The buyer's token ends PAID, the run-out hold's HOLD_TIMEOUT, and only then every other one with the sell-out.
      expect(expired).toEqual(["buyer:PAID", "ran-out:HOLD_TIMEOUT", `${concertId}:SOLD_OUT`]);
      const rows = await sql<{ t: string; r: string; p: string }>(
        testDb.url,
        `SELECT r.queue_token AS t, r.status::text AS r, p.status::text AS p FROM reservations r JOIN payments p ON p.reservation_id = r.id WHERE r.concert_date_id = $1`,
        [dateId],
      );
      const states = rows.map((row) => ({ ...row, t: nameOf(row.t) })).sort((x, y) => x.t.localeCompare(y.t));
      expect(states).toEqual([
        { t: "buyer", r: "CONFIRMED", p: "COMPLETED" },
        { t: "ran-out", r: "EXPIRED", p: "EXPIRED" },
      ]);
    });

    it("does not block its user's next hold (HOLD_LIMIT), and ends the token it was held with", async () => {
      const { concertId, dateId } = await newDate(4);
      const [a] = await newUsers(1);
      const first = await tokenFor(a, concertId, "first");
      await reservations.reserveSeats(a, { concertDateId: dateId, seatNumbers: [1], queueToken: first });
      await runOut(dateId);
      // Same token: that token ended with the hold.
      await expect(reservations.reserveSeats(a, { concertDateId: dateId, seatNumbers: [2], queueToken: first })).rejects.toMatchObject({
        code: "QUEUE_TOKEN_EXPIRED",
      });
      expect(expired).toEqual(["first:HOLD_TIMEOUT"]);
      // And stays ended: the real gate refuses it from now on.
      await expect(reservations.reserveSeats(a, { concertDateId: dateId, seatNumbers: [1], queueToken: first })).rejects.toMatchObject({
        code: "QUEUE_TOKEN_EXPIRED",
      });
      expect((await queue.read(concertId, first, false))?.expiredReason).toBe("HOLD_TIMEOUT");
      // A new token: the hold that ran out is not in the way, and the new hold is (HOLD_LIMIT).
      const again = await tokenFor(a, concertId, "again");
      await reservations.reserveSeats(a, { concertDateId: dateId, seatNumbers: [1], queueToken: again }).then((r) => expect(r.status).toBe("HELD"));
      const second = await reservations.reserveSeats(a, { concertDateId: dateId, seatNumbers: [3], queueToken: again }).catch((e) => e);
      expect(second).toMatchObject({ code: "HOLD_LIMIT" });
    });
  });
});
