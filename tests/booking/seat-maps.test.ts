// The seat map each instance keeps in memory (src/services/seat-maps.ts) and the
// executor-free answer to `seats` (src/graphql/fast-reads.plugin.ts): every
// instance's map follows the writes of every instance by their events alone, a
// change no event told of shows once the map is older than SEAT_MAP_MAX_AGE_MS,
// and the fast answer is the executor's answer, errors included.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { queueStores } from "../support/stores";
import { startDeployment } from "../support/server";
import { bearer, gql, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { sql } from "../support/sql";
import { CANCEL, OPEN_QUEUE, PAY, RESERVE, expectSeatInvariants, newShopper, type Shopper } from "../support/booking";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Deployment = Awaited<ReturnType<typeof startDeployment>>;

describe.each(queueStores("seat-maps"))("seat maps ($name)", ({ instances, redis }) => {
  // Maps never read again on their own: only the seat events can keep them right.
  let events: Deployment;
  // Maps read again after 300 ms.
  let aged: Deployment;
  let admin: TestUser;
  let agedAdmin: TestUser;

  beforeAll(async () => {
    [events, aged] = await Promise.all([
      startDeployment({ instances, redis, settings: { ...OPEN_QUEUE, HOLD_SECONDS: "2", SEAT_MAP_MAX_AGE_MS: "3600000" } }),
      startDeployment({ redis, settings: { ...OPEN_QUEUE, SEAT_MAP_MAX_AGE_MS: "300" } }),
    ]);
    [admin, agedAdmin] = await Promise.all([newAdmin(events.server), newAdmin(aged.server)]);
  });
  afterAll(async () => {
    await Promise.all([events?.close(), aged?.close()]);
  });

  const url = (d: Deployment, i: number) => d.servers[i % d.servers.length].url;

  /** "number:status" of every seat, as the database says a reader should see it now. */
  async function truth(dbUrl: string, dateId: string): Promise<string[]> {
    const rows = await sql<{ s: string }>(
      dbUrl,
      `SELECT number || ':' || CASE WHEN status = 'HELD' AND held_until <= now() THEN 'AVAILABLE' ELSE status::text END AS s
         FROM seats WHERE concert_date_id = $1 ORDER BY number`,
      [dateId],
    );
    return rows.map((r) => r.s);
  }

  async function mapOf(d: Deployment, i: number, dateId: string, viewer: Shopper): Promise<string[]> {
    const r = await gql(url(d, i), `query($d:ID!){ seats(concertDateId:$d){ number status } }`, { d: dateId }, viewer.q);
    expect(r.errors).toBeUndefined();
    return r.data.seats.map((s: { number: number; status: string }) => `${s.number}:${s.status}`);
  }

  /** Polls every instance's map until it equals the database, for at most `ms`. */
  async function expectMapsToMatch(d: Deployment, dateId: string, viewers: Shopper[], ms = 5_000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      const want = await truth(d.db.url, dateId);
      const maps = await Promise.all(d.servers.map((_, i) => mapOf(d, i, dateId, viewers[i])));
      if (maps.every((m) => JSON.stringify(m) === JSON.stringify(want))) return;
      if (Date.now() > deadline) {
        for (const m of maps) expect(m).toEqual(want);
        return;
      }
      await sleep(50);
    }
  }

  describe("the seat map of each instance", () => {
    it("follows holds, cancels, sales and expiries made at once on every instance, by their events alone", async () => {
      const concert = await newConcert(events.server, admin, { dates: [{ seatCount: 30, price: 100 }] });
      const date = concert.dates[0].id;
      const viewers = await Promise.all(events.servers.map((_, i) => newShopper(url(events, i), concert.id)));
      const shoppers = await Promise.all(Array.from({ length: 16 }, (_, i) => newShopper(url(events, i), concert.id, 1_000)));
      await expectMapsToMatch(events, date, viewers); // both maps are loaded now, and never read again

      // Overlapping asks fired at once from both instances: some win, some get SEAT_UNAVAILABLE.
      const holds = await Promise.all(
        shoppers.map((s, i) =>
          gql(url(events, i + 1), RESERVE, { d: date, n: [((i * 2) % 30) + 1, ((i * 2 + 1) % 30) + 1, ((i * 5) % 30) + 1] }, s.q),
        ),
      );
      const won = holds.flatMap((h, i) => (h.data ? [{ shopper: shoppers[i], id: h.data.reserveSeats.id as string, i }] : []));
      expect(won.length).toBeGreaterThan(1);
      await expectMapsToMatch(events, date, viewers);

      // Then, at once again: a third cancel, a third pay, the rest run out.
      await Promise.all(
        won.map(({ shopper, id, i }) =>
          i % 3 === 0 ? gql(url(events, i), CANCEL, { r: id }, shopper.headers) : i % 3 === 1 ? gql(url(events, i), PAY, { r: id }, shopper.q) : null,
        ),
      );
      await expectMapsToMatch(events, date, viewers);
      // The holds left run out (HOLD_SECONDS 2) and the sweeper ends them: wait for that, with a generous deadline.
      await expect
        .poll(() => sql(events.db.url, `SELECT count(*)::int AS n FROM reservations WHERE concert_date_id = $1 AND status = 'HELD'`, [date]), {
          timeout: 15_000,
          interval: 100,
        })
        .toEqual([{ n: 0 }]);
      await expectMapsToMatch(events, date, viewers);
      const statuses = new Set((await truth(events.db.url, date)).map((s) => s.split(":")[1]));
      expect(statuses).toEqual(new Set(["AVAILABLE", "SOLD"]));
      await expectSeatInvariants(events.db.url);
    });

    it("shows a change that no event told of once the map is older than SEAT_MAP_MAX_AGE_MS", async () => {
      const concert = await newConcert(aged.server, agedAdmin, { dates: [{ seatCount: 5, price: 100 }] });
      const date = concert.dates[0].id;
      const user = await newShopper(aged.server.url, concert.id);
      const held = (await gql(aged.server.url, RESERVE, { d: date, n: [3] }, user.q)).data.reserveSeats;
      expect(await mapOf(aged, 0, date, user)).toContain("3:HELD");
      // Behind the service's back: the hold is cancelled in the database, and nobody publishes it.
      await sql(
        aged.db.url,
        `WITH r AS (UPDATE reservations SET status = 'CANCELLED' WHERE id = $1),
              p AS (UPDATE payments SET status = 'CANCELLED' WHERE reservation_id = $1)
         UPDATE seats SET status = 'AVAILABLE', held_until = NULL, reservation_id = NULL WHERE reservation_id = $1`,
        [held.id],
      );
      // Read again in the background once 300 ms have passed since the last read: a
      // reader sees it within the age limit and one read of the database.
      const deadline = Date.now() + 1_500;
      let map = await mapOf(aged, 0, date, user);
      while (!map.includes("3:AVAILABLE") && Date.now() < deadline) {
        await sleep(50);
        map = await mapOf(aged, 0, date, user);
      }
      expect(map).toContain("3:AVAILABLE");
    });
  });

  describe("seats answered without the executor", () => {
    it("gives what the executor gives, for every flat selection and for every error", async () => {
      const concert = await newConcert(events.server, admin, { dates: [{ seatCount: 12, price: 250 }] });
      const date = concert.dates[0].id;
      const [user, buyer] = await Promise.all([newShopper(url(events, 0), concert.id), newShopper(url(events, 0), concert.id, 1_000)]);
      const sold = (await gql(url(events, 0), RESERVE, { d: date, n: [2, 3] }, buyer.q)).data.reserveSeats;
      await gql(url(events, 0), PAY, { r: sold.id }, buyer.q);
      await gql(url(events, 0), RESERVE, { d: date, n: [7] }, user.q);

      const flat = `query($d:ID!){ s: seats(concertDateId:$d){ __typename id n: number number price status concertDateId } }`;
      // A fragment is not flat: the executor answers this one.
      const viaExecutor = `query($d:ID!){ s: seats(concertDateId:$d){ ...F } } fragment F on Seat { __typename id n: number number price status concertDateId }`;
      const [fast, slow] = await Promise.all([flat, viaExecutor].map((q) => gql(url(events, 0), q, { d: date }, user.q)));
      expect(fast.errors).toBeUndefined();
      expect(fast).toEqual(slow);
      expect(fast.data.s.map((s: { n: number; status: string }) => `${s.n}:${s.status}`)).toEqual([
        "1:AVAILABLE",
        "2:SOLD",
        "3:SOLD",
        "4:AVAILABLE",
        "5:AVAILABLE",
        "6:AVAILABLE",
        "7:HELD",
        "8:AVAILABLE",
        "9:AVAILABLE",
        "10:AVAILABLE",
        "11:AVAILABLE",
        "12:AVAILABLE",
      ]);
      expect(fast.data.s[0]).toEqual({
        __typename: "Seat",
        id: expect.any(String),
        n: 1,
        number: 1,
        price: 250,
        status: "AVAILABLE",
        concertDateId: date,
      });
      const literal = await gql(url(events, 0), `{ seats(concertDateId:"${date}"){ number status } }`, {}, user.q);
      expect(literal.data.seats).toHaveLength(12);

      const errorsOf = async (variables: Record<string, unknown>, headers: Record<string, string>) => {
        const [a, b] = await Promise.all([flat, viaExecutor].map((q) => gql(url(events, 0), q, variables, headers)));
        expect(a).toEqual(b);
        return a.errors?.map((e: { extensions?: { code?: string } }) => e.extensions?.code);
      };
      expect(await errorsOf({ d: date }, {})).toEqual(["UNAUTHENTICATED"]);
      expect(await errorsOf({ d: date }, { authorization: "Bearer forged" })).toEqual(["UNAUTHENTICATED"]);
      expect(await errorsOf({ d: randomUUID() }, user.q)).toEqual(["NOT_FOUND"]);
      expect(await errorsOf({ d: "not-an-id" }, user.q)).toEqual(["NOT_FOUND"]);
      expect(await errorsOf({ d: date }, user.headers)).toEqual(["QUEUE_TOKEN_REQUIRED"]);
      expect(await errorsOf({ d: date }, bearer(user.token, "unknown-token"))).toEqual(["QUEUE_TOKEN_INVALID"]);
      expect(await errorsOf({}, user.q)).toHaveLength(1);
      expect(await errorsOf({ d: 12 }, user.q)).toEqual(await errorsOf({ d: "12" }, user.q));

      // More than one root field: the executor, as before.
      const both = await gql(url(events, 0), `query($d:ID!){ seats(concertDateId:$d){ number } me { id } }`, { d: date }, user.q);
      expect(both.errors).toBeUndefined();
      expect(both.data).toMatchObject({ me: { id: user.id } });
      expect(both.data.seats).toHaveLength(12);
    });
  });
});
