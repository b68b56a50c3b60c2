// Money under requests fired together, on both queue stores: one user's charges
// and pays at once (rule 11: the balance always equals the ledger, nothing is
// lost or moved twice), and a cancel racing a pay of the same reservation
// (exactly one wins, and nothing is half done).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { queueStores } from "../support/stores";
import { startDeployment } from "../support/server";
import { codeOf, gql, type GqlResult, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { sql } from "../support/sql";
import {
  BALANCE,
  CANCEL,
  CHARGE,
  OPEN_QUEUE,
  PAY,
  RESERVE,
  STATUS,
  enterAs,
  expectLedgersMatchBalances,
  expectSeatInvariants,
  newShopper,
  type Shopper,
} from "../support/booking";

describe.each(queueStores("money-races"))("money races ($name)", ({ instances, redis }) => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  let admin: TestUser;
  const url = (i: number) => deployment.servers[i % deployment.servers.length].url;

  beforeAll(async () => {
    deployment = await startDeployment({ instances, redis, settings: { ...OPEN_QUEUE, DATABASE_POOL_SIZE: "20" } });
    admin = await newAdmin(deployment.server);
  });
  afterEach(async () => {
    await expectLedgersMatchBalances(deployment.db.url);
    await expectSeatInvariants(deployment.db.url);
  });
  afterAll(() => deployment?.close());

  /** One user holding two seats (at `price` each) of each of `concerts` concerts: one hold per concert, each with its own token. */
  async function holdsOfOneUser(concerts: number, price: number, balance: number) {
    const first = await newConcert(deployment.server, admin, { dates: [{ seatCount: 4, price }] });
    const user = await newShopper(url(0), first.id, balance);
    const holds: { shopper: Shopper; reservation: { id: string; totalPrice: number } }[] = [];
    for (let i = 0; i < concerts; i++) {
      const concert = i === 0 ? first : await newConcert(deployment.server, admin, { dates: [{ seatCount: 4, price }] });
      const shopper = i === 0 ? user : await enterAs(url(i), user, concert.id);
      const r = await gql(url(i), RESERVE, { d: concert.dates[0].id, n: [1, 2] }, shopper.q);
      expect(r.errors).toBeUndefined();
      holds.push({ shopper, reservation: r.data.reserveSeats });
    }
    return { user, holds };
  }

  const ledgerOf = (userId: string) =>
    sql<{ kind: string; n: number; sum: number }>(
      deployment.db.url,
      `SELECT kind::text, count(*)::int AS n, sum(amount)::int AS sum FROM ledger_entries WHERE user_id = $1 GROUP BY kind ORDER BY kind`,
      [userId],
    );

  it("keeps the balance equal to the ledger under one user's charges and pays fired together (rule 11)", async () => {
    const { user, holds } = await holdsOfOneUser(6, 250, 3_000);
    const charges = Array.from({ length: 20 }, (_, i) => 10 + i);
    const results = await Promise.all([
      ...holds.map(({ shopper, reservation }, i) => gql(url(i + 1), PAY, { r: reservation.id }, shopper.q)),
      ...charges.map((a, i) => gql(url(i), CHARGE, { a }, user.headers)),
    ]);
    // Enough money for all of it: every call succeeds.
    expect(results.map((r) => codeOf(r) ?? "ok")).toEqual(results.map(() => "ok"));
    const paid = holds.reduce((s, h) => s + h.reservation.totalPrice, 0);
    const charged = charges.reduce((s, a) => s + a, 0);
    expect((await gql(url(0), BALANCE, {}, user.headers)).data.balance).toBe(3_000 + charged - paid);
    expect(await ledgerOf(user.id)).toEqual([
      { kind: "CHARGE", n: 21, sum: 3_000 + charged },
      { kind: "PAYMENT", n: 6, sum: -paid },
    ]);
    // Each charge answered the balance right after its own charge: 20 distinct running totals.
    const answers = results.slice(holds.length).map((r) => r.data.chargeBalance as number);
    expect(new Set(answers).size).toBe(20);
    const reservations = await sql(deployment.db.url, `SELECT status::text, count(*)::int AS n FROM reservations WHERE user_id = $1 GROUP BY 1`, [
      user.id,
    ]);
    expect(reservations).toEqual([{ status: "CONFIRMED", n: 6 }]);
  });

  it("never lets the balance go below 0 or lose a charge when the money runs short mid-race (rule 11)", async () => {
    // 1,000 + ten charges of 100 = 2,000: at most five of the six pays of 400 can go through.
    const { user, holds } = await holdsOfOneUser(6, 200, 1_000);
    const results = await Promise.all([
      ...holds.map(({ shopper, reservation }, i) => gql(url(i), PAY, { r: reservation.id }, shopper.q)),
      ...Array.from({ length: 10 }, (_, i) => gql(url(i + 1), CHARGE, { a: 100 }, user.headers)),
    ]);
    const pays = results.slice(0, holds.length);
    expect(results.slice(holds.length).map((r) => codeOf(r) ?? "ok")).toEqual(Array(10).fill("ok"));
    expect(
      pays
        .filter((r) => r.errors)
        .map(codeOf)
        .filter((c) => c !== "INSUFFICIENT_BALANCE"),
    ).toEqual([]);
    const won = pays.filter((r) => !r.errors).length;
    expect(won).toBeGreaterThanOrEqual(2); // 1,000 pays two whatever the order
    expect(won).toBeLessThanOrEqual(5);
    const balance = (await gql(url(0), BALANCE, {}, user.headers)).data.balance;
    expect(balance).toBe(2_000 - 400 * won);
    expect(balance).toBeGreaterThanOrEqual(0);
    expect(await ledgerOf(user.id)).toEqual([
      { kind: "CHARGE", n: 11, sum: 2_000 },
      { kind: "PAYMENT", n: won, sum: -400 * won },
    ]);
    // A refused pay changed nothing: its reservation is still HELD with its payment PENDING.
    for (const [i, r] of pays.entries()) {
      const [row] = await sql(
        deployment.db.url,
        `SELECT r.status::text AS r, p.status::text AS p FROM reservations r JOIN payments p ON p.reservation_id = r.id WHERE r.id = $1`,
        [holds[i].reservation.id],
      );
      expect(row).toEqual(r.errors ? { r: "HELD", p: "PENDING" } : { r: "CONFIRMED", p: "COMPLETED" });
    }
  });

  it("lets exactly one of a cancel and a pay of the same reservation, fired together, win, with nothing half done", async () => {
    const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 40, price: 300 }] });
    const date = concert.dates[0].id;
    const shoppers = await Promise.all(Array.from({ length: 16 }, (_, i) => newShopper(url(i), concert.id, 1_000)));
    const holds = await Promise.all(shoppers.map((s, i) => gql(url(i), RESERVE, { d: date, n: [2 * i + 1, 2 * i + 2] }, s.q)));
    const races = await Promise.all(
      shoppers.map(async (s, i) => {
        const id = holds[i].data.reserveSeats.id as string;
        const [pay, cancel] = await Promise.all([gql(url(i), PAY, { r: id }, s.q), gql(url(i + 1), CANCEL, { r: id }, s.headers)]);
        return { s, id, pay, cancel };
      }),
    );
    const outcome = (r: GqlResult) => codeOf(r) ?? "ok";
    for (const { s, id, pay, cancel } of races) {
      // Exactly one wins; the other is told the reservation is no longer held.
      expect([outcome(pay), outcome(cancel)].sort()).toEqual(["RESERVATION_NOT_HELD", "ok"]);
      const [row] = await sql<{ r: string; p: string; seats: string[]; balance: number; entries: number }>(
        deployment.db.url,
        `SELECT r.status::text AS r, p.status::text AS p, u.balance,
                (SELECT array_agg(s.status::text ORDER BY s.number) FROM reservation_seats rs JOIN seats s ON s.id = rs.seat_id WHERE rs.reservation_id = r.id) AS seats,
                (SELECT count(*)::int FROM ledger_entries l WHERE l.user_id = u.id AND l.kind = 'PAYMENT') AS entries
           FROM reservations r JOIN payments p ON p.reservation_id = r.id JOIN users u ON u.id = r.user_id WHERE r.id = $1`,
        [id],
      );
      const token = (await gql(url(0), STATUS, { t: s.queueToken }, s.headers)).data.queueStatus;
      if (outcome(pay) === "ok") {
        expect(row).toEqual({ r: "CONFIRMED", p: "COMPLETED", seats: ["SOLD", "SOLD"], balance: 400, entries: 1 });
        expect(token).toEqual({ status: "EXPIRED", expiredReason: "PAID" });
      } else {
        expect(row).toEqual({ r: "CANCELLED", p: "CANCELLED", seats: ["AVAILABLE", "AVAILABLE"], balance: 1_000, entries: 0 });
        expect(token).toEqual({ status: "ACTIVE", expiredReason: null });
      }
    }
  });
});
