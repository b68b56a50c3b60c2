// The waiting room's vocabulary, shared by the queue stores, the queue service
// and the features that end tokens (reservations, payments).
// The statuses and expiry reasons are declared here once; the GraphQL enums
// (src/schema/queue.type.ts) are made from these lists.
export const QUEUE_STATUSES = ["WAITING", "ACTIVE", "EXPIRED"] as const;
export type QueueStatus = (typeof QUEUE_STATUSES)[number];
export const QUEUE_EXPIRIES = ["PAID", "SOLD_OUT", "HOLD_TIMEOUT", "SESSION_TIMEOUT", "ABANDONED", "LEFT"] as const;
export type QueueExpiry = (typeof QUEUE_EXPIRIES)[number];

export interface QueueTicketView {
  token: string;
  userId: string;
  concertId: string;
  status: QueueStatus;
  /** 1-based place in line while WAITING; 0 once ACTIVE or EXPIRED. */
  queuePosition: number;
  /** Whole seconds, rounded up; 0 once EXPIRED. */
  remainingTime: number;
  /** Whole seconds until admission while WAITING (null: no estimate yet); 0 once ACTIVE. */
  estimatedWaitSeconds: number | null;
  expiredReason: QueueExpiry | null;
  /** Seconds until the sale opens while in the pre-queue (rule 16); null once open. */
  saleOpensInSeconds: number | null;
  /** Seats AVAILABLE now over the concert's dates to come (rule 18). */
  seatsLeft: number;
}

/**
 * What the reservation and payment features need from the waiting room.
 * Implemented by QueueService.
 */
export interface QueueGate {
  /**
   * Checks that `token` is an ACTIVE token of `actor` for `concertId`, throwing the
   * contract's errors in its order: QUEUE_TOKEN_REQUIRED (no token),
   * QUEUE_TOKEN_INVALID (unknown, or for another concert), FORBIDDEN (another
   * user's), QUEUE_NOT_ACTIVE (WAITING), QUEUE_TOKEN_EXPIRED (EXPIRED).
   */
  requireActive(actor: { id: string }, token: string | undefined, concertId: string): Promise<void>;
  /** A hold was placed with this token: its session lasts at least until `heldUntil`. */
  holdPlaced(token: string, heldUntil: Date): Promise<void>;
  /** The hold placed with this token was cancelled: its session ends on its own time again. */
  holdReleased(token: string): Promise<void>;
  /** Ends one token (after a payment: PAID; after its hold ran out: HOLD_TIMEOUT). Idempotent. */
  expireToken(token: string, reason: "PAID" | "HOLD_TIMEOUT"): Promise<void>;
  /**
   * The concert sold out: every token of it, WAITING ones too, ends SOLD_OUT; enterQueue answers SOLD_OUT.
   * With keepLineAfterSellOut only ACTIVE tokens without a hold end; the line stays as a waiting list (rule 23).
   */
  concertSoldOut(concertId: string): Promise<void>;
  /**
   * These seats came back on sale (a refund, a hold that ran out or was cancelled), after the commit:
   * on a waiting list each admits the next in line (rule 23). `wereSold` (a refund): a concert that
   * sold out without a waiting list takes entries again.
   */
  seatsBackOnSale(seats: readonly { concertDateId: string }[], wereSold?: boolean): Promise<void>;
}
