// Paying a hold over the API: everything or nothing, the contract's errors in
// its order with nothing changed, idempotent retries, one payment per reservation.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { queueStores } from "../support/stores";
import { startDeployment } from "../support/server";
import { bearer, codeOf, gql, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { rowCounts, sql } from "../support/sql";
import {
  BALANCE,
  CANCEL,
  OPEN_QUEUE,
  PAY,
  RESERVE,
  SEATS,
  STATUS,
  enterAs,
  expectLedgersMatchBalances,
  expectSeatInvariants,
  newShopper,
} from "../support/booking";

const WRITES = ["payments", "ledger_entries", "idempotency_keys"] as const;

describe.each(queueStores("pay"))("pay ($name)", ({ instances, redis }) => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  let admin: TestUser;
  const url = (i: number) => deployment.servers[i % deployment.servers.length].url;

  beforeAll(async () => {
    deployment = await startDeployment({ instances, redis, settings: OPEN_QUEUE });
    admin = await newAdmin(deployment.server);
  });
  afterEach(async () => {
    await expectLedgersMatchBalances(deployment.db.url);
    await expectSeatInvariants(deployment.db.url);
  });
  afterAll(() => deployment?.close());

  async function heldBy(balance: number, seats = [1, 2], price = 1000) {
    const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 10, price }] });
    const user = await newShopper(url(0), concert.id, balance);
    const r = await gql(url(0), RESERVE, { d: concert.dates[0].id, n: seats }, user.q);
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    return { concert, user, reservation: r.data.reserveSeats };
  }

  describe("pay", () => {
    it("debits the total, completes the payment, confirms the reservation, sells the seats, writes the ledger and ends the token PAID", async () => {
      const { concert, user, reservation } = await heldBy(5000);
      const r = await gql(url(1), PAY, { r: reservation.id }, user.q);
      expect(r.errors).toBeUndefined();
      expect(r.data.pay).toMatchObject({ id: reservation.payment.id, reservationId: reservation.id, amount: 2000, status: "COMPLETED" });
      expect(Date.parse(r.data.pay.paidAt)).toBeGreaterThan(Date.parse(r.data.pay.createdAt) - 1);
      expect((await gql(url(0), BALANCE, {}, user.headers)).data.balance).toBe(3000);
      const ledger = (await gql(url(0), `{ ledger { kind amount balanceAfter } }`, {}, user.headers)).data.ledger;
      expect(ledger[0]).toEqual({ kind: "PAYMENT", amount: -2000, balanceAfter: 3000 });
      const mine = (await gql(url(0), `{ reservations { status seats { status } payment { status } } payments { id } }`, {}, user.headers)).data;
      expect(mine.reservations).toEqual([{ status: "CONFIRMED", seats: [{ status: "SOLD" }, { status: "SOLD" }], payment: { status: "COMPLETED" } }]);
      expect(mine.payments).toEqual([{ id: reservation.payment.id }]);
      expect((await gql(url(1), STATUS, { t: user.queueToken }, user.headers)).data.queueStatus).toEqual({
        status: "EXPIRED",
        expiredReason: "PAID",
      });
      // Another user sees them SOLD.
      const viewer = await newShopper(url(0), concert.id);
      const seats = (await gql(url(0), SEATS, { d: concert.dates[0].id }, viewer.q)).data.seats;
      expect(seats.filter((s: { status: string }) => s.status === "SOLD").map((s: { number: number }) => s.number)).toEqual([1, 2]);
    });

    it("answers the contract's errors in its order, changing nothing", async () => {
      const { user, reservation } = await heldBy(1500);
      const { user: other, reservation: others } = await heldBy(5000);
      const before = await rowCounts(deployment.db.url, WRITES);
      const pay = (r: string, headers: Record<string, string>, k?: string) => gql(url(1), PAY, { r, k }, headers).then(codeOf);
      expect(await pay(reservation.id, {})).toBe("UNAUTHENTICATED");
      expect(await pay(reservation.id, user.q, "")).toBe("BAD_USER_INPUT");
      expect(await pay("nope", user.q)).toBe("NOT_FOUND");
      expect(await pay("00000000-0000-4000-8000-000000000000", user.q)).toBe("NOT_FOUND");
      expect(await pay(others.id, user.q)).toBe("FORBIDDEN");
      expect(await pay(others.id, user.headers)).toBe("FORBIDDEN");
      // With a key the key and the reservation are read together: the same order.
      expect(await pay("nope", user.q, "k0")).toBe("NOT_FOUND");
      expect(await pay("00000000-0000-4000-8000-000000000000", user.q, "k0")).toBe("NOT_FOUND");
      expect(await pay(others.id, user.q, "k0")).toBe("FORBIDDEN");
      expect(await pay(reservation.id, user.headers)).toBe("QUEUE_TOKEN_REQUIRED");
      expect(await pay(reservation.id, bearer(user.token, other.queueToken))).toBe("QUEUE_TOKEN_INVALID");
      expect(await pay(reservation.id, bearer(user.token, "qt_nonsense"))).toBe("QUEUE_TOKEN_INVALID");
      // The user's own ACTIVE token, of another concert: the queue lets the call through, and
      // ticket_pay refuses it as the token the hold was not placed with.
      const elsewhere = await enterAs(url(0), user, (await newConcert(deployment.server, admin, { dates: [{ seatCount: 1 }] })).id);
      expect(await pay(reservation.id, elsewhere.q)).toBe("QUEUE_TOKEN_INVALID");
      expect(await pay(reservation.id, elsewhere.q, "k1")).toBe("QUEUE_TOKEN_INVALID");
      // And a token the queue lets through leaves NOT_FOUND and FORBIDDEN to ticket_pay, in their order.
      expect(await pay("00000000-0000-4000-8000-000000000000", elsewhere.q, "k0")).toBe("NOT_FOUND");
      expect(await pay(others.id, elsewhere.q)).toBe("FORBIDDEN");
      expect(await pay(reservation.id, user.q, "k1")).toBe("INSUFFICIENT_BALANCE");
      expect(await rowCounts(deployment.db.url, WRITES)).toEqual(before);
      expect((await gql(url(0), BALANCE, {}, user.headers)).data.balance).toBe(1500);
      const held = await sql(deployment.db.url, `SELECT status::text FROM reservations WHERE id = $1`, [reservation.id]);
      expect(held).toEqual([{ status: "HELD" }]);
      // A failed call is not remembered: the same key works once there is money.
      await gql(url(0), `mutation { chargeBalance(amount: 500) }`, {}, user.headers);
      expect((await gql(url(0), PAY, { r: reservation.id, k: "k1" }, user.q)).data.pay.status).toBe("COMPLETED");
    });

    it("answers RESERVATION_NOT_HELD for a cancelled or already paid reservation, before any queue check", async () => {
      const { user, reservation } = await heldBy(10_000);
      await gql(url(0), CANCEL, { r: reservation.id }, user.headers);
      expect(codeOf(await gql(url(0), PAY, { r: reservation.id }, user.q))).toBe("RESERVATION_NOT_HELD");
      expect(codeOf(await gql(url(0), PAY, { r: reservation.id }, user.headers))).toBe("RESERVATION_NOT_HELD");
      const again = (await gql(url(0), RESERVE, { d: reservation.concertDateId, n: [3] }, user.q)).data.reserveSeats;
      expect((await gql(url(0), PAY, { r: again.id }, user.q)).errors).toBeUndefined();
      // Paid: never charged again, whatever the key (and the token is EXPIRED too).
      expect(codeOf(await gql(url(0), PAY, { r: again.id, k: "new" }, user.q))).toBe("RESERVATION_NOT_HELD");
      expect((await gql(url(0), BALANCE, {}, user.headers)).data.balance).toBe(9000);
    });

    it("returns the first payment for a repeated key, and refuses the key for another reservation", async () => {
      const { concert, user, reservation } = await heldBy(10_000);
      const first = await gql(url(0), PAY, { r: reservation.id, k: "pay-1" }, user.q);
      const again = await gql(url(1), PAY, { r: reservation.id, k: "pay-1" }, user.q);
      expect(again.data.pay).toEqual(first.data.pay);
      expect((await gql(url(1), PAY, { r: reservation.id, k: "pay-1" }, user.headers)).data.pay).toEqual(first.data.pay);
      const fresh = await enterAs(url(0), user, concert.id);
      const next = (await gql(url(0), RESERVE, { d: concert.dates[0].id, n: [5] }, fresh.q)).data.reserveSeats;
      expect(codeOf(await gql(url(0), PAY, { r: next.id, k: "pay-1" }, fresh.q))).toBe("BAD_USER_INPUT");
      // The key's answer comes before the reservation's: reused with a reservation that does not exist.
      expect(codeOf(await gql(url(0), PAY, { r: "nope", k: "pay-1" }, fresh.q))).toBe("BAD_USER_INPUT");
      expect(codeOf(await gql(url(0), `mutation { chargeBalance(amount: 5, idempotencyKey: "pay-1") }`, {}, user.headers))).toBe("BAD_USER_INPUT");
      expect((await gql(url(0), BALANCE, {}, user.headers)).data.balance).toBe(8000);
    });

    it("answers every one of many simultaneous pays with one key with the same payment", async () => {
      // The late calls race the first one's commit: the reservation is CONFIRMED by
      // the time they look at it, and the answer must still be the stored payment.
      const holds = await Promise.all(Array.from({ length: 12 }, () => heldBy(10_000, [1, 2])));
      const rounds = await Promise.all(
        holds.map(({ user, reservation }) =>
          Promise.all(Array.from({ length: 12 }, (_, i) => gql(url(i), PAY, { r: reservation.id, k: "one-key" }, user.q))),
        ),
      );
      rounds.forEach((results, j) => {
        expect(results.map((r) => codeOf(r) ?? "ok")).toEqual(results.map(() => "ok"));
        expect(new Set(results.map((r) => r.data.pay.id))).toEqual(new Set([holds[j].reservation.payment.id]));
      });
      const balances = await Promise.all(holds.map(({ user }) => gql(url(0), BALANCE, {}, user.headers)));
      expect(balances.map((b) => b.data.balance)).toEqual(holds.map(() => 8000));
    });

    it("makes one payment of 20 concurrent pays of one reservation, keys or not", async () => {
      const { user, reservation } = await heldBy(10_000, [1, 2, 3]);
      const keys = [undefined, "same", "same", "other"];
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => gql(url(i), PAY, { r: reservation.id, k: keys[i % 4] }, user.q)));
      const paid = results.filter((r) => !r.errors);
      expect(new Set(paid.map((r) => r.data.pay.id))).toEqual(new Set([reservation.payment.id]));
      expect(
        results
          .filter((r) => r.errors)
          .map(codeOf)
          .filter((c) => c !== "RESERVATION_NOT_HELD"),
      ).toEqual([]);
      expect((await gql(url(0), BALANCE, {}, user.headers)).data.balance).toBe(7000);
      const entries = await sql(deployment.db.url, `SELECT count(*)::int AS n FROM ledger_entries WHERE user_id = $1 AND kind = 'PAYMENT'`, [
        user.id,
      ]);
      expect(entries).toEqual([{ n: 1 }]);
    });
  });
});
