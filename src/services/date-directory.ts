// Which concert a date belongs to and how many seats it has. Both are fixed
// once the date exists, so each instance remembers them (a bounded map) and the
// hot paths — every hold, every seat-map read — skip that query.
import type { Pool } from "pg";
import { notFound } from "../errors/app-error";
import { isUuid } from "./ids";

export interface DateFacts {
  id: string;
  concertId: string;
  totalSeats: number;
}

export class DateDirectory {
  private readonly known = new Map<string, DateFacts>();

  constructor(
    private readonly pool: Pool,
    private readonly maxEntries = 10_000,
  ) {}

  /** The date if this instance has read it already (no query). */
  peek(id: string): DateFacts | undefined {
    return this.known.get(id);
  }

  /** The date, or NOT_FOUND (a malformed ID names nothing either). Unknown IDs are not remembered. */
  async get(id: string): Promise<DateFacts> {
    const hit = this.known.get(id);
    if (hit) return hit;
    const { rows } = isUuid(id)
      ? await this.pool.query<DateFacts>(`SELECT id, concert_id AS "concertId", total_seats AS "totalSeats" FROM concert_dates WHERE id = $1`, [id])
      : { rows: [] as DateFacts[] };
    if (!rows[0]) throw notFound("concert date");
    // Oldest first out: a Map iterates in insertion order.
    if (this.known.size >= this.maxEntries) this.known.delete(this.known.keys().next().value as string);
    this.known.set(id, rows[0]);
    return rows[0];
  }
}
