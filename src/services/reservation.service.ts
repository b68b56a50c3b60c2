// Seat holds: reserve (all the asked seats or none), cancel, and the caller's
// reservations. A hold is one short transaction; the queue and the seat map
// hear of it only after the commit.
import { randomUUID } from "node:crypto";
import type { Pool } from "pg";
import type { Actor } from "../auth/access-tokens";
import type { Settings } from "../config/settings";
import { AppError, badInput } from "../errors/app-error";
import { classifyDbError } from "../errors/db-errors";
import { inTransaction } from "../db/transaction";
import { oneStatement } from "../db/one-statement";
import { refusalError } from "../errors/refusals";
import type { EventBus } from "../pubsub/event-bus";
import { publishSeatChanges } from "../pubsub/seat-events";
import type { Logger } from "../observability/logger";
import type { Metrics } from "../observability/metrics";
import type { QueueGate } from "./queue/queue.types";
import { afterCommit } from "./after-commit";
import { announceExpiry, expireStaleHoldOf } from "./hold-expiry";
import { releaseSeats } from "./seat-locks";
import { assertStillHeld, explainNotHeld, holdIsOver } from "./hold-state";
import { DateDirectory, type DateFacts } from "./date-directory";
import { isUuid } from "./ids";
import { pageSize, type PageArgs } from "./paging";
import { getOwnReservation, RESERVATION_COLUMNS, type ReservationView, type SeatView } from "./reservation.views";

type Deps = {
  pool: Pool;
  bus: EventBus;
  queue: QueueGate;
  settings: Pick<Settings, "holdSeconds" | "maxSeatsPerReservation">;
  logger?: Logger;
  metrics?: Pick<Metrics, "holdMade">;
};

export interface ReserveSeatsInput {
  concertDateId: string;
  seatNumbers: number[];
  queueToken: string | undefined;
}

const ONE_HOLD_INDEX = "reservations_one_hold_per_user_concert";

interface HoldRow {
  totalPrice: number;
  heldUntil: Date;
  createdAt: Date;
  paymentId: string;
  paymentCreatedAt: Date;
  seatIds: string[];
  seatNumbers: number[];
  seatPrices: number[];
  seatGrades: string[];
}

const holdLimit = () => new AppError("HOLD_LIMIT", "You already hold seats for this concert: pay for or cancel that reservation first.");

export class ReservationService {
  private readonly dates: DateDirectory;

  constructor(private readonly deps: Deps) {
    this.dates = new DateDirectory(deps.pool);
  }

  /**
   * Errors in the order of contract/README.md (Errors): BAD_USER_INPUT (count, repeats, numbers the
   * date does not have), NOT_FOUND (the date), the queue gate, HOLD_LIMIT,
   * TICKET_LIMIT, SEAT_UNAVAILABLE. Seat numbers past the date's last seat are checked after
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
    const { queueToken: _, ...found } = await getOwnReservation(this.deps.pool, actor, reservationId);
    assertStillHeld(found.status);
    const { reservation, seats, queueToken } = await inTransaction(this.deps.pool, async (client) => {
      // The hold must still be running when the row is locked (hold_is_over's clock).
      const { rows } = await client.query<{ queueToken: string }>(
        `UPDATE reservations SET status = 'CANCELLED'
          WHERE id = $1 AND status = 'HELD' AND NOT ${holdIsOver("held_until")}
         RETURNING queue_token AS "queueToken"`,
        [reservationId],
      );
      if (rows.length === 0) await explainNotHeld(client, reservationId);
      await client.query(`UPDATE payments SET status = 'CANCELLED' WHERE reservation_id = $1 AND status = 'PENDING'`, [reservationId]);
      const released = await releaseSeats(client, [reservationId]);
      return { reservation: { ...found, status: "CANCELLED" as const }, seats: released, queueToken: rows[0].queueToken };
    });
    await afterCommit(this.deps.logger, () =>
      Promise.all([this.deps.queue.holdReleased(queueToken), publishSeatChanges(this.deps.bus, seats), this.deps.queue.seatsBackOnSale(seats)]),
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

  /** One call of ticket_hold (prisma/functions/): one statement, all or none. */
  private async hold(actor: Actor, date: DateFacts, numbers: number[], token: string): Promise<ReservationView> {
    const id = randomUUID();
    let row: HoldRow;
    try {
      // held_until from the database clock, the one every expiry check compares with.
      [row] = await oneStatement<HoldRow>(
        this.deps.pool,
        `SELECT total_price AS "totalPrice", held_until AS "heldUntil", created_at AS "createdAt",
                payment_id AS "paymentId", payment_created_at AS "paymentCreatedAt",
                seat_ids AS "seatIds", seat_numbers AS "seatNumbers", seat_prices AS "seatPrices",
                seat_grades AS "seatGrades"
           FROM ticket_hold($1, $2, $3, $4, $5, $6, $7)`,
        [id, actor.id, date.concertId, date.id, token, this.deps.settings.holdSeconds, numbers],
      );
    } catch (error) {
      const refused = refusalError(error);
      if (refused) throw refused;
      const info = classifyDbError(error);
      if (info.kind === "unique" && info.constraint === ONE_HOLD_INDEX) throw holdLimit();
      throw error;
    }
    const seats: SeatView[] = row.seatIds.map((seatId, i) => ({
      id: seatId,
      concertDateId: date.id,
      number: row.seatNumbers[i],
      price: row.seatPrices[i],
      grade: row.seatGrades[i],
      status: "HELD",
    }));
    const result: ReservationView = {
      id,
      userId: actor.id,
      concertId: date.concertId,
      concertDateId: date.id,
      totalPrice: row.totalPrice,
      status: "HELD",
      heldUntil: row.heldUntil,
      createdAt: row.createdAt,
      seats,
      payment: {
        id: row.paymentId,
        reservationId: id,
        amount: row.totalPrice,
        status: "PENDING",
        createdAt: row.paymentCreatedAt,
        paidAt: null,
      },
    };
    this.deps.metrics?.holdMade(date.concertId);
    await afterCommit(this.deps.logger, () =>
      Promise.all([
        this.deps.queue.holdPlaced(token, row.heldUntil),
        publishSeatChanges(
          this.deps.bus,
          seats.map((seat) => ({ ...seat, heldUntil: row.heldUntil.getTime() })),
        ),
      ]),
    );
    return result;
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
}
