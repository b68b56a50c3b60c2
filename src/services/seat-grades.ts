// Seat grades (contract rule 20): ranges of a date's seats get a grade and a
// price before the sale, and a date lists its grades with their counts.
import type { Pool } from "pg";
import type { Actor } from "../auth/access-tokens";
import { badInput } from "../errors/app-error";
import { inTransaction } from "../db/transaction";
import type { EventBus } from "../pubsub/event-bus";
import { publishSeatReload } from "../pubsub/seat-events";
import type { Logger } from "../observability/logger";
import { assertAdmin } from "./access";
import { afterCommit } from "./after-commit";
import { DateDirectory } from "./date-directory";

export interface SeatGradeRange {
  name: string;
  price: number;
  fromSeat: number;
  toSeat: number;
}

export interface SeatGradeView {
  name: string;
  price: number;
  totalSeats: number;
  availableSeats: number;
}

const MAX_NAME = 20;
const MAX_RANGES = 1_000;

type Deps = { pool: Pool; bus: EventBus; maxPrice: number; logger?: Logger };

export class SeatGradeService {
  private readonly dates: DateDirectory;

  constructor(private readonly deps: Deps) {
    this.dates = new DateDirectory(deps.pool);
  }

  /**
   * Gives each range its grade and price, all or nothing: BAD_USER_INPUT for a
   * name outside 1–20 characters, a price under 1 (or over the largest), a range
   * outside 1..totalSeats or overlapping another, one grade at two prices, or a
   * date with a seat HELD or SOLD. Seats in no range keep theirs. Returns the date's id.
   */
  async setSeatGrades(actor: Actor, concertDateId: string, ranges: SeatGradeRange[]): Promise<string> {
    const given = ranges.map((r) => ({ ...r, name: typeof r.name === "string" ? r.name.trim() : r.name }));
    if (given.length > MAX_RANGES) throw badInput(`At most ${MAX_RANGES} ranges at once.`, "grades");
    for (const r of given) {
      if (r.name.length < 1 || r.name.length > MAX_NAME) throw badInput(`A grade's name needs 1 to ${MAX_NAME} characters.`, "grades");
      if (!Number.isInteger(r.price) || r.price < 1 || r.price > this.deps.maxPrice) {
        throw badInput(`A grade's price must be from 1 to ${this.deps.maxPrice}.`, "grades");
      }
      if (!Number.isInteger(r.fromSeat) || !Number.isInteger(r.toSeat) || r.fromSeat < 1 || r.toSeat < r.fromSeat) {
        throw badInput(`Seats ${r.fromSeat} to ${r.toSeat} are not a range (from 1, first ≤ last).`, "grades");
      }
    }
    const byFrom = [...given].sort((a, b) => a.fromSeat - b.fromSeat);
    for (let i = 1; i < byFrom.length; i++) {
      if (byFrom[i].fromSeat <= byFrom[i - 1].toSeat) {
        throw badInput(`Seats ${byFrom[i - 1].fromSeat}–${byFrom[i - 1].toSeat} and ${byFrom[i].fromSeat}–${byFrom[i].toSeat} overlap.`, "grades");
      }
    }
    const prices = new Map<string, number>();
    for (const r of given) {
      if ((prices.get(r.name) ?? r.price) !== r.price) throw badInput(`Grade ${r.name} is given two prices.`, "grades");
      prices.set(r.name, r.price);
    }
    const date = await this.dates.get(concertDateId);
    const outside = given.find((r) => r.toSeat > date.totalSeats);
    if (outside) throw badInput(`This date has seats 1 to ${date.totalSeats}: ${outside.toSeat} is not one.`, "grades");
    assertAdmin(actor);

    await inTransaction(this.deps.pool, async (client) => {
      const busy = `SELECT EXISTS (SELECT 1 FROM seats WHERE concert_date_id = $1
                      AND (status = 'SOLD' OR (status = 'HELD' AND NOT hold_is_over(held_until)))) AS busy`;
      if ((await client.query<{ busy: boolean }>(busy, [date.id])).rows[0].busy) throw heldOrSold();
      // Locks the seats it changes in number order (the lock order of
      // src/services/seat-locks.ts), waiting for any hold in flight on them.
      await client.query(
        `WITH g AS (SELECT * FROM unnest($2::text[], $3::int[], $4::int[], $5::int[]) AS g(name, price, first, last)),
              locked AS MATERIALIZED (
                SELECT s.id, g.name, g.price FROM seats s JOIN g ON s.number BETWEEN g.first AND g.last
                 WHERE s.concert_date_id = $1 ORDER BY s.number FOR UPDATE OF s)
         UPDATE seats s SET grade = locked.name, price = locked.price FROM locked WHERE s.id = locked.id`,
        [date.id, given.map((r) => r.name), given.map((r) => r.price), given.map((r) => r.fromSeat), given.map((r) => r.toSeat)],
      );
      // A hold that committed while this waited: refuse, changing nothing.
      if ((await client.query<{ busy: boolean }>(busy, [date.id])).rows[0].busy) throw heldOrSold();
      const { rows } = await client.query<{ grade: string }>(
        `SELECT grade FROM seats WHERE concert_date_id = $1 GROUP BY grade HAVING count(DISTINCT price) > 1 LIMIT 1`,
        [date.id],
      );
      if (rows[0]) throw badInput(`Grade ${rows[0].grade} would have seats at two prices.`, "grades");
    });
    await afterCommit(this.deps.logger, () => publishSeatReload(this.deps.bus, date.id));
    return date.id;
  }

  /** Each date's grades, ordered by their lowest seat number, with counts as in rule 15 (for a DataLoader). */
  async gradesOfDates(dateIds: readonly string[]): Promise<SeatGradeView[][]> {
    const { rows } = await this.deps.pool.query<SeatGradeView & { dateId: string }>(
      `SELECT concert_date_id AS "dateId", grade AS name, min(price)::int AS price, count(*)::int AS "totalSeats",
              count(*) FILTER (WHERE status = 'AVAILABLE' OR (status = 'HELD' AND hold_is_over(held_until)))::int AS "availableSeats"
         FROM seats WHERE concert_date_id = ANY($1::uuid[])
        GROUP BY concert_date_id, grade ORDER BY concert_date_id, min(number)`,
      [dateIds],
    );
    const byDate = new Map<string, SeatGradeView[]>(dateIds.map((id) => [id, []]));
    for (const { dateId, ...grade } of rows) byDate.get(dateId)?.push(grade);
    return dateIds.map((id) => byDate.get(id) ?? []);
  }
}

const heldOrSold = () => badInput("Grades can only change while no seat of the date is held or sold.", "concertDateId");
