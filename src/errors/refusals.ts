// The one place the PL/pgSQL functions' refusals become the errors of contract/README.md.
// A function refuses with SQLSTATE P0001, message `ticketing:<CODE>` and the
// facts in DETAIL (prisma/functions/README.md); refusalOf reads them.
import { refusalOf } from "../db/one-statement";
import { assertStillHeld } from "../services/hold-state";
import { keyReused } from "../services/idempotency";
import { anotherUsersReservation } from "../services/reservation.views";
import { AppError, notFound, unauthenticated } from "./app-error";

/** Why ticket_refund refused (its DETAIL), as a person reads it. */
const NOT_REFUNDABLE_BECAUSE: Record<string, string> = {
  CLOSED: "Refunds of this date have closed",
  CHECKED_IN: "A ticket of this reservation was checked in",
  REFUNDED: "This reservation was already refunded",
};

/** QUEUE_TOKEN_INVALID: a pay sent with another token than the one its hold was placed with. */
export const notItsQueueToken = () => new AppError("QUEUE_TOKEN_INVALID", "Pay with the queue token this reservation was held with.");

/** What some messages need that the database does not say. */
export interface RefusalFacts {
  maxBalance?: number;
  reservationId?: string;
}

/**
 * The AppError for a ticketing function's refusal, or undefined when `error`
 * is not one (then the caller rethrows it as it is).
 */
export function refusalError(error: unknown, facts: RefusalFacts = {}): Error | undefined {
  const refusal = refusalOf(error);
  if (!refusal) return undefined;
  const { code, detail } = refusal;
  switch (code) {
    case "KEY_REUSED":
      return keyReused();
    case "NO_USER":
      return unauthenticated("The account of this access token no longer exists.");
    case "BALANCE_LIMIT":
      return new AppError("BALANCE_LIMIT", `This charge would take your balance over ${facts.maxBalance}.`);
    case "SEAT_UNAVAILABLE": {
      const taken = (detail ?? "").split(",").filter(Boolean).map(Number);
      return new AppError("SEAT_UNAVAILABLE", `Seat ${taken.join(", ")} is no longer available: none was held.`, { seatNumbers: taken });
    }
    case "TICKET_LIMIT": {
      const [limit, owned] = (detail ?? "").split(",").map(Number);
      return new AppError("TICKET_LIMIT", `One person may have at most ${limit} seats of this date; you have ${owned} already: none was held.`, {
        ticketLimitPerUser: limit,
        seatsOwned: owned,
      });
    }
    case "NOT_FOUND":
      return notFound("reservation");
    case "FORBIDDEN":
      return anotherUsersReservation();
    case "QUEUE_TOKEN_INVALID":
      return notItsQueueToken();
    case "NOT_HELD":
      try {
        assertStillHeld(detail ?? "EXPIRED");
      } catch (notHeld) {
        return notHeld as Error;
      }
      return new Error(`reservation ${facts.reservationId} is held but its conditional update matched nothing`);
    case "HOLD_EXPIRED":
      return new AppError("HOLD_EXPIRED", "This hold ran out before the payment: nothing was charged.");
    case "NOT_REFUNDABLE": {
      const why = NOT_REFUNDABLE_BECAUSE[detail ?? ""] ?? `This reservation is ${detail}, not CONFIRMED`;
      return new AppError("NOT_REFUNDABLE", `${why}: it cannot be refunded.`);
    }
    case "INSUFFICIENT_BALANCE":
      return new AppError("INSUFFICIENT_BALANCE", `Your balance is less than the total of ${detail}: charge it first. Nothing was paid.`);
  }
  return undefined;
}
