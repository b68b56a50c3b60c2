// The sales report (rule 24): what the seats and payments of a concert say at
// one moment, per grade, per date and for the concert. One SQL statement, so
// every figure comes from one snapshot even while sales and refunds go on.
import type { Pool } from "pg";
import type { Actor } from "../auth/access-tokens";
import { notFound } from "../errors/app-error";
import { assertAdmin } from "./access";
import { isUuid } from "./ids";

export interface GradeSalesView {
  grade: string;
  price: number;
  sold: number;
  held: number;
  available: number;
  revenue: number;
}

export interface DateSalesView extends Omit<GradeSalesView, "grade" | "price"> {
  concertDateId: string;
  startsAt: Date;
  grades: GradeSalesView[];
  refunded: number;
  checkedIn: number;
}

export interface SalesReportView {
  concertId: string;
  dates: DateSalesView[];
  sold: number;
  revenue: number;
  waiting: number;
  active: number;
}

interface Row {
  dateId: string;
  startsAt: Date;
  grade: string | null;
  price: number | null;
  sold: number;
  held: number;
  available: number;
  revenue: string;
  refunded: string;
  checkedIn: number;
}

/**
 * Seats by (date, grade, price) with their state now (a hold past its time
 * counts as available, as everywhere). Revenue is what each paid reservation
 * kept (its payment's amount, less the refunded amount), shared among its
 * seats by price, rounded down, the remainder on its lowest seat: so the
 * grades add up to the date exactly, and an unrefunded seat earns its price.
 */
const REPORT = `
WITH d AS (SELECT id, starts_at FROM concert_dates WHERE concert_id = $1),
seat_counts AS (
  SELECT s.concert_date_id AS date_id, s.grade, s.price, min(s.number) AS first_seat,
         count(*) FILTER (WHERE s.status = 'SOLD')::int AS sold,
         count(*) FILTER (WHERE s.status = 'HELD' AND NOT hold_is_over(s.held_until))::int AS held,
         count(*) FILTER (WHERE s.status = 'AVAILABLE' OR (s.status = 'HELD' AND hold_is_over(s.held_until)))::int AS available
    FROM seats s JOIN d ON d.id = s.concert_date_id
   GROUP BY 1, 2, 3
),
paid AS (
  SELECT r.concert_date_id AS date_id, r.id AS reservation_id, p.amount::bigint AS amount,
         (p.amount - coalesce(p.refunded_amount, 0))::bigint AS kept,
         coalesce(p.refunded_amount, 0)::bigint AS refunded
    FROM d JOIN reservations r ON r.concert_date_id = d.id
    JOIN payments p ON p.reservation_id = r.id AND p.status IN ('COMPLETED', 'REFUNDED')
),
shares AS (
  SELECT x.date_id, s.grade, s.price, x.kept * rs.price / x.amount AS base, x.kept,
         row_number() OVER (PARTITION BY x.reservation_id ORDER BY rs.seat_number) AS n,
         sum(x.kept * rs.price / x.amount) OVER (PARTITION BY x.reservation_id) AS base_sum
    FROM paid x JOIN reservation_seats rs ON rs.reservation_id = x.reservation_id JOIN seats s ON s.id = rs.seat_id
),
revenue AS (
  SELECT date_id, grade, price, sum(base + CASE WHEN n = 1 THEN kept - base_sum ELSE 0 END) AS revenue
    FROM shares GROUP BY 1, 2, 3
),
refunds AS (SELECT date_id, sum(refunded) AS refunded FROM paid GROUP BY 1),
checked AS (
  SELECT r.concert_date_id AS date_id, count(*)::int AS checked_in
    FROM d JOIN reservations r ON r.concert_date_id = d.id JOIN tickets t ON t.reservation_id = r.id
   WHERE t.checked_in_at IS NOT NULL GROUP BY 1
)
SELECT d.id AS "dateId", d.starts_at AS "startsAt", g.grade, g.price,
       coalesce(g.sold, 0) AS sold, coalesce(g.held, 0) AS held, coalesce(g.available, 0) AS available,
       coalesce(v.revenue, 0)::text AS revenue, coalesce(f.refunded, 0)::text AS refunded, coalesce(c.checked_in, 0) AS "checkedIn"
  FROM d
  LEFT JOIN seat_counts g ON g.date_id = d.id
  LEFT JOIN revenue v ON v.date_id = d.id AND v.grade = g.grade AND v.price = g.price
  LEFT JOIN refunds f ON f.date_id = d.id
  LEFT JOIN checked c ON c.date_id = d.id
 ORDER BY d.starts_at, d.id, g.first_seat`;

export class SalesReportService {
  constructor(
    private readonly deps: {
      pool: Pool;
      /** The line now, as queueStats counts it (the queue service; it checks the concert and the admin too). */
      line: (actor: Actor, concertId: string) => Promise<{ waiting: number; active: number }>;
    },
  ) {}

  /** NOT_FOUND (the concert), then FORBIDDEN (not an admin). */
  async salesReport(actor: Actor, concertId: string): Promise<SalesReportView> {
    const exists = isUuid(concertId) && (await this.deps.pool.query(`SELECT 1 FROM concerts WHERE id = $1`, [concertId])).rowCount === 1;
    if (!exists) throw notFound("concert");
    assertAdmin(actor);
    const [{ rows }, line] = await Promise.all([this.deps.pool.query<Row>(REPORT, [concertId]), this.deps.line(actor, concertId)]);
    const dates = new Map<string, DateSalesView>();
    for (const row of rows) {
      let date = dates.get(row.dateId);
      if (!date) {
        date = {
          concertDateId: row.dateId,
          startsAt: row.startsAt,
          grades: [],
          sold: 0,
          held: 0,
          available: 0,
          revenue: 0,
          refunded: Number(row.refunded),
          checkedIn: row.checkedIn,
        };
        dates.set(row.dateId, date);
      }
      if (row.grade === null || row.price === null) continue;
      const grade = { grade: row.grade, price: row.price, sold: row.sold, held: row.held, available: row.available, revenue: Number(row.revenue) };
      date.grades.push(grade);
      date.sold += grade.sold;
      date.held += grade.held;
      date.available += grade.available;
      date.revenue += grade.revenue;
    }
    const all = [...dates.values()];
    return {
      concertId,
      dates: all,
      sold: all.reduce((n, d) => n + d.sold, 0),
      revenue: all.reduce((n, d) => n + d.revenue, 0),
      waiting: line.waiting,
      active: line.active,
    };
  }
}
