// The catalogue: concerts, their dates, and seat availability.
import type { Pool } from "pg";
import type { PrismaClient } from "../generated/prisma/client";
import type { Actor } from "../auth/access-tokens";
import { badInput, notFound } from "../errors/app-error";
import { assertAdmin } from "./access";
import { isUuid } from "./ids";
import { holdIsOver } from "./hold-state";
import { dateHasUnsoldSeat } from "./sold-out";
import type { QueueGate } from "./queue/queue.types";

export interface ConcertView {
  id: string;
  title: string;
  keepLineAfterSellOut: boolean;
}

const concertSelect = { id: true, title: true, keepLineAfterSellOut: true } as const;

export interface ConcertDateView {
  id: string;
  concertId: string;
  startsAt: Date;
  totalSeats: number;
}

export interface Availability {
  availableSeats: number;
  soldOut: boolean;
}

export const MAX_SEATS_PER_DATE = 100_000;
const MAX_TITLE = 200;

type Deps = {
  prisma: PrismaClient;
  pool: Pool;
  maxPrice: number;
  /** The waiting room: availableDates needs an ACTIVE token. */
  gate: Pick<QueueGate, "requireActive">;
  /** Called after a date is added: the concert has seats to sell again. */
  onDateAdded?: (concertId: string) => Promise<void>;
};

const dateSelect = { id: true, concertId: true, startsAt: true, totalSeats: true } as const;

export class ConcertService {
  constructor(private readonly deps: Deps) {}

  /** Concerts with no date yet or a date still to come, sold out or not. */
  listConcerts(): Promise<ConcertView[]> {
    return this.deps.prisma.concert.findMany({
      where: { OR: [{ dates: { none: {} } }, { dates: { some: { startsAt: { gt: new Date() } } } }] },
      select: concertSelect,
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    });
  }

  async findConcert(id: string): Promise<ConcertView | null> {
    if (!isUuid(id)) return null;
    return this.deps.prisma.concert.findUnique({ where: { id }, select: concertSelect });
  }

  async getConcert(id: string): Promise<ConcertView> {
    const concert = await this.findConcert(id);
    if (!concert) throw notFound("concert");
    return concert;
  }

  /** Dates to come that are not sold out, for a user with an ACTIVE queue token of the concert. */
  async availableDates(actor: Actor, concertId: string, queueToken: string | undefined): Promise<ConcertDateView[]> {
    await this.getConcert(concertId);
    await this.deps.gate.requireActive(actor, queueToken, concertId);
    const { rows } = await this.deps.pool.query<ConcertDateView>(
      `SELECT d.id, d.concert_id AS "concertId", d.starts_at AS "startsAt", d.total_seats AS "totalSeats"
         FROM concert_dates d
        WHERE d.concert_id = $1 AND d.starts_at > now() AND ${dateHasUnsoldSeat("d")}
        ORDER BY d.starts_at, d.id`,
      [concertId],
    );
    return rows;
  }

  /** The dates of each concert, earliest first (for a DataLoader). */
  async datesOfConcerts(concertIds: readonly string[]): Promise<ConcertDateView[][]> {
    const dates = await this.deps.prisma.concertDate.findMany({
      where: { concertId: { in: [...concertIds] } },
      select: dateSelect,
      orderBy: [{ startsAt: "asc" }, { id: "asc" }],
    });
    const byConcert = new Map<string, ConcertDateView[]>(concertIds.map((id) => [id, []]));
    for (const d of dates) byConcert.get(d.concertId)?.push(d);
    return concertIds.map((id) => byConcert.get(id) ?? []);
  }

  /**
   * Seats AVAILABLE now and whether all are SOLD, for many dates in one
   * aggregate query. A hold whose time has passed counts as available even
   * before the sweeper has released it.
   */
  async availabilityOfDates(dateIds: readonly string[]): Promise<Availability[]> {
    const { rows } = await this.deps.pool.query<{ id: string; available: number; unsold: number }>(
      `SELECT concert_date_id AS id,
              count(*) FILTER (WHERE status = 'AVAILABLE' OR (status = 'HELD' AND ${holdIsOver("held_until")}))::int AS available,
              count(*) FILTER (WHERE status <> 'SOLD')::int AS unsold
         FROM seats WHERE concert_date_id = ANY($1::uuid[]) GROUP BY concert_date_id`,
      [dateIds],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    return dateIds.map((id) => {
      const r = byId.get(id);
      return { availableSeats: r?.available ?? 0, soldOut: (r?.unsold ?? 0) === 0 };
    });
  }

  async createConcert(actor: Actor, input: { title: string; keepLineAfterSellOut?: boolean | null }): Promise<ConcertView> {
    const title = input.title.trim();
    if (title.length === 0 || title.length > MAX_TITLE) {
      throw badInput(`A title needs 1 to ${MAX_TITLE} characters.`, "title");
    }
    assertAdmin(actor);
    return this.deps.prisma.concert.create({ data: { title, keepLineAfterSellOut: input.keepLineAfterSellOut ?? false }, select: concertSelect });
  }

  /** Creates the date and its seats 1..seatCount, each at `price`, in one transaction. */
  async addConcertDate(
    actor: Actor,
    input: { concertId: string; startsAt: Date; seatCount: number; price: number },
  ): Promise<ConcertDateView> {
    const { concertId, startsAt, seatCount, price } = input;
    if (!(startsAt.getTime() > Date.now())) throw badInput("A concert date must start in the future.", "startsAt");
    if (!Number.isInteger(seatCount) || seatCount < 1 || seatCount > MAX_SEATS_PER_DATE) {
      throw badInput(`seatCount must be from 1 to ${MAX_SEATS_PER_DATE}.`, "seatCount");
    }
    if (!Number.isInteger(price) || price < 1 || price > this.deps.maxPrice) {
      throw badInput(`price must be from 1 to ${this.deps.maxPrice}.`, "price");
    }
    await this.getConcert(concertId);
    assertAdmin(actor);
    const created = await this.deps.prisma.$transaction(async (tx) => {
      const date = await tx.concertDate.create({ data: { concertId, startsAt, totalSeats: seatCount }, select: dateSelect });
      await tx.$executeRaw`INSERT INTO seats (concert_date_id, number, price)
                           SELECT ${date.id}::uuid, n, ${price} FROM generate_series(1, ${seatCount}::int) AS n`;
      return date;
    });
    await this.deps.onDateAdded?.(concertId);
    return created;
  }
}
