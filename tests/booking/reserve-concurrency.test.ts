// Holds fired truly at once from many users across instances: a seat is held by
// one reservation at most, a hold is all or none, and no deadlock reaches a client.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { queueStores } from "../support/stores";
import { startDeployment } from "../support/server";
import { codeOf, gql, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { sql } from "../support/sql";
import { OPEN_QUEUE, RESERVE, expectSeatInvariants, newShopper, type Shopper } from "../support/booking";

describe.each(queueStores("reserve-concurrency"))("concurrent holds ($name)", ({ instances, redis }) => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  let admin: TestUser;
  const url = (i: number) => deployment.servers[i % deployment.servers.length].url;

  beforeAll(async () => {
    deployment = await startDeployment({ instances, redis, settings: { ...OPEN_QUEUE, DATABASE_POOL_SIZE: "10" } });
    admin = await newAdmin(deployment.server);
  });
  afterEach(() => expectSeatInvariants(deployment.db.url));
  afterAll(() => deployment?.close());

  const shoppers = (concertId: string, n: number, d = deployment) =>
    Promise.all(Array.from({ length: n }, (_, i) => newShopper(d.servers[i % d.servers.length].url, concertId)));

  describe(`concurrent holds (${instances > 1 ? "two instances" : "one instance"})`, () => {
    it("gives one seat wanted by 50 users at once to exactly one of them", async () => {
      const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 5 }] });
      const users = await shoppers(concert.id, 50);
      const results = await Promise.all(users.map((u, i) => gql(url(i), RESERVE, { d: concert.dates[0].id, n: [3] }, u.q)));
      expect(results.filter((r) => !r.errors)).toHaveLength(1);
      expect(results.filter((r) => r.errors).map(codeOf)).toEqual(Array(49).fill("SEAT_UNAVAILABLE"));
      const held = await sql(deployment.db.url, `SELECT count(*)::int AS n FROM reservations WHERE concert_id = $1`, [concert.id]);
      expect(held).toEqual([{ n: 1 }]);
    });

    it("never holds part of a request or one seat twice under random overlapping multi-seat holds", { timeout: 90_000 }, async () => {
      // A deployment of its own: its database sessions all end with it, and a session
      // that ends has flushed its statistics, so its deadlock count is then complete.
      const own = await startDeployment({ instances, redis, settings: { ...OPEN_QUEUE, DATABASE_POOL_SIZE: "10" } });
      const ownUrl = (i: number) => own.servers[i % own.servers.length].url;
      const seatCount = 24;
      let deadlocked = 0;
      try {
        const ownAdmin = await newAdmin(own.server);
        const concert = await newConcert(own.server, ownAdmin, { dates: [{ seatCount }] });
        const date = concert.dates[0].id;
        for (let round = 0; round < 3; round++) {
          const users: Shopper[] = await shoppers(concert.id, 40, own);
          // Overlapping sets in random order: without one lock order these deadlock.
          const asks = users.map(() => pick(seatCount, 1 + Math.floor(Math.random() * 4)));
          const results = await Promise.all(users.map((u, i) => gql(ownUrl(i), RESERVE, { d: date, n: asks[i] }, u.q)));
          // A deadlock that reached a client, counted from the answers themselves.
          deadlocked += results.filter((r) => r.errors?.some((e) => /deadlock/i.test(`${e.message} ${JSON.stringify(e.extensions ?? {})}`))).length;
          const codes = results.filter((r) => r.errors).map(codeOf);
          expect(codes.filter((c) => c !== "SEAT_UNAVAILABLE")).toEqual([]);
          const won = results.flatMap((r, i) => (r.errors ? [] : [{ asked: asks[i], got: r.data.reserveSeats }]));
          expect(won.length).toBeGreaterThan(0);
          for (const w of won) expect(w.got.seats.map((s: { number: number }) => s.number)).toEqual([...w.asked].sort((a, b) => a - b));
          const taken = won.flatMap((w) => w.asked);
          expect(new Set(taken).size).toBe(taken.length);
          // Every refused request overlapped a winner: a free set of seats is never refused.
          for (const [i, r] of results.entries()) if (r.errors) expect(asks[i].some((n) => taken.includes(n))).toBe(true);
          const rows = await sql<{ number: number; user_id: string }>(
            own.db.url,
            `SELECT s.number, r.user_id FROM seats s JOIN reservations r ON r.id = s.reservation_id
              WHERE s.concert_date_id = $1 AND s.status = 'HELD' AND s.held_until > now()`,
            [date],
          );
          expect(rows.map((r) => r.number).sort((a, b) => a - b)).toEqual([...taken].sort((a, b) => a - b));
          // Run the holds out for the next round: the seats first, while no sweeper can
          // see their reservations as due; then the reservations, which the sweepers take
          // with SKIP LOCKED. The other order let a sweeper lock these seats in seat order
          // while this statement locked them in table order: a deadlock of the test's own.
          await sql(own.db.url, `UPDATE seats SET held_until = now() - interval '1 second' WHERE concert_date_id = $1 AND status = 'HELD'`, [date]);
          await sql(own.db.url, `UPDATE reservations SET held_until = now() - interval '1 second' WHERE concert_date_id = $1 AND status = 'HELD'`, [
            date,
          ]);
        }
        await expectSeatInvariants(own.db.url);
        expect(deadlocked).toBe(0);
      } finally {
        await Promise.all(own.servers.map((s) => s.close()));
      }
      // Not even one deadlock that a retry hid (the service retries them, so no answer shows those):
      // once the deployment's sessions have all ended, PostgreSQL has counted every deadlock they met.
      await expect
        .poll(
          () =>
            sql<{ n: number }>(
              own.db.url,
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
            ),
          { timeout: 20_000 },
        )
        .toEqual([{ n: 0 }]);
      const [{ n }] = await sql<{ n: number }>(own.db.url, `SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = current_database()`);
      await own.db.drop();
      expect(n).toBe(0);
    });
  });

  /** `k` distinct seat numbers from 1..n, in random order. */
  function pick(n: number, k: number): number[] {
    const all = Array.from({ length: n }, (_, i) => i + 1);
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [all[i], all[j]] = [all[j], all[i]];
    }
    return all.slice(0, k);
  }
});
