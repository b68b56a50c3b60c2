// salesReport (rule 24): per grade, per date and for the concert, every figure
// is what the tables say at one moment, also while sales and refunds go on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { codeOf, gql, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { sql } from "../support/sql";
import { OPEN_QUEUE, PAY, RESERVE, expectLedgersMatchBalances, expectSeatInvariants, newShopper } from "../support/booking";

const REPORT = `query($c:ID!){ salesReport(concertId:$c){ concertId sold revenue waiting active
  dates { concertDateId startsAt sold held available revenue refunded checkedIn grades { grade price sold held available revenue } } } }`;
const REFUND = `mutation($r:ID!){ refundReservation(reservationId:$r){ status } }`;
const DAY = 86_400;
const redis = Boolean(process.env.REDIS_URL);
let deployment: Awaited<ReturnType<typeof startDeployment>>;
let admin: TestUser;
const url = (i: number) => deployment.servers[i % deployment.servers.length].url;

beforeAll(async () => {
  deployment = await startDeployment({ instances: redis ? 2 : 1, redis, settings: OPEN_QUEUE });
  admin = await newAdmin(deployment.server);
});
afterAll(() => deployment.close());

interface GradeSales {
  grade: string;
  price: number;
  sold: number;
  held: number;
  available: number;
  revenue: number;
}
interface DateSales {
  concertDateId: string;
  sold: number;
  held: number;
  available: number;
  revenue: number;
  refunded: number;
  checkedIn: number;
  grades: GradeSales[];
}
interface Report {
  concertId: string;
  sold: number;
  revenue: number;
  waiting: number;
  active: number;
  dates: DateSales[];
}

/** The same figures, summed straight from the tables by other SQL. */
async function fromTables(concertId: string) {
  const grades = await sql<{ date: string; grade: string; price: number; sold: number; held: number; available: number }>(
    deployment.db.url,
    `SELECT s.concert_date_id AS date, s.grade, s.price,
            count(*) FILTER (WHERE s.status = 'SOLD')::int AS sold,
            count(*) FILTER (WHERE s.status = 'HELD' AND s.held_until > now())::int AS held,
            count(*) FILTER (WHERE s.status = 'AVAILABLE' OR (s.status = 'HELD' AND s.held_until <= now()))::int AS available
       FROM seats s JOIN concert_dates d ON d.id = s.concert_date_id WHERE d.concert_id = $1
      GROUP BY 1, 2, 3 ORDER BY 1, min(s.number)`,
    [concertId],
  );
  const money = await sql<{ date: string; revenue: number; refunded: number }>(
    deployment.db.url,
    `SELECT d.id AS date,
            coalesce(sum(p.amount) FILTER (WHERE p.status IN ('COMPLETED', 'REFUNDED')), 0)::int
              - coalesce(sum(p.refunded_amount), 0)::int AS revenue,
            coalesce(sum(p.refunded_amount), 0)::int AS refunded
       FROM concert_dates d LEFT JOIN reservations r ON r.concert_date_id = d.id LEFT JOIN payments p ON p.reservation_id = r.id
      WHERE d.concert_id = $1 GROUP BY d.id`,
    [concertId],
  );
  const checked = await sql<{ date: string; n: number }>(
    deployment.db.url,
    `SELECT r.concert_date_id AS date, count(*)::int AS n FROM tickets t JOIN reservations r ON r.id = t.reservation_id
      WHERE r.concert_id = $1 AND t.checked_in_at IS NOT NULL GROUP BY 1`,
    [concertId],
  );
  return { grades, money, checked };
}

/** What must hold in any one snapshot, whatever is going on. */
function expectConsistent(report: Report, seatsPerGrade: Map<string, number>, feeFreeDate: string) {
  let sold = 0;
  let revenue = 0;
  for (const date of report.dates) {
    expect(date.sold).toBe(date.grades.reduce((n, g) => n + g.sold, 0));
    expect(date.revenue).toBe(date.grades.reduce((n, g) => n + g.revenue, 0));
    for (const g of date.grades) {
      expect(g.sold + g.held + g.available).toBe(seatsPerGrade.get(`${date.concertDateId}:${g.grade}`));
      // No fee on this date: what a grade earned is exactly its seats sold now,
      // which a report mixing two moments would miss.
      if (date.concertDateId === feeFreeDate) expect(g.revenue).toBe(g.price * g.sold);
    }
    sold += date.sold;
    revenue += date.revenue;
  }
  expect([report.sold, report.revenue]).toEqual([sold, revenue]);
}

describe("salesReport", () => {
  it("answers UNAUTHENTICATED, NOT_FOUND, then FORBIDDEN", async () => {
    const concert = await newConcert(deployment.server, admin);
    const fan = await newShopper(url(0), concert.id);
    expect(codeOf(await gql(url(0), REPORT, { c: concert.id }))).toBe("UNAUTHENTICATED");
    expect(codeOf(await gql(url(0), REPORT, { c: "nope" }, fan.headers))).toBe("NOT_FOUND");
    expect(codeOf(await gql(url(0), REPORT, { c: "00000000-0000-4000-8000-000000000000" }, admin.headers))).toBe("NOT_FOUND");
    expect(codeOf(await gql(url(0), REPORT, { c: concert.id }, fan.headers))).toBe("FORBIDDEN");
  });

  it("equals the sums of the tables, at every moment of concurrent sales and refunds", async () => {
    const concert = await newConcert(deployment.server, admin, {
      dates: [
        { seatCount: 24, price: 1000, startsInSeconds: 30 * DAY },
        { seatCount: 24, price: 999, startsInSeconds: 3 * DAY },
      ],
    });
    const [free, feed] = concert.dates.map((d) => d.id);
    // Two grades per date (set in the table: no seat is held or sold yet).
    await sql(deployment.db.url, `UPDATE seats SET grade = 'VIP', price = price * 3 + 7 WHERE concert_date_id = ANY($1::uuid[]) AND number <= 8`, [
      [free, feed],
    ]);
    const seatsPerGrade = new Map<string, number>();
    for (const d of [free, feed]) {
      seatsPerGrade.set(`${d}:VIP`, 8);
      seatsPerGrade.set(`${d}:GENERAL`, 16);
    }
    const buyers = await Promise.all(Array.from({ length: 20 }, (_, i) => newShopper(url(i), concert.id, 20_000)));

    let running = true;
    const reports: Report[] = [];
    const poll = (async () => {
      for (let i = 0; running || reports.length < 5; i++) {
        const r = await gql(url(i), REPORT, { c: concert.id }, admin.headers);
        expect(r.errors).toBeUndefined();
        reports.push(r.data.salesReport);
      }
    })();
    const flows = buyers.map(async (b, i) => {
      const date = i % 2 === 0 ? free : feed;
      const seats = [Math.floor(i / 2) * 2 + 1, Math.floor(i / 2) * 2 + 2];
      const held = await gql(url(i), RESERVE, { d: date, n: i % 3 === 0 ? seats.slice(0, 1) : seats }, b.q);
      expect(held.errors).toBeUndefined();
      if (i % 5 === 4) return; // left HELD
      expect((await gql(url(i + 1), PAY, { r: held.data.reserveSeats.id }, b.q)).errors).toBeUndefined();
      if (i % 4 < 2) expect((await gql(url(i), REFUND, { r: held.data.reserveSeats.id }, b.headers)).errors).toBeUndefined();
    });
    await Promise.all(flows);
    running = false;
    await poll;
    for (const report of reports) expectConsistent(report, seatsPerGrade, free);
    // Some reports saw the sales going on, not only the end.
    expect(new Set(reports.map((r) => `${r.sold}/${r.revenue}`)).size).toBeGreaterThan(1);

    // Check two tickets in, then compare every figure with the tables.
    const tickets = await sql<{ code: string }>(
      deployment.db.url,
      `SELECT t.code FROM tickets t JOIN reservations r ON r.id = t.reservation_id WHERE r.concert_id = $1 AND t.voided_at IS NULL ORDER BY t.code LIMIT 2`,
      [concert.id],
    );
    expect(tickets).toHaveLength(2);
    for (const t of tickets)
      expect((await gql(url(0), `mutation($c:String!){ checkIn(code:$c){ id } }`, { c: t.code }, admin.headers)).errors).toBeUndefined();
    const report: Report = (await gql(url(1), REPORT, { c: concert.id }, admin.headers)).data.salesReport;
    const tables = await fromTables(concert.id);
    expect(report.dates.map((d) => d.concertDateId)).toEqual([feed, free]); // by start
    for (const date of report.dates) {
      expect(date.grades).toEqual(
        tables.grades
          .filter((g) => g.date === date.concertDateId)
          .map(({ grade, price, sold, held, available }) => ({
            grade,
            price,
            sold,
            held,
            available,
            revenue: expect.any(Number),
          })),
      );
      const money = tables.money.find((m) => m.date === date.concertDateId)!;
      expect({ revenue: date.revenue, refunded: date.refunded }).toEqual({ revenue: money.revenue, refunded: money.refunded });
      expect(date.checkedIn).toBe(tables.checked.find((c) => c.date === date.concertDateId)?.n ?? 0);
    }
    expect(report.dates.reduce((n, d) => n + d.checkedIn, 0)).toBe(2);
    expect(report.dates.find((d) => d.concertDateId === feed)!.refunded).toBeGreaterThan(0);
    expectConsistent(report, seatsPerGrade, free);
    const stats = (await gql(url(0), `query($c:ID!){ queueStats(concertId:$c){ waiting active } }`, { c: concert.id }, admin.headers)).data
      .queueStats;
    expect({ waiting: report.waiting, active: report.active }).toEqual(stats);
    await expectLedgersMatchBalances(deployment.db.url);
    await expectSeatInvariants(deployment.db.url);
  }, 120_000);
});
