// Holding and cancelling seats over the API: all or none, the contract's
// errors in its order with nothing written, and seats free again after a cancel.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { bearer, codeOf, gql, signUp, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { rowCounts } from "../support/sql";
import { CANCEL, OPEN_QUEUE, RESERVE, SEATS, STATUS, expectSeatInvariants, newShopper } from "../support/booking";

const WRITES = ["reservations", "reservation_seats", "payments"] as const;
const MY_RESERVATIONS = `{ reservations { id status totalPrice seats { number } payment { status } } }`;

let deployment: Awaited<ReturnType<typeof startDeployment>>;
let admin: TestUser;
let url: string;

beforeAll(async () => {
  deployment = await startDeployment({ settings: { ...OPEN_QUEUE, MAX_SEATS_PER_RESERVATION: "4" } });
  url = deployment.server.url;
  admin = await newAdmin(deployment.server);
});
afterEach(() => expectSeatInvariants(deployment.db.url));
afterAll(() => deployment.close());

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
    const seats = (await gql(url, SEATS, { d: date }, user.q)).data.seats;
    expect(seats.filter((s: { status: string }) => s.status === "HELD").map((s: { number: number }) => s.number)).toEqual([2, 5, 7]);
    const mine = (await gql(url, MY_RESERVATIONS, {}, user.headers)).data.reservations;
    expect(mine).toEqual([{ id: res.id, status: "HELD", totalPrice: 4500, seats: [{ number: 2 }, { number: 5 }, { number: 7 }], payment: { status: "PENDING" } }]);
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

  it("gives one of many simultaneous holds by one user, and HOLD_LIMIT to the rest", async () => {
    const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 40 }] });
    const user = await newShopper(url, concert.id);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => gql(url, RESERVE, { d: concert.dates[0].id, n: [i + 1, i + 21] }, user.q)));
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
    expect(r.data.cancelReservation.seats).toEqual([{ number: 4, status: "AVAILABLE" }, { number: 6, status: "AVAILABLE" }]);
    expect((await gql(url, STATUS, { t: user.queueToken }, user.headers)).data.queueStatus.status).toBe("ACTIVE");
    expect((await gql(url, RESERVE, { d: date, n: [6] }, next.q)).errors).toBeUndefined();
    // The canceller may hold again: the cancelled reservation no longer counts.
    expect((await gql(url, RESERVE, { d: date, n: [4] }, user.q)).errors).toBeUndefined();
  });

  it("answers NOT_FOUND, FORBIDDEN and RESERVATION_NOT_HELD, changing nothing", async () => {
    const concert = await newConcert(deployment.server, admin);
    const [user, other] = [await newShopper(url, concert.id), await newShopper(url, concert.id)];
    const held = (await gql(url, RESERVE, { d: concert.dates[0].id, n: [1] }, user.q)).data.reserveSeats;
    expect(codeOf(await gql(url, CANCEL, { r: "00000000-0000-4000-8000-000000000000" }, user.headers))).toBe("NOT_FOUND");
    expect(codeOf(await gql(url, CANCEL, { r: "x" }, user.headers))).toBe("NOT_FOUND");
    expect(codeOf(await gql(url, CANCEL, { r: held.id }, other.headers))).toBe("FORBIDDEN");
    expect((await gql(url, CANCEL, { r: held.id }, user.headers)).errors).toBeUndefined();
    expect(codeOf(await gql(url, CANCEL, { r: held.id }, user.headers))).toBe("RESERVATION_NOT_HELD");
  });
});
