// Refunds (rule 21): the caller's CONFIRMED reservation back to the balance,
// less the fee, in one call of ticket_refund (prisma/functions/ticket_refund.sql):
// one statement, all or nothing. The seat maps, the seat streams and the queue
// (a waiting list admits the next in line) hear of it after the commit.
import type { Pool } from "pg";
import type { Actor } from "../auth/access-tokens";
import type { Settings } from "../config/settings";
import { oneStatement } from "../db/one-statement";
import { refusalError } from "../errors/refusals";
import type { EventBus } from "../pubsub/event-bus";
import { publishSeatChanges, type SeatChange } from "../pubsub/seat-events";
import type { Logger } from "../observability/logger";
import type { QueueGate } from "./queue/queue.types";
import { afterCommit } from "./after-commit";
import { checkIdempotencyKey, requestHash, type IdempotentCall } from "./idempotency";
import { reservationFromJson, storedOrOwnReservation, type ReservationView } from "./reservation.views";

type Deps = {
  pool: Pool;
  bus: EventBus;
  queue: Pick<QueueGate, "seatsBackOnSale">;
  settings: Pick<Settings, "refundClosesHours" | "refundFeePercent" | "refundFreeDays">;
  logger?: Logger;
};

interface RefundRow {
  replayed: Record<string, unknown> | null;
  concertDateId: string;
  seatIds: string[];
  seatNumbers: number[];
  seatPrices: number[];
}

export class RefundService {
  constructor(private readonly deps: Deps) {}

  /**
   * Errors in the contract's order: BAD_USER_INPUT (the key), NOT_FOUND,
   * FORBIDDEN, NOT_REFUNDABLE. The same key again returns the first call's
   * reservation before any other check.
   */
  async refundReservation(actor: Actor, reservationId: string, idempotencyKey?: string | null): Promise<ReservationView> {
    const key = checkIdempotencyKey(idempotencyKey);
    const call: IdempotentCall | undefined =
      key === undefined ? undefined : { userId: actor.id, key, operation: "refundReservation", args: { reservationId } };
    const found = await storedOrOwnReservation<Record<string, unknown>>(this.deps.pool, actor, reservationId, call);
    if ("stored" in found) return reservationFromJson(found.stored);
    const { queueToken: _, ...reservation } = found.reservation;
    const { settings } = this.deps;
    let row: RefundRow;
    try {
      [row] = await oneStatement<RefundRow>(
        this.deps.pool,
        `SELECT replayed, concert_date_id AS "concertDateId",
                seat_ids AS "seatIds", seat_numbers AS "seatNumbers", seat_prices AS "seatPrices"
           FROM ticket_refund($1, $2, $3, $4, $5, $6, $7)`,
        [
          reservation.id,
          actor.id,
          call?.key ?? null,
          call ? requestHash(call) : null,
          settings.refundClosesHours,
          settings.refundFeePercent,
          settings.refundFreeDays,
        ],
      );
    } catch (error) {
      throw refusalError(error) ?? error;
    }
    if (row.replayed) return reservationFromJson(row.replayed);
    const seats: SeatChange[] = row.seatIds.map((id, i) => ({
      id,
      concertDateId: row.concertDateId,
      number: row.seatNumbers[i],
      price: row.seatPrices[i],
      status: "AVAILABLE",
    }));
    await afterCommit(this.deps.logger, () => Promise.all([publishSeatChanges(this.deps.bus, seats), this.deps.queue.seatsBackOnSale(seats, true)]));
    return { ...reservation, status: "REFUNDED" };
  }
}
