// Every history list is newest first, past ten entries too (ids that sort as
// text put "9" before "21"), and paging with `after` walks the same order with
// nothing skipped or repeated.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { gql, signUp } from "../support/client";
import { newAdmin, type TestConcert, newConcert } from "../support/factories";
import { CANCEL, CHARGE, enterAs, OPEN_QUEUE, PAY, RESERVE, type Shopper } from "../support/booking";
import type { TestUser } from "../support/client";

const LEDGER = `query($f:Int,$a:ID){ ledger(first:$f, after:$a){ id kind amount balanceAfter createdAt } }`;
const PAYMENTS = `query($f:Int,$a:ID){ payments(first:$f, after:$a){ id reservationId amount paidAt } }`;
const RESERVATIONS = `query($f:Int,$a:ID){ reservations(first:$f, after:$a){ id status heldUntil } }`;

type Item = { id: string };

/** Every page of `query` of `size` items, following `after`, until a short page. */
async function pageThrough<T extends Item>(url: string, query: string, field: string, size: number, headers: Record<string, string>) {
  const all: T[] = [];
  for (let after: string | null = null, i = 0; ; i++) {
    if (i > 100) throw new Error("paging did not end");
    const r = await gql(url, query, { f: size, a: after }, headers);
    expect(r.errors).toBeUndefined();
    const page = r.data[field] as T[];
    all.push(...page);
    if (page.length < size) return all;
    after = page[page.length - 1].id;
  }
}

describe("history lists", () => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  let url: string;
  let concert: TestConcert;
  let fan: TestUser;
  const paid: string[] = [];
  const cancelled: string[] = [];

  beforeAll(async () => {
    deployment = await startDeployment({ settings: OPEN_QUEUE });
    url = deployment.server.url;
    const admin = await newAdmin(deployment.server);
    // Four dates: one seat paid per reservation, at most four seats per user and date.
    concert = await newConcert(deployment.server, admin, { dates: [0, 1, 2, 3].map(() => ({ seatCount: 30, price: 100 })) });
    const shopper = await enterAs(url, await signUp(url, "lists"), concert.id, 1_000);
    fan = shopper;
    // 20 more charges, one at a time, so their order is known.
    for (let i = 2; i <= 21; i++) {
      const r = await gql(url, CHARGE, { a: i }, fan.headers);
      expect(r.errors).toBeUndefined();
    }
    // 12 holds cancelled with one token (a cancel keeps it ACTIVE), then 12 paid (each pay ends its token).
    for (let i = 0; i < 12; i++) {
      const r = await gql(url, RESERVE, { d: concert.dates[0].id, n: [i + 1] }, shopper.q);
      expect(r.errors).toBeUndefined();
      expect((await gql(url, CANCEL, { r: r.data.reserveSeats.id }, shopper.q)).errors).toBeUndefined();
      cancelled.push(r.data.reserveSeats.id);
    }
    for (let i = 0; i < 12; i++) {
      const s: Shopper = await enterAs(url, fan, concert.id);
      const r = await gql(url, RESERVE, { d: concert.dates[i % 4].id, n: [20 + Math.floor(i / 4)] }, s.q);
      expect(r.errors).toBeUndefined();
      const p = await gql(url, PAY, { r: r.data.reserveSeats.id }, s.q);
      expect(p.errors).toBeUndefined();
      paid.push(r.data.reserveSeats.id);
    }
  });
  afterAll(() => deployment.close());

  it("answers the ledger newest first past ten entries, and pages through it in that order", async () => {
    const full = (await gql(url, LEDGER, { f: 200 }, fan.headers)).data.ledger as {
      id: string;
      kind: string;
      amount: number;
      balanceAfter: number;
    }[];
    expect(full).toHaveLength(33);
    const ids = full.map((e) => BigInt(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
    // Written in this order: charges of 1000, then 2..21, then 12 payments of 100.
    expect(full.map((e) => e.amount)).toEqual([...Array(12).fill(-100), ...Array.from({ length: 20 }, (_, i) => 21 - i), 1000]);
    const balance = (await gql(url, `{ balance }`, {}, fan.headers)).data.balance;
    expect(full[0].balanceAfter).toBe(balance);
    expect(balance).toBe(1000 + 230 - 1200);
    for (const size of [1, 5, 10, 11]) {
      expect((await pageThrough(url, LEDGER, "ledger", size, fan.headers)).map((e) => e.id)).toEqual(full.map((e) => e.id));
    }
  });

  it("answers payments newest first and pages through them", async () => {
    const full = (await gql(url, PAYMENTS, { f: 200 }, fan.headers)).data.payments as { id: string; reservationId: string }[];
    expect(full.map((p) => p.reservationId)).toEqual([...paid].reverse());
    for (const size of [1, 5, 11]) {
      expect((await pageThrough(url, PAYMENTS, "payments", size, fan.headers)).map((p) => p.id)).toEqual(full.map((p) => p.id));
    }
  });

  it("answers reservations newest first and pages through them", async () => {
    const full = (await gql(url, RESERVATIONS, { f: 200 }, fan.headers)).data.reservations as { id: string }[];
    expect(full.map((r) => r.id)).toEqual([...cancelled, ...paid].reverse());
    for (const size of [1, 5, 11]) {
      expect((await pageThrough(url, RESERVATIONS, "reservations", size, fan.headers)).map((r) => r.id)).toEqual(full.map((r) => r.id));
    }
  });
});
