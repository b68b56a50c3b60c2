// A store's view of a token, as the contract's QueueTicket.
import type { TokenState } from "./queue-store";
import type { QueueTicketView } from "./queue.types";

/** Below this many admissions per second the line is not moving: no honest estimate. */
const MIN_RATE = 0.01;

export function toTicket(s: TokenState): QueueTicketView {
  const remaining = s.status === "EXPIRED" ? 0 : Math.max(0, Math.ceil((s.expiresAt - s.now) / 1000));
  // Position 0 while WAITING: in the pre-queue, its place is drawn at the opening (rule 16).
  const preQueue = s.status === "WAITING" && s.position === 0;
  let estimate: number | null = null;
  if (s.status === "ACTIVE") estimate = 0;
  else if (s.status === "WAITING" && !preQueue && s.admissionOpen !== false) estimate = estimateFor(s.position, s.admissionRate);
  return {
    token: s.token,
    userId: s.userId,
    concertId: s.concertId,
    status: s.status,
    queuePosition: s.status === "WAITING" ? s.position : 0,
    remainingTime: remaining,
    estimatedWaitSeconds: estimate,
    expiredReason: s.status === "EXPIRED" ? s.expiredReason : null,
    saleOpensInSeconds: preQueue ? Math.max(0, Math.ceil(((s.saleOpensAt ?? s.now) - s.now) / 1000)) : null,
    seatsLeft: s.seatsLeft ?? 0,
  };
}

/** A WAITING ticket's estimate at `position` with the observed rate (null: the line is not moving). */
export function estimateFor(position: number, admissionRate: number | null): number | null {
  if (admissionRate === null || admissionRate < MIN_RATE) return null;
  return roundEstimate(position / admissionRate);
}

/**
 * An estimate in steps that fit its size (5 s under a minute, 30 s under ten
 * minutes, then whole minutes): the observed rate wobbles from second to
 * second, and an estimate that wobbled with it would push a new ticket to
 * every waiting subscriber every second while saying nothing new.
 */
export function roundEstimate(seconds: number): number {
  const step = seconds < 60 ? 5 : seconds < 600 ? 30 : 60;
  return Math.max(step, Math.ceil(seconds / step) * step);
}
