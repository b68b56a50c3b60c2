// Seat changes travel on one event-bus channel per concert date, so every
// instance's seatStatusChanged subscribers see changes made by any instance.
// One message per statement that changed seats (not per seat) keeps Redis traffic
// proportional to operations, not to seats.
import type { EventBus } from "./event-bus";

export type SeatStatusValue = "AVAILABLE" | "HELD" | "SOLD";

export interface SeatChange {
  id: string;
  concertDateId: string;
  number: number;
  price: number;
  /**
   * The seat's grade (rule 20). A grade never changes while a seat is HELD or
   * SOLD, so a change may leave it out (a sale's changes do); readers fill it in
   * from the seat map (src/services/seat-maps.ts).
   */
  grade?: string;
  status: SeatStatusValue;
  /**
   * When a HELD seat's hold ends (epoch ms), for the seat maps of every
   * instance (src/services/seat-maps.ts); not a field of the GraphQL Seat.
   */
  heldUntil?: number;
}

export interface SeatChangeMessage {
  seats: SeatChange[];
  /** The date's grades and prices changed (setSeatGrades): seat maps read the date again. */
  reload?: boolean;
}

export const seatChannel = (concertDateId: string) => `seats.${concertDateId}`;

/** Publishes the changed seats, one message per date. Call after the commit. */
export async function publishSeatChanges(bus: EventBus, seats: readonly SeatChange[]): Promise<void> {
  const byDate = new Map<string, SeatChange[]>();
  for (const seat of seats) {
    const list = byDate.get(seat.concertDateId);
    if (list) list.push(seat);
    else byDate.set(seat.concertDateId, [seat]);
  }
  await Promise.all([...byDate].map(([dateId, list]) => bus.publish(seatChannel(dateId), { seats: list } satisfies SeatChangeMessage)));
}

/** Tells every instance's seat maps to read the date again (its grades and prices changed). Call after the commit. */
export async function publishSeatReload(bus: EventBus, concertDateId: string): Promise<void> {
  await bus.publish(seatChannel(concertDateId), { seats: [], reload: true } satisfies SeatChangeMessage);
}
