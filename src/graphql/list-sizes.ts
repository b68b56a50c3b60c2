// How long each list of the schema is expected to be, for the document cost
// (complexity.ts): a date's seats by its seat count, concerts and their dates
// by the catalogue's size, pages by their size. The catalogue's two numbers
// are read by one small query at most once a second (a stale answer serves
// while the next is read); a date's seat count never changes once it exists.
import type { GraphQLField } from "graphql";
import type { Pool } from "pg";
import { DateDirectory } from "../services/date-directory";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "../services/paging";
import type { ListSizes } from "./complexity";

/** A list we know nothing about (e.g. a date's grades): a handful of items. */
export const DEFAULT_LIST_LENGTH = 10;
const CATALOGUE_MAX_AGE_MS = 1_000;

interface Catalogue {
  concerts: number;
  datesPerConcert: number;
}

export class CatalogueListSizes implements ListSizes {
  private catalogueVersion = 0;
  private catalogue: Catalogue | undefined;
  private readAt = 0;
  private reading: Promise<void> | undefined;
  private readonly dates: DateDirectory;

  constructor(
    private readonly pool: Pool,
    private readonly maxSeatsPerReservation: number,
  ) {
    this.dates = new DateDirectory(pool);
  }

  /** Asked before every cost (remembered or not), so a stale catalogue is read again in the background. */
  get version(): number {
    this.catalogueOr([]);
    return this.catalogueVersion;
  }

  length(parent: string, field: GraphQLField<unknown, unknown>, args: Record<string, unknown>, missing: Promise<unknown>[]) {
    switch (`${parent}.${field.name}`) {
      case "Query.concerts":
        return { length: this.catalogueOr(missing).concerts, readsArgs: false };
      case "Concert.dates":
      case "Query.availableDates":
        return { length: this.catalogueOr(missing).datesPerConcert, readsArgs: false };
      case "Query.seats":
        return { length: this.seatCount(args.concertDateId, missing), readsArgs: true };
      case "Reservation.seats":
        return { length: this.maxSeatsPerReservation, readsArgs: false };
    }
    if (field.args.some((a) => a.name === "first")) {
      // Past MAX_PAGE_SIZE the resolver answers a clearer BAD_USER_INPUT.
      const first = typeof args.first === "number" ? Math.min(Math.max(args.first, 0), MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
      return { length: first, readsArgs: true };
    }
    return { length: DEFAULT_LIST_LENGTH, readsArgs: false };
  }

  private seatCount(id: unknown, missing: Promise<unknown>[]): number {
    if (typeof id !== "string") return 0;
    const date = this.dates.peek(id);
    if (date) return date.totalSeats;
    // An unknown date costs nothing: the query answers NOT_FOUND.
    missing.push(this.dates.get(id).catch(() => undefined));
    return 0;
  }

  private catalogueOr(missing: Promise<unknown>[]): Catalogue {
    if (Date.now() - this.readAt > CATALOGUE_MAX_AGE_MS) {
      // A failed read (the database away) leaves the old numbers and is tried again next time.
      this.reading ??= this.readCatalogue()
        .catch(() => undefined)
        .finally(() => (this.reading = undefined));
      if (!this.catalogue) missing.push(this.reading);
    }
    return this.catalogue ?? { concerts: 0, datesPerConcert: 0 };
  }

  private async readCatalogue(): Promise<void> {
    const { rows } = await this.pool.query<Catalogue>(
      `SELECT (SELECT count(*) FROM concerts)::int AS concerts,
              (SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM concert_dates GROUP BY concert_id) d)::int AS "datesPerConcert"`,
    );
    this.readAt = Date.now();
    const next = rows[0];
    if (!this.catalogue || next.concerts !== this.catalogue.concerts || next.datesPerConcert !== this.catalogue.datesPerConcert) {
      this.catalogue = next;
      this.catalogueVersion++;
    }
  }
}
