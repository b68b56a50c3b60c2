// Holding and cancelling seats over the API: all or none, the contract's
// errors in its order with nothing written, and seats free again after a cancel.
// On both queue stores: in the two-instance variant reads and cancels go to the
// other instance.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { queueStores } from "../support/stores";
import { startDeployment } from "../support/server";
import { bearer, codeOf, gql, signUp, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { rowCounts, sql } from "../support/sql";
import { CANCEL, OPEN_QUEUE, RESERVE, SEATS, STATUS, enterAs, expectSeatInvariants, newShopper } from "../support/booking";

const WRITES = ["reservations", "reservation_seats", "payments"] as const;
const MY_RESERVATIONS = `{ reservations { id status totalPrice seats { number } payment { status } } }`;
const POLICY = `mutation($c:ID!,$i:QueuePolicyInput!){ updateQueuePolicy(concertId:$c,input:$i){ maxActiveUsers } }`;
const LEAVE = `mutation($t:String!){ leaveQueue(token:$t){ status } }`;

/** Every reservation, payment and seat of the concert with its status: what a refused call must leave as it was. */
const stateOf = (dbUrl: string, concertId: string) =>
  sql(
    dbUrl,
    `SELECT 'reservation' AS what, r.id::text, r.status::text, r.held_until FROM reservations r WHERE r.concert_id = $1
     UNION ALL SELECT 'payment', p.id::text, p.status::text, p.paid_at FROM payments p JOIN reservations r ON r.id = p.reservation_id WHERE r.concert_id = $1
     UNION ALL SELECT 'seat', s.id::text, s.status::text || coalesce(':' || s.reservation_id, ''), s.held_until
       FROM seats s JOIN concert_dates d ON d.id = s.concert_date_id WHERE d.concert_id = $1
     ORDER BY 1, 2`,
    [concertId],
  );

describe.each(queueStores("reserve"))("holds and cancels ($name)", ({ instances, redis }) => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  let admin: TestUser;
  let url: string;
  /** The other instance (the same one in the one-instance variant). */
  let other: string;

  beforeAll(async () => {
    deployment = await startDeployment({ instances, redis, settings: { ...OPEN_QUEUE, MAX_SEATS_PER_RESERVATION: "4" } });
    url = deployment.server.url;
    other = deployment.servers[instances - 1].url;
    admin = await newAdmin(deployment.server);
  });
  afterEach(() => expectSeatInvariants(deployment.db.url));
  afterAll(() => deployment?.close());

  describe("reserveSeats", () => {
    it("holds the asked seats with a PENDING payment for the total, until now + HOLD_SECONDS", async () => {
      const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 10, price: 1500 }] });
      const date = concert.dates[0].id;
      const user = await newShopper(url, concert.id);
      const before = Date.now();
      const r = await gql(url, RESERVE, { d: date, n: [7, 2, 5] }, user.q);
      expect(r.errors).toBeUndefined();
      const res = r.data.reserveSeats;
      expect(res).toMatchObject({ userId: user.id, concertId: concert.id, concertDateId: date, totalPrice: 4500, status: "HELD" });
      expect(res.seats.map((s: { number: number }) => s.number)).toEqual([2, 5, 7]);
      expect(res.seats.every((s: { status: string; price: number }) => s.status === "HELD" && s.price === 1500)).toBe(true);
      expect(res.payment).toMatchObject({ reservationId: res.id, amount: 4500, status: "PENDING", paidAt: null });
      const heldFor = (Date.parse(res.heldUntil) - before) / 1000;
      expect(heldFor).toBeGreaterThan(295);
      expect(heldFor).toBeLessThanOrEqual(301);
      const seats = (await gql(other, SEATS, { d: date }, user.q)).data.seats;
      expect(seats.filter((s: { status: string }) => s.status === "HELD").map((s: { number: number }) => s.number)).toEqual([2, 5, 7]);
      const mine = (await gql(url, MY_RESERVATIONS, {}, user.headers)).data.reservations;
      expect(mine).toEqual([
        { id: res.id, status: "HELD", totalPrice: 4500, seats: [{ number: 2 }, { number: 5 }, { number: 7 }], payment: { status: "PENDING" } },
      ]);
    });

    it("holds none of the seats when one of them is taken", async () => {
      const concert = await newConcert(deployment.server, admin);
      const date = concert.dates[0].id;
      const [a, b] = [await newShopper(url, concert.id), await newShopper(url, concert.id)];
      expect((await gql(url, RESERVE, { d: date, n: [3] }, a.q)).errors).toBeUndefined();
      const before = await rowCounts(deployment.db.url, WRITES);
      const r = await gql(url, RESERVE, { d: date, n: [1, 2, 3] }, b.q);
      expect(codeOf(r)).toBe("SEAT_UNAVAILABLE");
      expect(await rowCounts(deployment.db.url, WRITES)).toEqual(before);
      const seats = (await gql(url, SEATS, { d: date }, b.q)).data.seats;
      expect(seats.filter((s: { status: string }) => s.status !== "AVAILABLE").map((s: { number: number }) => s.number)).toEqual([3]);
    });

    it("answers every bad request with the contract's code in its order, writing nothing", async () => {
      const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 10 }] });
      const date = concert.dates[0].id;
      const other = await newConcert(deployment.server, admin);
      const user = await newShopper(url, concert.id);
      const stranger = await newShopper(url, concert.id);
      const waiting = await signUp(url);
      const before = await rowCounts(deployment.db.url, WRITES);
      const ask = (n: number[], headers: Record<string, string>, d = date) => gql(url, RESERVE, { d, n }, headers).then(codeOf);
      expect(await ask([1], {})).toBe("UNAUTHENTICATED");
      for (const n of [[], [1, 2, 3, 4, 5], [1, 1], [0], [-2], [11]]) expect(await ask(n, user.q)).toBe("BAD_USER_INPUT");
      expect(await ask([1, 2, 3, 4, 5], {})).toBe("UNAUTHENTICATED");
      expect(await ask([1], user.q, "00000000-0000-4000-8000-000000000000")).toBe("NOT_FOUND");
      expect(await ask([1], user.q, "not-an-id")).toBe("NOT_FOUND");
      expect(await ask([1, 1], user.q, "not-an-id")).toBe("BAD_USER_INPUT");
      expect(await ask([1], user.headers)).toBe("QUEUE_TOKEN_REQUIRED");
      expect(await ask([1], bearer(user.token, "qt_nonsense"))).toBe("QUEUE_TOKEN_INVALID");
      expect(await ask([1], user.q, other.dates[0].id)).toBe("QUEUE_TOKEN_INVALID");
      expect(await ask([1], bearer(stranger.token, user.queueToken))).toBe("FORBIDDEN");
      expect(await ask([1], { ...waiting.headers, "x-queue-token": user.queueToken })).toBe("FORBIDDEN");
      expect(await rowCounts(deployment.db.url, WRITES)).toEqual(before);
    });

    it("allows one HELD reservation per user and concert (HOLD_LIMIT before SEAT_UNAVAILABLE)", async () => {
      const concert = await newConcert(deployment.server, admin, { dates: [{}, { startsInSeconds: 172_800 }] });
      const user = await newShopper(url, concert.id);
      expect((await gql(url, RESERVE, { d: concert.dates[0].id, n: [1] }, user.q)).errors).toBeUndefined();
      expect(codeOf(await gql(url, RESERVE, { d: concert.dates[1].id, n: [2] }, user.q))).toBe("HOLD_LIMIT");
      expect(codeOf(await gql(url, RESERVE, { d: concert.dates[0].id, n: [1] }, user.q))).toBe("HOLD_LIMIT");
    });

    it("answers every queue error before HOLD_LIMIT, in the contract's order, writing nothing", async () => {
      const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 10 }] });
      const date = concert.dates[0].id;
      const elsewhere = await newConcert(deployment.server, admin);
      // Room for two at a time, set before anyone enters (so no instance has the old policy cached).
      expect((await gql(url, POLICY, { c: concert.id, i: { maxActiveUsers: 2 } }, admin.headers)).data.updateQueuePolicy).toEqual({
        maxActiveUsers: 2,
      });
      const [holder, left] = [await newShopper(url, concert.id), await newShopper(other, concert.id)];
      const away = await enterAs(url, left, elsewhere.id);
      // Both hold, so every ask of theirs would be HOLD_LIMIT once past the queue checks.
      for (const [u, n] of [
        [holder, 1],
        [left, 2],
      ] as const)
        expect((await gql(url, RESERVE, { d: date, n: [n] }, u.q)).errors).toBeUndefined();
      // `left` leaves the line (its hold stays), a third user takes the place, and `left` enters again: WAITING.
      expect((await gql(other, LEAVE, { t: left.queueToken }, left.headers)).data.leaveQueue).toEqual({ status: "EXPIRED" });
      await newShopper(url, concert.id);
      const again = (await gql(other, `mutation($c:ID!){ enterQueue(concertId:$c){ token status } }`, { c: concert.id }, left.headers)).data
        .enterQueue;
      expect(again.status).toBe("WAITING");

      const before = await stateOf(deployment.db.url, concert.id);
      const counts = await rowCounts(deployment.db.url, WRITES);
      const ask = (headers: Record<string, string>, n = [5]) => gql(other, RESERVE, { d: date, n }, headers).then(codeOf);
      expect(await ask(left.headers)).toBe("QUEUE_TOKEN_REQUIRED");
      expect(await ask(bearer(left.token, "qt_nonsense"))).toBe("QUEUE_TOKEN_INVALID");
      expect(await ask(away.q)).toBe("QUEUE_TOKEN_INVALID");
      expect(await ask(bearer(left.token, holder.queueToken))).toBe("FORBIDDEN");
      expect(await ask(bearer(left.token, again.token))).toBe("QUEUE_NOT_ACTIVE");
      expect(await ask(left.q)).toBe("QUEUE_TOKEN_EXPIRED");
      // Past the queue checks: HOLD_LIMIT, also for a seat that is taken.
      expect(await ask(holder.q)).toBe("HOLD_LIMIT");
      expect(await ask(holder.q, [2])).toBe("HOLD_LIMIT");
      expect(await stateOf(deployment.db.url, concert.id)).toEqual(before);
      expect(await rowCounts(deployment.db.url, WRITES)).toEqual(counts);
    });

    it("gives one of many simultaneous holds by one user, and HOLD_LIMIT to the rest", async () => {
      const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 40 }] });
      const user = await newShopper(url, concert.id);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => gql(url, RESERVE, { d: concert.dates[0].id, n: [i + 1, i + 21] }, user.q)),
      );
      expect(results.filter((r) => !r.errors)).toHaveLength(1);
      expect(results.filter((r) => r.errors).map(codeOf)).toEqual(Array(19).fill("HOLD_LIMIT"));
    });
  });

  describe("seats", () => {
    it("needs an ACTIVE token for the date's concert, after NOT_FOUND", async () => {
      const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 3, price: 900 }] });
      const user = await newShopper(url, concert.id);
      const ask = (d: string, headers: Record<string, string>) => gql(url, SEATS, { d }, headers);
      expect(codeOf(await ask(concert.dates[0].id, {}))).toBe("UNAUTHENTICATED");
      expect(codeOf(await ask("nope", user.headers))).toBe("NOT_FOUND");
      expect(codeOf(await ask(concert.dates[0].id, user.headers))).toBe("QUEUE_TOKEN_REQUIRED");
      const seats = (await ask(concert.dates[0].id, user.q)).data.seats;
      expect(seats.map((s: { number: number; price: number; status: string }) => [s.number, s.price, s.status])).toEqual([
        [1, 900, "AVAILABLE"],
        [2, 900, "AVAILABLE"],
        [3, 900, "AVAILABLE"],
      ]);
    });
  });

  describe("cancelReservation", () => {
    it("releases the seats at once, cancels the payment and keeps the token ACTIVE; the seats can be held again", async () => {
      const concert = await newConcert(deployment.server, admin);
      const date = concert.dates[0].id;
      const [user, next] = [await newShopper(url, concert.id), await newShopper(url, concert.id)];
      const held = (await gql(url, RESERVE, { d: date, n: [4, 6] }, user.q)).data.reserveSeats;
      const r = await gql(url, CANCEL, { r: held.id }, user.headers);
      expect(r.data.cancelReservation).toMatchObject({ id: held.id, status: "CANCELLED", payment: { status: "CANCELLED" } });
      expect(r.data.cancelReservation.seats).toEqual([
        { number: 4, status: "AVAILABLE" },
        { number: 6, status: "AVAILABLE" },
      ]);
      expect((await gql(url, STATUS, { t: user.queueToken }, user.headers)).data.queueStatus.status).toBe("ACTIVE");
      expect((await gql(url, RESERVE, { d: date, n: [6] }, next.q)).errors).toBeUndefined();
      // The canceller may hold again: the cancelled reservation no longer counts.
      expect((await gql(url, RESERVE, { d: date, n: [4] }, user.q)).errors).toBeUndefined();
    });

    it("answers NOT_FOUND, FORBIDDEN and RESERVATION_NOT_HELD, changing nothing", async () => {
      const concert = await newConcert(deployment.server, admin);
      const [user, stranger] = [await newShopper(url, concert.id), await newShopper(url, concert.id)];
      const held = (await gql(url, RESERVE, { d: concert.dates[0].id, n: [1] }, user.q)).data.reserveSeats;
      const before = await stateOf(deployment.db.url, concert.id);
      const counts = await rowCounts(deployment.db.url, WRITES);
      expect(codeOf(await gql(other, CANCEL, { r: "00000000-0000-4000-8000-000000000000" }, user.headers))).toBe("NOT_FOUND");
      expect(codeOf(await gql(other, CANCEL, { r: "x" }, user.headers))).toBe("NOT_FOUND");
      expect(codeOf(await gql(other, CANCEL, { r: held.id }, stranger.headers))).toBe("FORBIDDEN");
      expect(await stateOf(deployment.db.url, concert.id)).toEqual(before);
      expect(await rowCounts(deployment.db.url, WRITES)).toEqual(counts);
      expect((await gql(url, CANCEL, { r: held.id }, user.headers)).errors).toBeUndefined();
      const cancelled = await stateOf(deployment.db.url, concert.id);
      expect(cancelled).not.toEqual(before);
      expect(codeOf(await gql(other, CANCEL, { r: held.id }, user.headers))).toBe("RESERVATION_NOT_HELD");
      expect(await stateOf(deployment.db.url, concert.id)).toEqual(cancelled);
      expect(await rowCounts(deployment.db.url, WRITES)).toEqual(counts);
    });
  });
});
