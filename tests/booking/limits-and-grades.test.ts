// The ticket limit (contract rule 19) and seat grades (rule 20) on real
// PostgreSQL, across two instances when Redis is there: the database keeps a
// user's seats of one date within the concert's ticketLimitPerUser whatever
// the concurrency, and grades show in the seat map, the date's counts and the totals.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { codeOf, gql, signUp, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { sql } from "../support/sql";
import { OPEN_QUEUE, PAY, RESERVE, enterAs, expectSeatInvariants, newShopper } from "../support/booking";

const redis = Boolean(process.env.REDIS_URL);
let deployment: Awaited<ReturnType<typeof startDeployment>>;
let admin: TestUser;
const url = (i: number) => deployment.servers[i % deployment.servers.length].url;

const GRADES = `mutation($d:ID!,$g:[SeatGradeInput!]!){ setSeatGrades(concertDateId:$d, grades:$g){ id grades { name price totalSeats availableSeats } } }`;
const SEATS = `query($d:ID!){ seats(concertDateId:$d){ number grade price status } }`;
const CONCERT = `query($c:ID!){ concert(id:$c){ ticketLimitPerUser dates { id availableSeats grades { name price totalSeats availableSeats } } } }`;

beforeAll(async () => {
  deployment = await startDeployment({ instances: redis ? 2 : 1, redis, settings: { ...OPEN_QUEUE, DATABASE_POOL_SIZE: "20" } });
  admin = await newAdmin(deployment.server);
});
afterEach(() => expectSeatInvariants(deployment.db.url));
afterAll(() => deployment.close());

describe(`ticket limit (${redis ? "two instances" : "one instance"})`, () => {
  it("never lets one user pass the limit per date with 200 holds fired at once across dates and instances", async () => {
    const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 40 }, { seatCount: 40 }] });
    const limit = 4;
    let shopper = await newShopper(url(0), concert.id, 1_000_000);
    const codes: string[] = [];
    let paid = 0;
    for (let wave = 0; wave < 10; wave++) {
      const asks = Array.from({ length: 20 }, (_, i) => ({
        date: concert.dates[(wave + i) % 2].id,
        seats: Array.from({ length: 1 + (i % 3) }, (_, k) => 1 + (((wave * 20 + i) * 3 + k) % 40)),
      }));
      const q = shopper.q;
      const results = await Promise.all(asks.map((a, i) => gql(url(i), RESERVE, { d: a.date, n: a.seats }, q)));
      for (const r of results) if (r.errors) codes.push(codeOf(r)!);
      const won = results.filter((r) => !r.errors);
      expect(won.length).toBeLessThanOrEqual(1);
      for (const r of won) {
        const p = await gql(url(wave), PAY, { r: r.data.reserveSeats.id }, q);
        expect(p.errors).toBeUndefined();
        paid++;
        shopper = await enterAs(url(wave + 1), shopper, concert.id);
      }
    }
    const owned = await sql<{ date: string; n: number }>(
      deployment.db.url,
      `SELECT r.concert_date_id AS date, count(*)::int AS n FROM reservations r JOIN reservation_seats rs ON rs.reservation_id = r.id
        WHERE r.user_id = $1 AND (r.status = 'CONFIRMED' OR (r.status = 'HELD' AND r.held_until > now())) GROUP BY 1`,
      [shopper.id],
    );
    for (const o of owned) expect(o.n).toBeLessThanOrEqual(limit);
    expect(paid).toBeGreaterThan(1);
    expect(codes).toContain("TICKET_LIMIT");
    expect(new Set(codes)).toEqual(new Set(codes.filter((c) => ["HOLD_LIMIT", "TICKET_LIMIT", "SEAT_UNAVAILABLE"].includes(c))));
  });

  it("answers TICKET_LIMIT before SEAT_UNAVAILABLE, holding nothing, and follows the concert's own limit", async () => {
    const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 10 }] });
    const changed = await gql(
      url(1),
      `mutation($c:ID!){ updateConcert(id:$c, input:{ ticketLimitPerUser: 2 }){ ticketLimitPerUser } }`,
      { c: concert.id },
      admin.headers,
    );
    expect(changed.data.updateConcert.ticketLimitPerUser).toBe(2);
    const other = await newShopper(url(0), concert.id);
    expect((await gql(url(0), RESERVE, { d: concert.dates[0].id, n: [5] }, other.q)).errors).toBeUndefined();
    const user = await newShopper(url(1), concert.id);
    const r = await gql(url(1), RESERVE, { d: concert.dates[0].id, n: [4, 5, 6] }, user.q);
    expect(codeOf(r)).toBe("TICKET_LIMIT");
    const held = await sql(deployment.db.url, `SELECT 1 FROM reservations WHERE user_id = $1`, [user.id]);
    expect(held).toEqual([]);
    // With a seat HELD, the limit can no longer change.
    const refused = await gql(
      url(0),
      `mutation($c:ID!){ updateConcert(id:$c, input:{ ticketLimitPerUser: 3 }){ ticketLimitPerUser } }`,
      { c: concert.id },
      admin.headers,
    );
    expect(codeOf(refused)).toBe("BAD_USER_INPUT");
  });
});

describe(`seat grades (${redis ? "two instances" : "one instance"})`, () => {
  it("shows grades and prices in the seat map, the date's counts and the hold's total", async () => {
    const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 10, price: 1000 }] });
    const dateId = concert.dates[0].id;
    const set = await gql(
      url(1),
      GRADES,
      {
        d: dateId,
        g: [
          { name: "R", price: 3000, fromSeat: 3, toSeat: 6 },
          { name: "VIP", price: 5000, fromSeat: 1, toSeat: 2 },
        ],
      },
      admin.headers,
    );
    expect(set.errors).toBeUndefined();
    expect(set.data.setSeatGrades.grades).toEqual([
      { name: "VIP", price: 5000, totalSeats: 2, availableSeats: 2 },
      { name: "R", price: 3000, totalSeats: 4, availableSeats: 4 },
      { name: "GENERAL", price: 1000, totalSeats: 4, availableSeats: 4 },
    ]);
    const shopper = await newShopper(url(0), concert.id);
    // Both instances' seat maps (the fast path) show the new grades.
    for (const i of [0, 1]) {
      const seats = await gql(url(i), SEATS, { d: dateId }, shopper.q);
      expect(seats.data.seats.map((s: { grade: string; price: number }) => `${s.grade}:${s.price}`)).toEqual([
        "VIP:5000",
        "VIP:5000",
        "R:3000",
        "R:3000",
        "R:3000",
        "R:3000",
        "GENERAL:1000",
        "GENERAL:1000",
        "GENERAL:1000",
        "GENERAL:1000",
      ]);
    }
    const hold = await gql(url(1), RESERVE, { d: dateId, n: [1, 3, 7] }, shopper.q);
    expect(hold.errors).toBeUndefined();
    expect(hold.data.reserveSeats.totalPrice).toBe(9000);
    expect(hold.data.reserveSeats.payment.amount).toBe(9000);
    const recorded = await sql(deployment.db.url, `SELECT seat_number, grade, price FROM reservation_seats WHERE reservation_id = $1 ORDER BY 1`, [
      hold.data.reserveSeats.id,
    ]);
    expect(recorded).toEqual([
      { seat_number: 1, grade: "VIP", price: 5000 },
      { seat_number: 3, grade: "R", price: 3000 },
      { seat_number: 7, grade: "GENERAL", price: 1000 },
    ]);
    const counts = await gql(url(0), CONCERT, { c: concert.id });
    expect(counts.data.concert.dates[0].grades.map((g: { availableSeats: number }) => g.availableSeats)).toEqual([1, 3, 3]);
    // Grades can no longer change once a seat is held.
    const late = await gql(url(0), GRADES, { d: dateId, g: [{ name: "A", price: 500, fromSeat: 8, toSeat: 10 }] }, admin.headers);
    expect(codeOf(late)).toBe("BAD_USER_INPUT");
  });

  it("refuses bad ranges with BAD_USER_INPUT and changes nothing", async () => {
    const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 10, price: 1000 }] });
    const dateId = concert.dates[0].id;
    const bad = [
      [
        { name: "A", price: 100, fromSeat: 1, toSeat: 5 },
        { name: "B", price: 200, fromSeat: 5, toSeat: 8 },
      ],
      [{ name: "A", price: 100, fromSeat: 8, toSeat: 11 }],
      [{ name: "A", price: 100, fromSeat: 0, toSeat: 2 }],
      [{ name: "A", price: 100, fromSeat: 4, toSeat: 2 }],
      [{ name: "", price: 100, fromSeat: 1, toSeat: 2 }],
      [{ name: "X".repeat(21), price: 100, fromSeat: 1, toSeat: 2 }],
      [{ name: "A", price: 0, fromSeat: 1, toSeat: 2 }],
      [
        { name: "A", price: 100, fromSeat: 1, toSeat: 2 },
        { name: "A", price: 200, fromSeat: 3, toSeat: 4 },
      ],
      [{ name: "GENERAL", price: 5, fromSeat: 1, toSeat: 2 }],
    ];
    for (const g of bad) expect(codeOf(await gql(url(0), GRADES, { d: dateId, g }, admin.headers))).toBe("BAD_USER_INPUT");
    const user = await signUp(url(0));
    expect(codeOf(await gql(url(0), GRADES, { d: dateId, g: [{ name: "A", price: 100, fromSeat: 1, toSeat: 2 }] }, user.headers))).toBe("FORBIDDEN");
    const seats = await sql(deployment.db.url, `SELECT DISTINCT grade, price FROM seats WHERE concert_date_id = $1`, [dateId]);
    expect(seats).toEqual([{ grade: "GENERAL", price: 1000 }]);
  });
});
