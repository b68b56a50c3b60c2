// The seat map of a date: read it (behind the queue gate), and watch it change.
import type { Pool } from "pg";
import type { Actor } from "../auth/access-tokens";
import type { EventBus } from "../pubsub/event-bus";
import { AsyncQueue } from "../pubsub/async-queue";
import { seatChannel, type SeatChangeMessage } from "../pubsub/seat-events";
import type { QueueGate, QueueTicketView } from "./queue/queue.types";
import { assertAdmin } from "./access";
import { DateDirectory } from "./date-directory";
import { isUuid } from "./ids";
import { SEAT_COLUMNS, type SeatView } from "./reservation.views";
import type { SeatAvailabilityView, SeatMaps } from "./seat-maps";

/**
 * How a seat stream hears that its queue token ended (the queue's
 * QueueWatchers): `listener` gets the ticket on each change, last with EXPIRED,
 * from token events of any instance and a periodic re-read (so a session that
 * simply runs out is noticed too).
 */
export interface TokenWatch {
  watch(concertId: string, token: string, initial: QueueTicketView, listener: (ticket: QueueTicketView) => void): () => void;
}

/**
 * The seats of the reservations `$1` (uuid[]), each row with its reservation's
 * id, by seat number. Each reservation's rows by its key, then each seat by its
 * primary key: a join of reservation_seats to seats left to the planner scanned
 * every seat while reservation_seats had no statistics yet
 * (tests/db/plans-without-statistics.test.ts).
 */
export const SEATS_OF_RESERVATIONS_SQL = `SELECT rs.reservation_id AS "reservationId", seat.*
   FROM (SELECT DISTINCT id FROM unnest($1::uuid[]) AS ids (id)) q,
        LATERAL (SELECT rs.reservation_id, rs.seat_id, rs.seat_number FROM reservation_seats rs WHERE rs.reservation_id = q.id OFFSET 0) rs,
        LATERAL (SELECT ${SEAT_COLUMNS} FROM seats s WHERE s.id = rs.seat_id OFFSET 0) seat
  ORDER BY rs.seat_number`;

type Deps = { pool: Pool; bus: EventBus; queue: QueueGate; tokens: TokenWatch; maps: SeatMaps };

export interface SeatsInput {
  concertDateId: string;
  queueToken: string | undefined;
  /** Read as the sale's operator (admins only), without a queue token. */
  asOperator?: boolean | null;
}

export class SeatService {
  private readonly dates: DateDirectory;

  constructor(private readonly deps: Deps) {
    this.dates = new DateDirectory(deps.pool);
  }

  /**
   * Every seat of the date by number; an expired hold reads AVAILABLE. NOT_FOUND, then the gate.
   * From this instance's seat map (at most a second old, patched by every change).
   * With `asOperator` an admin reads it without a queue token (the operator's console).
   */
  async seats(actor: Actor, input: SeatsInput): Promise<SeatView[]> {
    const { concertId } = await this.dates.get(input.concertDateId);
    await this.gate(actor, input, concertId);
    return this.deps.maps.read(input.concertDateId);
  }

  /**
   * The same statuses as `seats`, compact and versioned (SeatAvailability). The
   * same checks in the same order: NOT_FOUND, then the gate.
   */
  async availability(actor: Actor, input: SeatsInput): Promise<SeatAvailabilityView> {
    const { concertId } = await this.dates.get(input.concertDateId);
    await this.gate(actor, input, concertId);
    return this.deps.maps.availability(input.concertDateId);
  }

  /** The seats of each reservation, by number (for a DataLoader). */
  async seatsOfReservations(reservationIds: readonly string[]): Promise<SeatView[][]> {
    const { rows } = await this.deps.pool.query<SeatView & { reservationId: string }>(SEATS_OF_RESERVATIONS_SQL, [reservationIds.filter(isUuid)]);
    const byReservation = new Map<string, SeatView[]>(reservationIds.map((id) => [id, []]));
    for (const { reservationId, ...seat } of rows) byReservation.get(reservationId)?.push(seat);
    return reservationIds.map((id) => byReservation.get(id) ?? []);
  }

  /**
   * Every change of a seat of the date, made by any instance, until the queue
   * token ends. The listeners are in place before the gate is checked, so a
   * token that ends in between still ends the stream. An operator (`asOperator`)
   * watches until the subscription is stopped.
   */
  async watchSeats(actor: Actor, input: SeatsInput): Promise<AsyncIterableIterator<SeatView>> {
    const { concertId } = await this.dates.get(input.concertDateId);
    const stream = new AsyncQueue<SeatView>();
    const stops: (() => void)[] = [];
    stream.onEnd(() => {
      for (const stop of stops) stop();
    });
    try {
      // A sale's changes leave the grade out (it cannot change while a seat is
      // HELD or SOLD): it comes from this instance's seat map, in arrival order.
      let delivered = Promise.resolve();
      stops.push(
        await this.deps.bus.listen<SeatChangeMessage>(seatChannel(input.concertDateId), (message) => {
          if (message.seats.every((seat) => seat.grade !== undefined)) {
            delivered = delivered.then(() => {
              for (const seat of message.seats) stream.push(seat);
            });
            return;
          }
          delivered = delivered
            .then(() => this.deps.maps.grades(input.concertDateId))
            .then(
              (gradeOf) => {
                for (const seat of message.seats) stream.push({ ...seat, grade: seat.grade ?? gradeOf(seat.number) });
              },
              () => {
                for (const seat of message.seats) stream.push(seat);
              },
            );
        }),
      );
      const token = input.queueToken;
      if (token) {
        // What an ACTIVE token looks like to the watcher: only a change from it is delivered.
        const active: QueueTicketView = {
          token,
          userId: actor.id,
          concertId,
          status: "ACTIVE",
          queuePosition: 0,
          remainingTime: 0,
          estimatedWaitSeconds: 0,
          expiredReason: null,
          saleOpensInSeconds: null,
          seatsLeft: 0,
        };
        stops.push(
          this.deps.tokens.watch(concertId, token, active, (ticket) => {
            if (ticket.status === "EXPIRED") stream.end();
          }),
        );
      }
      await this.gate(actor, input, concertId);
    } catch (error) {
      await stream.return();
      throw error;
    }
    return stream;
  }

  /**
   * The queue's gate; or, asked `asOperator`, FORBIDDEN unless an admin. Admins
   * are never admitted from a line, so the console reads as the operator; a plain
   * read keeps the queue's rules for everyone, admins included.
   */
  private async gate(actor: Actor, input: SeatsInput, concertId: string): Promise<void> {
    if (input.asOperator) return assertAdmin(actor);
    await this.deps.queue.requireActive(actor, input.queueToken, concertId);
  }
}
