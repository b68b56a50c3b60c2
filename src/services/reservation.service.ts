// Seat holds: reserve (all the asked seats or none), cancel, and the caller's
// reservations. A hold is one short transaction; the queue and the seat map
// hear of it only after the commit.
import { randomUUID } from "node:crypto";
import type { Pool, PoolClient } from "pg";
import type { Actor } from "../auth/access-tokens";
import type { Settings } from "../config/settings";
import { AppError, badInput, forbidden, notFound } from "../errors/app-error";
import { classifyDbError } from "../errors/db-errors";
import { inTransaction } from "../db/transaction";
import type { EventBus } from "../pubsub/event-bus";
import { publishSeatChanges } from "../pubsub/seat-events";
import type { Logger } from "../observability/logger";
import type { QueueGate } from "./queue/queue.types";
import { afterCommit } from "./after-commit";
import { announceExpiry, expireStaleHoldOf } from "./hold-expiry";
import { holdSeats, releaseSeats } from "./seat-locks";
import { assertStillHeld, explainNotHeld } from "./hold-state";
import { DateDirectory, type DateFacts } from "./date-directory";
import { isUuid } from "./ids";
import { pageSize, type PageArgs } from "./paging";
import { RESERVATION_COLUMNS, type PaymentView, type ReservationView } from "./reservation.views";

type Deps = {
  pool: Pool;
  bus: EventBus;
  queue: QueueGate;
  settings: Pick<Settings, "holdSeconds" | "maxSeatsPerReservation">;
  logger?: Logger;
};

export interface ReserveSeatsInput {
  concertDateId: string;
  seatNumbers: number[];
  queueToken: string | undefined;
}

const ONE_HOLD_INDEX = "reservations_one_hold_per_user_concert";

const holdLimit = () =>
  new AppError("HOLD_LIMIT", "You already hold seats for this concert: pay for or cancel that reservation first.");

export class ReservationService {
  private readonly dates: DateDirectory;

  constructor(private readonly deps: Deps) {
    this.dates = new DateDirectory(deps.pool);
  }

  /**
   * Errors in the contract's order: BAD_USER_INPUT (count, repeats, numbers the
   * date does not have), NOT_FOUND (the date), the queue gate, HOLD_LIMIT,
   * SEAT_UNAVAILABLE. Seat numbers past the date's last seat are checked after
   * the date is found: on an unknown date every number is unknown, and
   * NOT_FOUND says more.
   */
  async reserveSeats(actor: Actor, input: ReserveSeatsInput): Promise<ReservationView> {
    const numbers = this.checkSeatNumbers(input.seatNumbers);
    const date = await this.dates.get(input.concertDateId);
    const missing = numbers.filter((n) => n > date.totalSeats);
    if (missing.length > 0) {
      throw badInput(`This date has no seat ${missing.join(", ")}: seats are 1 to ${date.totalSeats}.`, "seatNumbers");
    }
    await this.deps.queue.requireActive(actor, input.queueToken, date.concertId);
    const token = input.queueToken as string;
    try {
      return await this.hold(actor, date, numbers, token);
    } catch (error) {
      if (!(error instanceof AppError && error.code === "HOLD_LIMIT")) throw error;
    }
    // The HELD reservation in the way may have run out without being swept yet:
    // end it (in its own transaction, so no seat lock is held while it takes
    // its own) and try once more.
    const expired = await inTransaction(this.deps.pool, (c) => expireStaleHoldOf(c, actor.id, date.concertId));
    if (expired.holds.length === 0) throw holdLimit();
    await afterCommit(this.deps.logger, () => announceExpiry(this.deps, expired));
    if (expired.holds.some((h) => h.queueToken === token)) {
      // Its token ended with that hold (HOLD_TIMEOUT), even if the queue has not heard yet.
      throw new AppError("QUEUE_TOKEN_EXPIRED", "Your hold ran out and your queue session ended with it: enter the queue again.");
    }
    return this.hold(actor, date, numbers, token);
  }

  /**
   * CANCELLED at once, payment CANCELLED, seats AVAILABLE; the token stays
   * ACTIVE. A hold that ran out answers HOLD_EXPIRED whether or not it shows
   * EXPIRED yet (the same answer pay gives, so it does not depend on when the
   * sweeper ran); a CONFIRMED or CANCELLED one answers RESERVATION_NOT_HELD.
   */
  async cancelReservation(actor: Actor, reservationId: string): Promise<ReservationView> {
    const found = await this.getOwn(actor, reservationId);
    assertStillHeld(found.status);
    const { reservation, seats, queueToken } = await inTransaction(this.deps.pool, async (client) => {
      // clock_timestamp(), not now(): the hold must still be running when the row is locked.
      const { rows } = await client.query<{ queueToken: string }>(
        `UPDATE reservations SET status = 'CANCELLED'
          WHERE id = $1 AND status = 'HELD' AND held_until > clock_timestamp()
         RETURNING queue_token AS "queueToken"`,
        [reservationId],
      );
      if (rows.length === 0) await explainNotHeld(client, reservationId);
      await client.query(`UPDATE payments SET status = 'CANCELLED' WHERE reservation_id = $1 AND status = 'PENDING'`, [reservationId]);
      const released = await releaseSeats(client, [reservationId]);
      return { reservation: { ...found, status: "CANCELLED" as const }, seats: released, queueToken: rows[0].queueToken };
    });
    await afterCommit(this.deps.logger, () =>
      Promise.all([this.deps.queue.holdReleased(queueToken), publishSeatChanges(this.deps.bus, seats)]),
    );
    return reservation;
  }

  /** The caller's reservations, newest first. */
  async reservations(actor: Actor, page: PageArgs = {}): Promise<ReservationView[]> {
    const first = pageSize(page.first);
    const after = page.after ?? null;
    if (after !== null && !isUuid(after)) throw badInput("after must be the id of a reservation.", "after");
    const { rows } = await this.deps.pool.query<ReservationView>(
      `SELECT ${RESERVATION_COLUMNS} FROM reservations r
        WHERE r.user_id = $1
          AND ($2::uuid IS NULL OR (r.created_at, r.id) < (SELECT created_at, id FROM reservations WHERE id = $2 AND user_id = $1))
        ORDER BY r.created_at DESC, r.id DESC LIMIT $3`,
      [actor.id, after, first],
    );
    return rows;
  }

  private async hold(actor: Actor, date: DateFacts, numbers: number[], token: string): Promise<ReservationView> {
    const id = randomUUID();
    const result = await inTransaction(this.deps.pool, async (client) => {
      // The reservation row first: the one-HELD-per-(user, concert) index turns a
      // second simultaneous hold of the same user into HOLD_LIMIT before it
      // locks any seat (the contract puts HOLD_LIMIT before SEAT_UNAVAILABLE).
      const reservation = await this.insertReservation(client, { id, actor, date, numbers, token });
      const seats = await holdSeats(client, { concertDateId: date.id, numbers, reservationId: id, heldUntil: reservation.heldUntil });
      if (seats.length < numbers.length) {
        const taken = numbers.filter((n) => !seats.some((s) => s.number === n));
        throw new AppError("SEAT_UNAVAILABLE", `Seat ${taken.join(", ")} is no longer available: none was held.`, { seatNumbers: taken });
      }
      seats.sort((a, b) => a.number - b.number);
      const { rows } = await client.query<{ id: string; createdAt: Date }>(
        `WITH held AS (
           INSERT INTO reservation_seats (reservation_id, seat_id, seat_number, price)
           SELECT $1, unnest($2::uuid[]), unnest($3::int[]), unnest($4::int[])
         )
         INSERT INTO payments (reservation_id, user_id, amount) VALUES ($1, $5, $6) RETURNING id, created_at AS "createdAt"`,
        [id, seats.map((s) => s.id), seats.map((s) => s.number), seats.map((s) => s.price), actor.id, reservation.totalPrice],
      );
      const payment: PaymentView = {
        id: rows[0].id,
        reservationId: id,
        amount: reservation.totalPrice,
        status: "PENDING",
        createdAt: rows[0].createdAt,
        paidAt: null,
      };
      return { ...reservation, seats, payment };
    });
    await afterCommit(this.deps.logger, () =>
      Promise.all([
        this.deps.queue.holdPlaced(token, result.heldUntil),
        publishSeatChanges(
          this.deps.bus,
          result.seats.map((seat) => ({ ...seat, heldUntil: result.heldUntil.getTime() })),
        ),
      ]),
    );
    return result;
  }

  private async insertReservation(
    client: PoolClient,
    input: { id: string; actor: Actor; date: DateFacts; numbers: number[]; token: string },
  ): Promise<ReservationView> {
    const { id, actor, date, numbers, token } = input;
    try {
      // held_until from the database clock, the one every expiry check compares with.
      const { rows } = await client.query<ReservationView>(
        `INSERT INTO reservations (id, user_id, concert_id, concert_date_id, queue_token, total_price, held_until)
         SELECT $1, $2, $3, $4, $5, sum(price), now() + make_interval(secs => $6)
           FROM seats WHERE concert_date_id = $4 AND number = ANY($7::int[])
         RETURNING id, user_id AS "userId", concert_id AS "concertId", concert_date_id AS "concertDateId",
                   total_price AS "totalPrice", status::text AS status, held_until AS "heldUntil", created_at AS "createdAt"`,
        [id, actor.id, date.concertId, date.id, token, this.deps.settings.holdSeconds, numbers],
      );
      return rows[0];
    } catch (error) {
      const info = classifyDbError(error);
      if (info.kind === "unique" && info.constraint === ONE_HOLD_INDEX) throw holdLimit();
      throw error;
    }
  }

  private checkSeatNumbers(seatNumbers: number[]): number[] {
    const max = this.deps.settings.maxSeatsPerReservation;
    if (seatNumbers.length < 1 || seatNumbers.length > max) {
      throw badInput(`Choose 1 to ${max} seats.`, "seatNumbers");
    }
    if (seatNumbers.some((n) => !Number.isInteger(n) || n < 1)) throw badInput("Seat numbers start at 1.", "seatNumbers");
    if (new Set(seatNumbers).size !== seatNumbers.length) throw badInput("A seat number is repeated.", "seatNumbers");
    return [...seatNumbers].sort((a, b) => a - b);
  }

  private async getOwn(actor: Actor, id: string): Promise<ReservationView> {
    const { rows } = isUuid(id)
      ? await this.deps.pool.query<ReservationView>(`SELECT ${RESERVATION_COLUMNS} FROM reservations r WHERE r.id = $1`, [id])
      : { rows: [] as ReservationView[] };
    if (!rows[0]) throw notFound("reservation");
    if (rows[0].userId !== actor.id) throw forbidden("This reservation is another user's.");
    return rows[0];
  }
}
