// Paying a hold from the balance, and the caller's payments. One transaction
// does it all or nothing: reservation CONFIRMED, seats SOLD, balance debited,
// payment COMPLETED, ledger entry written. The queue and the seat map hear of
// it after the commit.
import type { Pool } from "pg";
import type { Actor } from "../auth/access-tokens";
import { badInput } from "../errors/app-error";
import { oneStatement } from "../db/one-statement";
import { notItsQueueToken, refusalError } from "../errors/refusals";
import { inTransaction } from "../db/transaction";
import { announceExpiry, expireDueHoldsOfConcert } from "./hold-expiry";
import type { EventBus } from "../pubsub/event-bus";
import { publishSeatChanges, type SeatChange } from "../pubsub/seat-events";
import type { Logger } from "../observability/logger";
import type { Metrics } from "../observability/metrics";
import type { QueueGate } from "./queue/queue.types";
import { afterCommit } from "./after-commit";
import { assertStillHeld } from "./hold-state";
import { checkIdempotencyKey, requestHash, type IdempotentCall } from "./idempotency";
import { isUuid } from "./ids";
import { pageSize, type PageArgs } from "./paging";
import { PAYMENT_COLUMNS, paymentFromJson, storedOrOwnReservation, type PaymentView, type ReservationView } from "./reservation.views";
import { isConcertSoldOut, SoldOutLater } from "./sold-out";
import { concertOfToken } from "./queue/queue-token";

/** How long a sale's announcement (its token ending PAID, its seats SOLD) is tried again while Redis does not answer. */
const SALE_ANNOUNCE_RETRY_MS = 120_000;

type Deps = { pool: Pool; bus: EventBus; queue: QueueGate; logger?: Logger; metrics?: Pick<Metrics, "sold"> };

export interface PayInput {
  reservationId: string;
  idempotencyKey?: string | null;
  queueToken: string | undefined;
}

type HeldReservation = ReservationView & { queueToken: string };

/** What the announcement of a sale needs. */
interface Sale {
  queueToken: string;
  concertId: string;
  concertDateId: string;
  seats: SeatChange[];
  /** ticket_pay saw a seat of the date still AVAILABLE: the sold-out question can wait (SoldOutLater). */
  availableLeft: boolean;
}

interface PayRow {
  replayed: Record<string, unknown> | null;
  paymentId: string;
  amount: number;
  createdAt: Date;
  paidAt: Date;
  seatIds: string[];
  seatNumbers: number[];
  seatPrices: number[];
  concertId: string;
  concertDateId: string;
  availableLeft: boolean;
}

export class PaymentService {
  private readonly soldOutLater: SoldOutLater;

  constructor(private readonly deps: Deps) {
    this.soldOutLater = new SoldOutLater((concertId, dateId) =>
      afterCommit(deps.logger, () => this.askSoldOut(concertId, dateId), { forMs: SALE_ANNOUNCE_RETRY_MS }),
    );
  }

  /**
   * Errors in the order of contract/README.md (Errors): BAD_USER_INPUT (key malformed or reused with
   * other arguments), NOT_FOUND, FORBIDDEN, RESERVATION_NOT_HELD / HOLD_EXPIRED,
   * the queue gate (the token the hold was placed with), INSUFFICIENT_BALANCE.
   * The same key again returns the first call's payment, before any other check
   * (the reservation is CONFIRMED and the token EXPIRED by then).
   *
   * The queue gate is asked first, for the token's own concert: when it lets the call through,
   * ticket_pay answers everything else in the same order, in one round trip to PostgreSQL. Only a
   * call the gate refused reads the reservation first, to answer what comes before the gate.
   */
  async pay(actor: Actor, input: PayInput): Promise<PaymentView> {
    const key = checkIdempotencyKey(input.idempotencyKey);
    const call: IdempotentCall | undefined =
      key === undefined ? undefined : { userId: actor.id, key, operation: "pay", args: { reservationId: input.reservationId } };
    const token = input.queueToken;
    const tokenConcert = token === undefined || !isUuid(input.reservationId) ? null : concertOfToken(token);
    let refused: { error: unknown } | undefined;
    if (tokenConcert !== null) {
      refused = await this.deps.queue.requireActive(actor, token, tokenConcert).then(
        () => undefined,
        (error: unknown) => ({ error }),
      );
      if (!refused) return this.settle(actor, input.reservationId, token as string, call);
    }
    // The gate refused or could not answer (Redis), or there was no token to ask it with. The
    // precheck runs after the gate's answer, so a concurrent call with the same key that paid (and
    // ended the token PAID) is seen with its stored payment, and a paid reservation as
    // RESERVATION_NOT_HELD.
    const checked = await this.precheck(actor, input.reservationId, call);
    if ("replayed" in checked) return checked.replayed;
    if (token !== undefined && token !== checked.reservation.queueToken) throw notItsQueueToken();
    if (refused) throw refused.error;
    await this.deps.queue.requireActive(actor, token, checked.reservation.concertId);
    return this.settle(actor, input.reservationId, checked.reservation.queueToken, call);
  }

  /** ticket_pay, then the announcement of the sale. */
  private async settle(actor: Actor, reservationId: string, queueToken: string, call: IdempotentCall | undefined): Promise<PaymentView> {
    const outcome = await this.payOnce(actor, reservationId, queueToken, call);
    if ("replayed" in outcome) return outcome.replayed;
    const { sale } = outcome;
    this.deps.metrics?.sold(sale.concertId, sale.seats.length, outcome.payment.amount);
    // Safe to run again (an ended token stays ended; a seat's status is sent again), so it is
    // tried again while Redis does not answer: the token ends PAID, not by its session.
    await afterCommit(this.deps.logger, () => this.announceSale(sale), { forMs: SALE_ANNOUNCE_RETRY_MS });
    return outcome.payment;
  }

  /**
   * One call of ticket_pay (prisma/functions/), everything or
   * nothing: claim the key, CONFIRMED against the clock (the sweeper's
   * conditional update and this one lock the same row and each re-checks status
   * after waiting, so a pay and an expiry exclude each other: never both, never
   * neither), seats SOLD, balance debited, payment COMPLETED with its ledger
   * entry, the response stored under the key.
   */
  private async payOnce(
    actor: Actor,
    reservationId: string,
    queueToken: string,
    call: IdempotentCall | undefined,
  ): Promise<{ replayed: PaymentView } | { payment: PaymentView; sale: Sale }> {
    let row: PayRow;
    try {
      [row] = await oneStatement<PayRow>(
        this.deps.pool,
        `SELECT replayed, payment_id AS "paymentId", amount, created_at AS "createdAt", paid_at AS "paidAt",
                seat_ids AS "seatIds", seat_numbers AS "seatNumbers", seat_prices AS "seatPrices",
                of_concert AS "concertId", of_date AS "concertDateId", available_left AS "availableLeft"
           FROM ticket_pay($1, $2, $3, $4, $5)`,
        [reservationId, actor.id, call?.key ?? null, call ? requestHash(call) : null, queueToken],
      );
    } catch (error) {
      throw refusalError(error, { reservationId }) ?? error;
    }
    if (row.replayed) return { replayed: paymentFromJson(row.replayed) };
    const payment: PaymentView = {
      id: row.paymentId,
      reservationId,
      amount: row.amount,
      status: "COMPLETED",
      createdAt: row.createdAt,
      paidAt: row.paidAt,
    };
    const seats: SeatChange[] = row.seatIds.map((id, i) => ({
      id,
      concertDateId: row.concertDateId,
      number: row.seatNumbers[i],
      price: row.seatPrices[i],
      status: "SOLD",
    }));
    return { payment, sale: { queueToken, concertId: row.concertId, concertDateId: row.concertDateId, seats, availableLeft: row.availableLeft } };
  }

  /** The answers that come before the queue gate: a stored result, NOT_FOUND, FORBIDDEN, the hold's state. */
  private async precheck(
    actor: Actor,
    reservationId: string,
    call: IdempotentCall | undefined,
  ): Promise<{ replayed: PaymentView } | { reservation: HeldReservation }> {
    const found = await storedOrOwnReservation<PaymentView>(this.deps.pool, actor, reservationId, call);
    if ("stored" in found) return { replayed: paymentFromJson(found.stored) };
    // A call with the same key that paid it commits the CONFIRMED status and the
    // key's answer together, and storedOrOwnReservation reads both in one
    // statement (one snapshot): it sees either both or neither. When the key and
    // the reservation were two reads, a pay between them made a double payer's
    // second call answer RESERVATION_NOT_HELD (the rush bench: 1 of 100).
    assertStillHeld(found.reservation.status);
    return found;
  }

  /** The caller's completed payments, newest first. */
  async payments(actor: Actor, page: PageArgs = {}): Promise<PaymentView[]> {
    const first = pageSize(page.first);
    const after = page.after ?? null;
    if (after !== null && !isUuid(after)) throw badInput("after must be the id of a payment.", "after");
    const { rows } = await this.deps.pool.query<PaymentView>(
      `SELECT ${PAYMENT_COLUMNS} FROM payments p JOIN reservations r ON r.id = p.reservation_id
        WHERE p.user_id = $1 AND p.status = 'COMPLETED'
          AND ($2::uuid IS NULL OR (p.paid_at, p.id) < (SELECT paid_at, id FROM payments WHERE id = $2 AND user_id = $1))
        ORDER BY p.paid_at DESC, p.id DESC LIMIT $3`,
      [actor.id, after, first],
    );
    return rows;
  }

  /** The payment of each reservation (for a DataLoader). */
  async paymentsOfReservations(reservationIds: readonly string[]): Promise<(PaymentView | Error)[]> {
    const { rows } = await this.deps.pool.query<PaymentView>(
      `SELECT ${PAYMENT_COLUMNS} FROM payments p JOIN reservations r ON r.id = p.reservation_id
        WHERE p.reservation_id = ANY($1::uuid[])`,
      [reservationIds.filter(isUuid)],
    );
    const byReservation = new Map(rows.map((p) => [p.reservationId, p]));
    return reservationIds.map((id) => byReservation.get(id) ?? new Error(`reservation ${id} has no payment`));
  }

  /** Asks now the sold-out questions pays left for later (the instance is closing). */
  close(): Promise<void> {
    return this.soldOutLater.flush();
  }

  /**
   * The token ends PAID before the sold-out check, so the token whose payment
   * sold the last seat ends PAID and every other one SOLD_OUT.
   */
  private async announceSale(sale: Sale): Promise<void> {
    await Promise.all([this.deps.queue.expireToken(sale.queueToken, "PAID"), publishSeatChanges(this.deps.bus, sale.seats)]);
    if (sale.availableLeft) this.soldOutLater.add(sale.concertId, sale.concertDateId);
    else await this.askSoldOut(sale.concertId, sale.concertDateId);
  }

  private async askSoldOut(concertId: string, dateId: string): Promise<void> {
    if (await isConcertSoldOut(this.deps.pool, concertId, dateId)) {
      // A hold that ran out before the sell-out (its seats then taken and sold)
      // ends HOLD_TIMEOUT (a hold that runs out unpaid ends its token so), even if no sweeper has reached it yet:
      // after the sell-out its token would end SOLD_OUT. Found by the rush bench
      // (1 of 85 holds left to run out ended SOLD_OUT).
      const expired = await inTransaction(this.deps.pool, (client) => expireDueHoldsOfConcert(client, concertId));
      await announceExpiry(this.deps, expired);
      await this.deps.queue.concertSoldOut(concertId);
    }
  }
}
