// The catalogue: concerts, their dates, and seat availability.
import type { Pool } from "pg";
import type { PrismaClient } from "../generated/prisma/client";
import type { Actor } from "../auth/access-tokens";
import { badInput, notFound } from "../errors/app-error";
import { assertAdmin } from "./access";
import { isUuid } from "./ids";
import { holdIsOver } from "./hold-state";
import type { QueueGate } from "./queue/queue.types";
import { commitmentOf, newSeed } from "./opening-draw";

export interface ConcertView {
  id: string;
  title: string;
  saleOpensAt: Date | null;
  openingDrawCommitment: string | null;
  /** Public from the draw on (rule 17). */
  openingDrawSeed: string | null;
  ticketLimitPerUser: number;
  keepLineAfterSellOut: boolean;
}

const concertSelect = {
  id: true,
  title: true,
  saleOpensAt: true,
  drawSeed: true,
  drawCommitment: true,
  drawnAt: true,
  ticketLimitPerUser: true,
  keepLineAfterSellOut: true,
} as const;

type ConcertRow = {
  id: string;
  title: string;
  saleOpensAt: Date | null;
  drawSeed: Uint8Array | null;
  drawCommitment: string | null;
  drawnAt: Date | null;
  ticketLimitPerUser: number;
  keepLineAfterSellOut: boolean;
};

/** The seed stays secret until the draw (rule 17). */
function toConcertView(row: ConcertRow): ConcertView {
  return {
    id: row.id,
    title: row.title,
    saleOpensAt: row.saleOpensAt,
    openingDrawCommitment: row.drawCommitment,
    openingDrawSeed: row.drawnAt && row.drawSeed ? Buffer.from(row.drawSeed).toString("hex") : null,
    ticketLimitPerUser: row.ticketLimitPerUser,
    keepLineAfterSellOut: row.keepLineAfterSellOut,
  };
}

export interface UpdateConcertFields {
  title?: string | null;
  /** undefined: keep; null: clear (the sale opens now). */
  saleOpensAt?: Date | null;
  ticketLimitPerUser?: number | null;
  keepLineAfterSellOut?: boolean | null;
}

export const MAX_TICKET_LIMIT = 1_000;

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
  /** Default ticketLimitPerUser (TICKET_LIMIT_PER_USER). */
  ticketLimitPerUser: number;
  /** Whether anyone ever entered the concert's line (rule 16: the opening can then only move while ahead). */
  everEntered: (concertId: string) => Promise<boolean>;
  /** Called after a concert's opening, limit or flags changed (every instance drops its cached facts). */
  onConcertChanged?: (concertId: string) => Promise<void>;
};

const dateSelect = { id: true, concertId: true, startsAt: true, totalSeats: true } as const;

export class ConcertService {
  constructor(private readonly deps: Deps) {}

  /** Concerts with no date yet or a date still to come, sold out or not. */
  listConcerts(): Promise<ConcertView[]> {
    return this.deps.prisma.concert
      .findMany({
        where: { OR: [{ dates: { none: {} } }, { dates: { some: { startsAt: { gt: new Date() } } } }] },
        select: concertSelect,
        orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      })
      .then((rows) => rows.map(toConcertView));
  }

  async findConcert(id: string): Promise<ConcertView | null> {
    if (!isUuid(id)) return null;
    const row = await this.deps.prisma.concert.findUnique({ where: { id }, select: concertSelect });
    return row && toConcertView(row);
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
        WHERE d.concert_id = $1 AND d.starts_at > now() AND NOT date_sold_out(d.id)
        ORDER BY d.starts_at, d.id`,
      [concertId],
    );
    return rows;
  }

  async getDate(id: string): Promise<ConcertDateView> {
    const date = isUuid(id) ? await this.deps.prisma.concertDate.findUnique({ where: { id }, select: dateSelect }) : null;
    if (!date) throw notFound("concert date");
    return date;
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

  async createConcert(
    actor: Actor,
    input: { title: string; saleOpensAt?: Date | null; ticketLimitPerUser?: number | null; keepLineAfterSellOut?: boolean | null },
  ): Promise<ConcertView> {
    const title = checkTitle(input.title);
    const saleOpensAt = input.saleOpensAt ?? null;
    if (saleOpensAt) checkOpening(saleOpensAt);
    const limit = input.ticketLimitPerUser ?? this.deps.ticketLimitPerUser;
    checkTicketLimit(limit);
    assertAdmin(actor);
    const seed = saleOpensAt ? newSeed() : null;
    const row = await this.deps.prisma.concert.create({
      data: {
        title,
        saleOpensAt,
        drawSeed: seed && new Uint8Array(seed),
        drawCommitment: seed && commitmentOf(seed),
        ticketLimitPerUser: limit,
        keepLineAfterSellOut: input.keepLineAfterSellOut ?? false,
      },
      select: concertSelect,
    });
    return toConcertView(row);
  }

  /**
   * Fields left out keep their value. saleOpensAt can be set, moved or cleared
   * while the opening still lies ahead, or while nobody ever entered the line;
   * the seed committed for an opening still ahead is kept (nobody can change it
   * once its commitment is out), and a new one is drawn only when there was none
   * or the last draw is over. ticketLimitPerUser changes only while no seat of
   * the concert is HELD or SOLD. The checks and the write are one transaction on
   * the concert's row.
   */
  async updateConcert(actor: Actor, id: string, input: UpdateConcertFields): Promise<ConcertView> {
    const title = input.title === undefined || input.title === null ? undefined : checkTitle(input.title);
    if (input.saleOpensAt) checkOpening(input.saleOpensAt);
    const limit = input.ticketLimitPerUser ?? undefined;
    if (limit !== undefined) checkTicketLimit(limit);
    if (!isUuid(id)) throw notFound("concert");
    const movesOpening = input.saleOpensAt !== undefined;
    const entered = movesOpening ? await this.deps.everEntered(id) : false;
    const row = await this.deps.prisma.$transaction(async (tx) => {
      const [current] = await tx.$queryRaw<(ConcertRow & { ahead: boolean; busy: boolean })[]>`
        SELECT c.id, c.title, c.sale_opens_at AS "saleOpensAt", c.draw_seed AS "drawSeed",
               c.draw_commitment AS "drawCommitment", c.drawn_at AS "drawnAt",
               c.ticket_limit_per_user AS "ticketLimitPerUser", c.keep_line_after_sell_out AS "keepLineAfterSellOut",
               (c.sale_opens_at IS NOT NULL AND c.sale_opens_at > now() AND c.drawn_at IS NULL) AS ahead,
               EXISTS (SELECT 1 FROM seats s JOIN concert_dates d ON d.id = s.concert_date_id
                        WHERE d.concert_id = c.id AND (s.status = 'SOLD' OR (s.status = 'HELD' AND NOT hold_is_over(s.held_until)))) AS busy
          FROM concerts c WHERE c.id = ${id}::uuid FOR UPDATE`;
      if (!current) throw notFound("concert");
      assertAdmin(actor);
      const data: Record<string, unknown> = {};
      if (title !== undefined) data.title = title;
      if (input.keepLineAfterSellOut !== undefined && input.keepLineAfterSellOut !== null) {
        data.keepLineAfterSellOut = input.keepLineAfterSellOut;
      }
      if (limit !== undefined && limit !== current.ticketLimitPerUser) {
        if (current.busy) {
          throw badInput("ticketLimitPerUser can only change while no seat of the concert is held or sold.", "ticketLimitPerUser");
        }
        data.ticketLimitPerUser = limit;
      }
      if (movesOpening) {
        if (!current.ahead && entered) {
          throw badInput("The sale has opened and people have entered the line: saleOpensAt can no longer change.", "saleOpensAt");
        }
        data.saleOpensAt = input.saleOpensAt;
        // A new seed only when none is committed for a draw still to come.
        if (input.saleOpensAt && (!current.drawCommitment || current.drawnAt)) {
          const seed = newSeed();
          Object.assign(data, { drawSeed: new Uint8Array(seed), drawCommitment: commitmentOf(seed), drawnAt: null });
        }
      }
      if (Object.keys(data).length === 0) return current;
      return tx.concert.update({ where: { id }, data, select: concertSelect });
    });
    await this.deps.onConcertChanged?.(id);
    return toConcertView(row);
  }

  /** Creates the date and its seats 1..seatCount, each at `price`, in one transaction. */
  async addConcertDate(actor: Actor, input: { concertId: string; startsAt: Date; seatCount: number; price: number }): Promise<ConcertDateView> {
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

function checkTitle(raw: string): string {
  const title = raw.trim();
  if (title.length === 0 || title.length > MAX_TITLE) throw badInput(`A title needs 1 to ${MAX_TITLE} characters.`, "title");
  return title;
}

function checkOpening(at: Date): void {
  if (!(at.getTime() > Date.now())) throw badInput("saleOpensAt must lie in the future (leave it out to open at once).", "saleOpensAt");
}

function checkTicketLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TICKET_LIMIT) {
    throw badInput(`ticketLimitPerUser must be from 1 to ${MAX_TICKET_LIMIT}.`, "ticketLimitPerUser");
  }
}
