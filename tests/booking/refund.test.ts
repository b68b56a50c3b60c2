// refundReservation (rule 21) over the API, on 2 instances with Redis: money
// back less the fee with a REFUND ledger entry, tickets void, seats on sale
// again (pushed, counted, the date no longer sold out), exactly once, and safe
// against a concurrent refund, check-in or hold of the freed seat.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { codeOf, gql, subscribe, wsClient, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { rowCounts, sql } from "../support/sql";
import {
  BALANCE,
  OPEN_QUEUE,
  PAY,
  RESERVE,
  SEATS,
  expectLedgersMatchBalances,
  expectSeatInvariants,
  newShopper,
  type Shopper,
} from "../support/booking";

export const REFUND = `mutation($r:ID!,$k:String){ refundReservation(reservationId:$r, idempotencyKey:$k){
  id status totalPrice seats { number status } tickets { id } payment { status amount refundedAmount refundedAt paidAt } } }`;
const CHECK_IN = `mutation($c:String!){ checkIn(code:$c){ id code checkedInAt } }`;
const TICKETS = `query($r:Int){ reservations(first:$r){ id tickets { id code seatNumber } } }`;
const DAY = 86_400;
const redis = Boolean(process.env.REDIS_URL);
let deployment: Awaited<ReturnType<typeof startDeployment>>;
let admin: TestUser;
const url = (i: number) => deployment.servers[i % deployment.servers.length].url;
const clients: { dispose(): void | Promise<void> }[] = [];

beforeAll(async () => {
  deployment = await startDeployment({ instances: redis ? 2 : 1, redis, settings: OPEN_QUEUE });
  admin = await newAdmin(deployment.server);
});
afterEach(async () => {
  await expectLedgersMatchBalances(deployment.db.url);
  await expectSeatInvariants(deployment.db.url);
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await deployment.close();
});

/** A user who bought `seats` of a new concert's only date, starting `startsIn` seconds from now. */
async function bought(options: { seats?: number[]; price?: number; startsIn?: number; seatCount?: number; balance?: number } = {}) {
  const { seats = [1, 2], price = 1001, startsIn = 10 * DAY, seatCount = 10, balance = 10_000 } = options;
  const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount, price, startsInSeconds: startsIn }] });
  const user = await newShopper(url(0), concert.id, balance);
  const reservation = await buy(user, concert.dates[0].id, seats);
  return { concert, date: concert.dates[0].id, user, reservation };
}

async function buy(user: Shopper, date: string, seats: number[]) {
  const held = await gql(url(0), RESERVE, { d: date, n: seats }, user.q);
  if (held.errors) throw new Error(JSON.stringify(held.errors));
  const paid = await gql(url(1), PAY, { r: held.data.reserveSeats.id }, user.q);
  if (paid.errors) throw new Error(JSON.stringify(paid.errors));
  return held.data.reserveSeats as { id: string; totalPrice: number };
}

async function codesOf(user: TestUser, reservationId: string): Promise<string[]> {
  const mine = (await gql(url(0), TICKETS, {}, user.headers)).data.reservations as { id: string; tickets: { code: string }[] }[];
  return mine.find((r) => r.id === reservationId)!.tickets.map((t) => t.code);
}

describe("refundReservation", () => {
  it("gives the whole total back while the date is more than REFUND_FREE_DAYS away, voids the tickets and puts the seats on sale again", async () => {
    // Two dates, so that the concert is not sold out (rule 6 would end the viewer's token) while the first is.
    const concert = await newConcert(deployment.server, admin, {
      dates: [{ seatCount: 3, price: 1001, startsInSeconds: 10 * DAY }, { startsInSeconds: 10 * DAY }],
    });
    const date = concert.dates[0].id;
    const user = await newShopper(url(0), concert.id, 10_000);
    const reservation = await buy(user, date, [1, 2]);
    const viewer = await newShopper(url(1), concert.id);
    const watcher = wsClient(deployment.servers[1 % deployment.servers.length].wsUrl, {
      authorization: `Bearer ${viewer.token}`,
      queueToken: viewer.queueToken,
    });
    clients.push(watcher);
    const pushes = subscribe(watcher, `subscription($d:ID!){ seatStatusChanged(concertDateId:$d){ number status } }`, { d: date });
    // The last seat's sale, seen by the watcher, proves it listens (however loaded the machine).
    const last = await newShopper(url(0), concert.id, 10_000);
    const lastSale = buy(last, date, [3]);
    const firstPush = await pushes.next();
    expect(firstPush.data.seatStatusChanged).toEqual({ number: 3, status: "HELD" });
    await lastSale;
    expect((await pushes.next()).data.seatStatusChanged).toEqual({ number: 3, status: "SOLD" });
    const soldOut = async () =>
      (await gql(url(1), `query($c:ID!){ concert(id:$c){ dates { id soldOut availableSeats } } }`, { c: concert.id })).data.concert.dates
        .filter((d: { id: string }) => d.id === date)
        .map(({ soldOut, availableSeats }: { soldOut: boolean; availableSeats: number }) => ({ soldOut, availableSeats }))[0];
    expect(await soldOut()).toEqual({ soldOut: true, availableSeats: 0 });
    expect(await codesOf(user, reservation.id)).toHaveLength(2);

    const r = await gql(url(1), REFUND, { r: reservation.id }, user.headers);
    expect(r.errors).toBeUndefined();
    expect(r.data.refundReservation).toMatchObject({
      id: reservation.id,
      status: "REFUNDED",
      seats: [
        { number: 1, status: "AVAILABLE" },
        { number: 2, status: "AVAILABLE" },
      ],
      tickets: [],
      payment: { status: "REFUNDED", amount: 2002, refundedAmount: 2002 },
    });
    expect(Date.parse(r.data.refundReservation.payment.refundedAt)).toBeGreaterThanOrEqual(Date.parse(r.data.refundReservation.payment.paidAt));
    expect((await gql(url(0), BALANCE, {}, user.headers)).data.balance).toBe(10_000);
    const ledger = (await gql(url(0), `{ ledger { kind amount balanceAfter } }`, {}, user.headers)).data.ledger;
    expect(ledger.slice(0, 2)).toEqual([
      { kind: "REFUND", amount: 2002, balanceAfter: 10_000 },
      { kind: "PAYMENT", amount: -2002, balanceAfter: 7998 },
    ]);
    expect(
      await sql(deployment.db.url, `SELECT count(*)::int AS n FROM tickets WHERE reservation_id = $1 AND voided_at IS NULL`, [reservation.id]),
    ).toEqual([{ n: 0 }]);
    expect(await soldOut()).toEqual({ soldOut: false, availableSeats: 2 });
    // Pushed to a watcher on the other instance, and in that instance's seat map.
    const seen = [(await pushes.next()).data.seatStatusChanged, (await pushes.next()).data.seatStatusChanged];
    expect(seen.map((s) => `${s.number}:${s.status}`).sort()).toEqual(["1:AVAILABLE", "2:AVAILABLE"]);
    const seats = (await gql(url(1), SEATS, { d: date }, viewer.q)).data.seats;
    expect(seats.map((s: { status: string }) => s.status)).toEqual(["AVAILABLE", "AVAILABLE", "SOLD"]);
  }, 120_000);

  it("keeps REFUND_FEE_PERCENT of the total, rounded down, within REFUND_FREE_DAYS of the date", async () => {
    const { user, reservation } = await bought({ seats: [1, 2, 3], price: 333, startsIn: 3 * DAY }); // total 999, fee 99
    const r = await gql(url(0), REFUND, { r: reservation.id }, user.headers);
    expect(r.data.refundReservation.payment).toMatchObject({ status: "REFUNDED", amount: 999, refundedAmount: 900 });
    expect((await gql(url(0), BALANCE, {}, user.headers)).data.balance).toBe(10_000 - 99);
    const sums = await sql(deployment.db.url, `SELECT sum(amount)::int AS s FROM ledger_entries WHERE user_id = $1`, [user.id]);
    expect(sums).toEqual([{ s: 10_000 - 99 }]);
  });

  it("answers the contract's errors in its order and changes nothing: closed before the date, not CONFIRMED, checked in, another user's", async () => {
    const tables = ["ledger_entries", "idempotency_keys"] as const;
    const late = await bought({ startsIn: 23 * 3600 }); // REFUND_CLOSES_HOURS = 24
    const mine = await bought();
    const other = await newShopper(url(0), mine.concert.id, 10_000);
    const held = (await gql(url(0), RESERVE, { d: mine.date, n: [5] }, other.q)).data.reserveSeats;
    const before = await rowCounts(deployment.db.url, tables);
    const refund = (r: string, headers: Record<string, string>, k?: string) => gql(url(1), REFUND, { r, k }, headers).then(codeOf);
    expect(await refund(mine.reservation.id, {})).toBe("UNAUTHENTICATED");
    expect(await refund(mine.reservation.id, mine.user.headers, "")).toBe("BAD_USER_INPUT");
    expect(await refund("nope", mine.user.headers)).toBe("NOT_FOUND");
    expect(await refund("00000000-0000-4000-8000-000000000000", mine.user.headers)).toBe("NOT_FOUND");
    expect(await refund(mine.reservation.id, other.headers)).toBe("FORBIDDEN");
    expect(await refund("nope", mine.user.headers, "k0")).toBe("NOT_FOUND");
    expect(await refund(mine.reservation.id, other.headers, "k0")).toBe("FORBIDDEN");
    expect(await refund(late.reservation.id, late.user.headers, "late")).toBe("NOT_REFUNDABLE");
    expect(await refund(held.id, other.headers)).toBe("NOT_REFUNDABLE");
    const [code] = await codesOf(mine.user, mine.reservation.id);
    expect((await gql(url(0), CHECK_IN, { c: code }, admin.headers)).errors).toBeUndefined();
    expect(await refund(mine.reservation.id, mine.user.headers, "k")).toBe("NOT_REFUNDABLE");
    expect(await rowCounts(deployment.db.url, tables)).toEqual(before);
    const states = await sql(deployment.db.url, `SELECT status::text FROM reservations WHERE id = ANY($1::uuid[]) ORDER BY status`, [
      [late.reservation.id, mine.reservation.id],
    ]);
    expect(states).toEqual([{ status: "CONFIRMED" }, { status: "CONFIRMED" }]);
  });

  it("returns the first result for the same key, and NOT_REFUNDABLE for any other second refund", async () => {
    const { user, reservation } = await bought();
    const first = await gql(url(0), REFUND, { r: reservation.id, k: "refund-1" }, user.headers);
    expect(first.errors).toBeUndefined();
    const again = await gql(url(1), REFUND, { r: reservation.id, k: "refund-1" }, user.headers);
    expect(again.data.refundReservation).toEqual(first.data.refundReservation);
    expect(codeOf(await gql(url(1), REFUND, { r: reservation.id, k: "refund-2" }, user.headers))).toBe("NOT_REFUNDABLE");
    expect(codeOf(await gql(url(1), REFUND, { r: reservation.id }, user.headers))).toBe("NOT_REFUNDABLE");
    expect(codeOf(await gql(url(0), PAY, { r: reservation.id, k: "refund-1" }, user.q))).toBe("BAD_USER_INPUT");
    expect(codeOf(await gql(url(1), REFUND, { r: "nope", k: "refund-1" }, user.headers))).toBe("BAD_USER_INPUT");
  });

  it("moves money once for 20 concurrent refunds of one reservation, keys or not", async () => {
    const { user, reservation } = await bought({ seats: [1, 2, 3] });
    const keys = [undefined, "same", "same", "other"];
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => gql(url(i), REFUND, { r: reservation.id, k: keys[i % 4] }, user.headers)));
    const ok = results.filter((r) => !r.errors);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(
      results
        .filter((r) => r.errors)
        .map(codeOf)
        .filter((c) => c !== "NOT_REFUNDABLE"),
    ).toEqual([]);
    expect(new Set(ok.map((r) => r.data.refundReservation.status))).toEqual(new Set(["REFUNDED"]));
    // Those that succeeded are the first and the replays of its key.
    expect((await gql(url(0), BALANCE, {}, user.headers)).data.balance).toBe(10_000);
    const entries = await sql(
      deployment.db.url,
      `SELECT kind::text, count(*)::int AS n FROM ledger_entries WHERE user_id = $1 GROUP BY kind ORDER BY kind`,
      [user.id],
    );
    expect(entries).toEqual([
      { kind: "CHARGE", n: 1 },
      { kind: "PAYMENT", n: 1 },
      { kind: "REFUND", n: 1 },
    ]);
  });

  it("lets exactly one of a refund and a check-in of its ticket win, many times over", async () => {
    const rounds = await Promise.all(Array.from({ length: 8 }, () => bought({ seats: [1] })));
    const outcomes = await Promise.all(
      rounds.map(async ({ user, reservation }, i) => {
        const [code] = await codesOf(user, reservation.id);
        const [refund, checkIn] = await Promise.all([
          gql(url(i), REFUND, { r: reservation.id }, user.headers),
          gql(url(i + 1), CHECK_IN, { c: code }, admin.headers),
        ]);
        return { refund: codeOf(refund) ?? "ok", checkIn: codeOf(checkIn) ?? "ok", reservation: reservation.id };
      }),
    );
    for (const o of outcomes) {
      expect([o, [o.refund, o.checkIn].sort()]).toEqual([o, o.refund === "ok" ? ["NOT_FOUND", "ok"] : ["NOT_REFUNDABLE", "ok"]]);
      const [row] = await sql<{ status: string; voided: number; checked: number }>(
        deployment.db.url,
        `SELECT r.status::text, count(*) FILTER (WHERE t.voided_at IS NOT NULL)::int AS voided, count(*) FILTER (WHERE t.checked_in_at IS NOT NULL)::int AS checked
           FROM reservations r JOIN tickets t ON t.reservation_id = r.id WHERE r.id = $1 GROUP BY r.status`,
        [o.reservation],
      );
      expect(row).toEqual(o.refund === "ok" ? { status: "REFUNDED", voided: 1, checked: 0 } : { status: "CONFIRMED", voided: 0, checked: 1 });
    }
  }, 120_000);

  it("sells a freed seat at most once when a refund races holds of it", async () => {
    // Seat 2 stays on sale, so that the concert is not sold out and the hunters can enter the queue.
    const rounds = await Promise.all(Array.from({ length: 6 }, () => bought({ seats: [1], seatCount: 2 })));
    await Promise.all(
      rounds.map(async ({ concert, date, user, reservation }, i) => {
        const hunters = await Promise.all(Array.from({ length: 4 }, () => newShopper(url(i), concert.id, 10_000)));
        const [refund, ...holds] = await Promise.all([
          gql(url(i), REFUND, { r: reservation.id }, user.headers),
          ...hunters.map((h, j) => gql(url(i + j + 1), RESERVE, { d: date, n: [1] }, h.q)),
        ]);
        expect(refund.errors).toBeUndefined();
        const won = holds.filter((h) => !h.errors);
        expect(
          holds
            .filter((h) => h.errors)
            .map(codeOf)
            .filter((c) => c !== "SEAT_UNAVAILABLE"),
        ).toEqual([]);
        expect(won.length).toBeLessThanOrEqual(1);
        // Whoever holds it pays; then the seat is SOLD once, to that reservation.
        const paid = await Promise.all(won.map((h) => gql(url(i), PAY, { r: h.data.reserveSeats.id }, hunters[holds.indexOf(h)].q)));
        expect(paid.map(codeOf)).toEqual(won.map(() => undefined));
        const live = await sql(
          deployment.db.url,
          `SELECT r.status::text FROM reservations r WHERE r.concert_date_id = $1 AND r.status IN ('HELD', 'CONFIRMED')`,
          [date],
        );
        expect(live).toEqual(won.map(() => ({ status: "CONFIRMED" })));
      }),
    );
  }, 120_000);
});
