// The waiting room's state behind one interface, with two implementations:
// Redis (any number of instances; every multi-key step is one Lua script) and
// in-process (the embedded default, one instance). One test suite runs both.
import type { QueueExpiry, QueueStatus } from "./queue.types";

export interface QueuePolicyValues {
  maxActiveUsers: number;
  admitPerSecond: number;
  activeSessionSeconds: number;
  /** false while admission is paused (rule 25); absent: open. */
  admissionOpen?: boolean;
}

/**
 * The concert's scheduled opening, as an entry or an admission step needs it
 * (rules 16 and 17). Before `opensAt` (the store's clock decides) an entry
 * joins the pre-queue, keyed by `drawKey` (its user's HMAC under the draw's
 * seed, src/services/opening-draw.ts); nobody is admitted while the opening
 * lies ahead or the pre-queue waits for its draw.
 */
export interface Opening {
  /** Epoch ms; null: no opening ahead. */
  opensAt: number | null;
  /** The entering user's draw key (enter only). */
  drawKey?: string | null;
}

/** What the admin's QueueStats needs from the store (rule 26). */
export interface QueueCounts {
  /** WAITING tokens, the pre-queue's included. */
  waiting: number;
  active: number;
  /** WAITING tokens in the pre-queue. */
  preQueue: number;
  /** Admissions in the last 60 seconds. */
  admittedLastMinute: number;
}

/** The draw's outcome: `done` when this call ordered the pre-queue (exactly one call per opening does). */
export interface DrawResult {
  done: boolean;
  /** Tokens this call ordered. */
  ordered: number;
}

/** A token as the store sees it at one instant. */
export interface TokenState {
  token: string;
  userId: string;
  concertId: string;
  status: QueueStatus;
  /** WAITING tokens ahead plus one; 0 unless WAITING. */
  position: number;
  /** WAITING: when it is dropped if not seen again; ACTIVE: when its session ends; EXPIRED: 0. Epoch ms. */
  expiresAt: number;
  expiredReason: QueueExpiry | null;
  /** The store's clock when this state was read (epoch ms). */
  now: number;
  /** Admissions per second observed lately for the concert (null: none observed yet). */
  admissionRate: number | null;
  // The concert's facts the queue service adds to a ticket (not the store's):
  /** Seats AVAILABLE now over the concert's dates to come (rule 18). */
  seatsLeft?: number;
  /** The scheduled opening (epoch ms) while the token is in the pre-queue. */
  saleOpensAt?: number | null;
  /** false while admission is paused (no estimate then, rule 25). */
  admissionOpen?: boolean;
}

export interface TickResult {
  admitted: TokenState[];
  expired: TokenState[];
  waiting: number;
  active: number;
}

export type EnterResult =
  | { soldOut: true }
  | {
      soldOut: false;
      created: boolean;
      state: TokenState;
      admitted: TokenState[] /** The token's order of entry (the Redis store; for the journal). */;
      seq?: number;
      /** The token entered the pre-queue (the Redis store; for the journal). */ preQueue?: boolean;
    };

export interface QueueStore {
  /**
   * The user's live token for the concert, or a new one at the back of the line (admitted at once if there is room);
   * before the `opening`, a new token joins the pre-queue (WAITING, position 0).
   */
  enter(concertId: string, userId: string, newToken: string, policy: QueuePolicyValues, idleSeconds: number, opening?: Opening): Promise<EnterResult>;
  /** The token's state; when `touch`, a WAITING token counts as seen now. Null: unknown token. */
  read(concertId: string, token: string, idleSeconds: number, touch: boolean): Promise<TokenState | null>;
  /** Many tokens of one concert in one round trip; WAITING ones count as seen (their subscriptions are open). */
  readMany(concertId: string, tokens: string[], idleSeconds: number): Promise<(TokenState | null)[]>;
  /** Ends the token with `reason` unless it already ended. `changed` is false when it was EXPIRED already. */
  expire(concertId: string, token: string, reason: QueueExpiry, idleSeconds: number): Promise<{ changed: boolean; state: TokenState } | null>;
  /** An ACTIVE token's session lasts at least until `untilMs` (a hold), or (null) on its own time again. */
  setHold(concertId: string, token: string, untilMs: number | null): Promise<void>;
  /** Ends sessions and drops unseen WAITING tokens that are due, then admits as the policy allows. */
  tick(concertId: string, policy: QueuePolicyValues, idleSeconds: number, opening?: Opening): Promise<TickResult>;
  /**
   * The opening draw (rule 17), atomic: the pre-queue's tokens take the places
   * of the pre-queue (ahead of every later entry) in draw-key order, lowest
   * first. Once per `commitment`: a second call answers done: false. Null when
   * the store's clock says the opening is still ahead.
   */
  draw(concertId: string, commitment: string, opensAt: number | null): Promise<DrawResult | null>;
  /** Whether anyone ever entered the concert's line. */
  everEntered(concertId: string): Promise<boolean>;
  /** The line's numbers for QueueStats. */
  stats(concertId: string): Promise<QueueCounts>;
  /**
   * The policy an admin just set (rule 25's pause among it), where every instance's steps read it: from now
   * on they follow it, whatever policy their caller passes (an instance's cached copy may be a moment old).
   */
  setPolicy(concertId: string, policy: QueuePolicyValues): Promise<void>;
  /** Every token of the concert ends SOLD_OUT, without a loop over them; enter answers soldOut until reopened. */
  soldOut(concertId: string): Promise<void>;
  /** The concert has seats again (a date was added): new tokens may enter. */
  reopen(concertId: string): Promise<void>;
  counts(concertId: string): Promise<{ waiting: number; active: number }>;
  /**
   * The waiting list (rule 23): a sell-out of a concert that keeps its line.
   * ACTIVE tokens without a running hold end SOLD_OUT (returned), WAITING ones
   * stay, enter still joins, and from now on admission is one user per seat
   * back on sale (seatsBack), until reopen or endLine.
   */
  sellOutKeepingLine(concertId: string, idleSeconds: number): Promise<TokenState[]>;
  /** `seats` came back on sale: on a waiting list each admits the next in line under the policy. Returns the admitted. */
  seatsBack(concertId: string, seats: number, policy: QueuePolicyValues, idleSeconds: number): Promise<TokenState[]>;
  /** The concert's last date has started: the waiting list closes and every token ends SOLD_OUT (as soldOut). */
  endLine(concertId: string): Promise<void>;
  /** Concerts whose queues have had activity lately: the ones the ticker visits. */
  concerts(): Promise<string[]>;
  /**
   * The ticker found the concert's line empty and nobody ACTIVE: it leaves the
   * ticker's list once nobody has entered for a while (an entry puts it back).
   */
  forgetIfIdle(concertId: string): Promise<void>;
  close(): Promise<void>;
}
