// A store's view of a token, as the contract's QueueTicket.
import type { TokenState } from "./queue-store";
import type { QueueTicketView } from "./queue.types";

/** Below this many admissions per second the line is not moving: no honest estimate. */
const MIN_RATE = 0.01;

export function toTicket(s: TokenState): QueueTicketView {
  const remaining = s.status === "EXPIRED" ? 0 : Math.max(0, Math.ceil((s.expiresAt - s.now) / 1000));
  let estimate: number | null = null;
  if (s.status === "ACTIVE") estimate = 0;
  else if (s.status === "WAITING" && s.admissionRate !== null && s.admissionRate >= MIN_RATE) {
    estimate = Math.ceil(s.position / s.admissionRate);
  }
  return {
    token: s.token,
    userId: s.userId,
    concertId: s.concertId,
    status: s.status,
    queuePosition: s.status === "WAITING" ? s.position : 0,
    remainingTime: remaining,
    estimatedWaitSeconds: estimate,
    expiredReason: s.status === "EXPIRED" ? s.expiredReason : null,
  };
}
