// Tickets and the door (rule 22): one ticket per seat of a paid reservation,
// codes that cannot be guessed from one another, Query.tickets newest first,
// checkIn once (ALREADY_CHECKED_IN names the first time), void or unknown codes NOT_FOUND.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { codeOf, gql, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { OPEN_QUEUE, PAY, RESERVE, expectLedgersMatchBalances, enterAs, expectSeatInvariants, newShopper, type Shopper } from "../support/booking";

const CHECK_IN = `mutation($c:String!){ checkIn(code:$c){ id reservationId seatNumber grade code checkedInAt } }`;
const TICKETS = `{ tickets { id reservationId seatNumber grade code checkedInAt } }`;
const RESERVATION_TICKETS = `{ reservations { id status tickets { seatNumber code } } }`;
const redis = Boolean(process.env.REDIS_URL);
let deployment: Awaited<ReturnType<typeof startDeployment>>;
let admin: TestUser;
const url = (i: number) => deployment.servers[i % deployment.servers.length].url;

beforeAll(async () => {
  deployment = await startDeployment({ instances: redis ? 2 : 1, redis, settings: OPEN_QUEUE });
  admin = await newAdmin(deployment.server);
});
afterEach(async () => {
  await expectLedgersMatchBalances(deployment.db.url);
  await expectSeatInvariants(deployment.db.url);
});
afterAll(() => deployment.close());

async function buy(user: Shopper, date: string, seats: number[]): Promise<string> {
  const held = await gql(url(0), RESERVE, { d: date, n: seats }, user.q);
  if (held.errors) throw new Error(JSON.stringify(held.errors));
  const paid = await gql(url(1), PAY, { r: held.data.reserveSeats.id }, user.q);
  if (paid.errors) throw new Error(JSON.stringify(paid.errors));
  return held.data.reserveSeats.id;
}

const bits = (hex: string) => [...Buffer.from(hex, "hex")].flatMap((b) => Array.from({ length: 8 }, (_, i) => (b >> i) & 1));

describe("tickets", () => {
  it("issues one ticket per seat at the sale, none before, and lists them newest first", async () => {
    const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 10, price: 500 }] });
    const user = await newShopper(url(0), concert.id, 10_000);
    const held = (await gql(url(0), RESERVE, { d: concert.dates[0].id, n: [3, 4] }, user.q)).data.reserveSeats;
    expect((await gql(url(0), RESERVATION_TICKETS, {}, user.headers)).data.reservations).toEqual([{ id: held.id, status: "HELD", tickets: [] }]);
    expect((await gql(url(0), PAY, { r: held.id }, user.q)).errors).toBeUndefined();
    const second = await buy(await enterAs(url(0), user, concert.id), concert.dates[0].id, [7]); // the paid token ended PAID
    const tickets = (await gql(url(1), TICKETS, {}, user.headers)).data.tickets;
    expect(tickets.map((t: { reservationId: string; seatNumber: number }) => `${t.reservationId}:${t.seatNumber}`).sort()).toEqual(
      [`${held.id}:3`, `${held.id}:4`, `${second}:7`].sort(),
    );
    expect(tickets[0]).toMatchObject({ reservationId: second, seatNumber: 7, grade: "GENERAL", checkedInAt: null });
    const mine = (await gql(url(0), RESERVATION_TICKETS, {}, user.headers)).data.reservations;
    expect(mine.find((r: { id: string }) => r.id === held.id).tickets.map((t: { seatNumber: number }) => t.seatNumber)).toEqual([3, 4]);
    // Nobody else sees them.
    const other = await newShopper(url(0), concert.id);
    expect((await gql(url(0), TICKETS, {}, other.headers)).data.tickets).toEqual([]);
    expect(codeOf(await gql(url(0), TICKETS, {}))).toBe("UNAUTHENTICATED");
  });

  it("makes codes that cannot be guessed from one another", async () => {
    const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 40, price: 10 }] });
    const buyers = await Promise.all(Array.from({ length: 10 }, () => newShopper(url(0), concert.id, 1_000)));
    await Promise.all(buyers.map((b, i) => buy(b, concert.dates[0].id, [4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4])));
    const lists = await Promise.all(buyers.map((b) => gql(url(0), TICKETS, {}, b.headers)));
    const codes: string[] = lists.flatMap((l) => l.data.tickets.map((t: { code: string }) => t.code));
    expect(codes).toHaveLength(40);
    expect(new Set(codes).size).toBe(40);
    for (const code of codes) {
      // At least 128 random bits: 64 hex digits carrying two random UUIDs' 244 bits.
      expect(code).toMatch(/^[0-9a-f]{64}$/);
    }
    // Any two codes, even of one reservation issued in one statement, differ in
    // about half of their bits (expected 122 of 244 random ones, sd 7.8): nothing
    // is shared, counted up or derived from the seat or the buyer.
    for (let i = 0; i < codes.length; i++) {
      for (let j = i + 1; j < codes.length; j++) {
        const [a, b] = [bits(codes[i]), bits(codes[j])];
        const distance = a.reduce((n, bit, k) => n + (bit ^ b[k]), 0);
        expect(distance).toBeGreaterThan(80);
        expect(distance).toBeLessThan(170);
      }
    }
    // A code one digit away from a real one is nobody's.
    const near = codes[0].slice(0, -1) + (codes[0].endsWith("0") ? "1" : "0");
    expect(codeOf(await gql(url(0), CHECK_IN, { c: near }, admin.headers))).toBe("NOT_FOUND");
  });

  it("checks a ticket in once, names the first time on a second scan, and answers NOT_FOUND for an unknown code", async () => {
    const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 10, price: 500 }] });
    const user = await newShopper(url(0), concert.id, 10_000);
    const reservation = await buy(user, concert.dates[0].id, [2]);
    const [ticket] = (await gql(url(0), TICKETS, {}, user.headers)).data.tickets;
    expect(codeOf(await gql(url(0), CHECK_IN, { c: ticket.code }))).toBe("UNAUTHENTICATED");
    expect(codeOf(await gql(url(0), CHECK_IN, { c: "" }, admin.headers))).toBe("BAD_USER_INPUT");
    expect(codeOf(await gql(url(0), CHECK_IN, { c: "no-such-code" }, admin.headers))).toBe("NOT_FOUND");
    expect(codeOf(await gql(url(0), CHECK_IN, { c: "no-such-code" }, user.headers))).toBe("NOT_FOUND");
    expect(codeOf(await gql(url(0), CHECK_IN, { c: ticket.code }, user.headers))).toBe("FORBIDDEN");
    const scans = await Promise.all(Array.from({ length: 6 }, (_, i) => gql(url(i), CHECK_IN, { c: ticket.code }, admin.headers)));
    const admitted = scans.filter((s) => !s.errors);
    expect(admitted).toHaveLength(1);
    const first = admitted[0].data.checkIn;
    expect(first).toMatchObject({ id: ticket.id, reservationId: reservation, seatNumber: 2, code: ticket.code });
    const again = scans.filter((s) => s.errors);
    expect(again.map(codeOf)).toEqual(again.map(() => "ALREADY_CHECKED_IN"));
    for (const s of again) expect(s.errors![0].message).toContain(first.checkedInAt);
    expect((await gql(url(1), TICKETS, {}, user.headers)).data.tickets[0].checkedInAt).toBe(first.checkedInAt);
  });

  it("voids the tickets of a refunded reservation: the code answers NOT_FOUND and the lists drop it", async () => {
    const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 10, price: 500, startsInSeconds: 30 * 86_400 }] });
    const user = await newShopper(url(0), concert.id, 10_000);
    const reservation = await buy(user, concert.dates[0].id, [5, 6]);
    const codes = (await gql(url(0), TICKETS, {}, user.headers)).data.tickets.map((t: { code: string }) => t.code);
    const refund = await gql(
      url(1),
      `mutation($r:ID!){ refundReservation(reservationId:$r){ status tickets { id } } }`,
      { r: reservation },
      user.headers,
    );
    expect(refund.data.refundReservation).toEqual({ status: "REFUNDED", tickets: [] });
    expect((await gql(url(0), TICKETS, {}, user.headers)).data.tickets).toEqual([]);
    expect((await gql(url(0), RESERVATION_TICKETS, {}, user.headers)).data.reservations).toEqual([
      { id: reservation, status: "REFUNDED", tickets: [] },
    ]);
    for (const c of codes) expect(codeOf(await gql(url(0), CHECK_IN, { c }, admin.headers))).toBe("NOT_FOUND");
  });
});
