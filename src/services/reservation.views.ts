// What the reservation, payment and seat reads return, and the SQL that reads
// them. Statuses are computed at read time so that a hold whose time has
// passed never shows as HELD (or its payment as PENDING), even between sweeps.
import type { Pool } from "pg";
import type { SeatChange } from "../pubsub/seat-events";
import { forbidden, notFound } from "../errors/app-error";
import { isUuid } from "./ids";
import { named } from "../db/named";
import { EFFECTIVE_SEAT_STATUS } from "./seat-locks";
import { holdIsOver } from "./hold-state";
import { storedResponse, type IdempotentCall } from "./idempotency";

export type ReservationStatus = "HELD" | "CONFIRMED" | "EXPIRED" | "CANCELLED" | "REFUNDED";
export type PaymentStatus = "PENDING" | "COMPLETED" | "EXPIRED" | "CANCELLED" | "REFUNDED";

export type SeatView = SeatChange;

export interface PaymentView {
  id: string;
  reservationId: string;
  amount: number;
  status: PaymentStatus;
  createdAt: Date;
  paidAt: Date | null;
  /** Set once refunded (rule 21). */
  refundedAmount?: number | null;
  refundedAt?: Date | null;
}

export interface ReservationView {
  id: string;
  userId: string;
  concertId: string;
  concertDateId: string;
  totalPrice: number;
  status: ReservationStatus;
  heldUntil: Date;
  createdAt: Date;
  /** Filled when the service has them at hand (a new hold); otherwise loaded in a batch. */
  seats?: SeatView[];
  payment?: PaymentView;
}

export const RESERVATION_COLUMNS = `r.id, r.user_id AS "userId", r.concert_id AS "concertId",
  r.concert_date_id AS "concertDateId", r.total_price AS "totalPrice",
  CASE WHEN r.status = 'HELD' AND ${holdIsOver("r.held_until")} THEN 'EXPIRED' ELSE r.status::text END AS status,
  r.held_until AS "heldUntil", r.created_at AS "createdAt"`;

/** Needs `payments p JOIN reservations r ON r.id = p.reservation_id`. */
export const PAYMENT_COLUMNS = `p.id, p.reservation_id AS "reservationId", p.amount,
  CASE WHEN p.status = 'PENDING' AND r.status = 'HELD' AND ${holdIsOver("r.held_until")} THEN 'EXPIRED' ELSE p.status::text END AS status,
  p.created_at AS "createdAt", p.paid_at AS "paidAt", p.refunded_amount AS "refundedAmount", p.refunded_at AS "refundedAt"`;

export const SEAT_COLUMNS = `s.id, s.concert_date_id AS "concertDateId", s.number, s.price, s.grade, ${EFFECTIVE_SEAT_STATUS} AS status`;

type OwnReservation = ReservationView & { queueToken: string };

/** Built once: the text is the prepared statement's key (src/db/named.ts), looked up on every pay. */
const OWN_RESERVATION = `SELECT ${RESERVATION_COLUMNS}, r.queue_token AS "queueToken" FROM reservations r WHERE r.id = $1`;

/**
 * The caller's own reservation with the queue token it was held with:
 * NOT_FOUND (a malformed ID names nothing either), then FORBIDDEN for another
 * user's. Used by cancel and pay alike.
 */
export async function getOwnReservation(pool: Pool, actor: { id: string }, id: string): Promise<OwnReservation> {
  const { rows } = isUuid(id) ? await pool.query<OwnReservation>(named(OWN_RESERVATION, [id])) : { rows: [] };
  return own(rows[0], actor);
}

/** FORBIDDEN: a pay, cancel or refund of someone else's reservation. */
export const anotherUsersReservation = () => forbidden("This reservation is another user's.");

/** NOT_FOUND for no row (or a row of NULLs from a LEFT JOIN), FORBIDDEN for another user's. */
function own(row: OwnReservation | undefined, actor: { id: string }): OwnReservation {
  if (!row || row.id === null) throw notFound("reservation");
  if (row.userId !== actor.id) throw anotherUsersReservation();
  return row;
}

/**
 * The key's row and the reservation in one query: a pay or a refund with a key asks for both,
 * and one round trip instead of two is less work for PostgreSQL on every such call (BENCHMARKS.md,
 * 2026-12-03). One statement reads both at one snapshot, so a call with the key that committed
 * its change of the reservation is seen with its stored answer. A reservation ID that is not a
 * UUID names no row (NULL matches nothing).
 */
const STORED_OR_OWN_RESERVATION = `SELECT k.operation AS "keyOperation", k.request_hash AS "keyHash", k.response AS "keyResponse",
    ${RESERVATION_COLUMNS}, r.queue_token AS "queueToken"
  FROM (SELECT 1) AS one
  LEFT JOIN idempotency_keys k ON k.user_id = $2 AND k.key = $3
  LEFT JOIN reservations r ON r.id = $1`;

/**
 * What findResponse and then getOwnReservation would answer, in their order: BAD_USER_INPUT for a
 * key used with other arguments, the stored response of a finished call with the key, NOT_FOUND,
 * FORBIDDEN, else the caller's reservation. Without a key, getOwnReservation's answer.
 */
export async function storedOrOwnReservation<T>(
  pool: Pool,
  actor: { id: string },
  id: string,
  call: IdempotentCall | undefined,
): Promise<{ stored: T } | { reservation: OwnReservation }> {
  if (!call) return { reservation: await getOwnReservation(pool, actor, id) };
  type Row = OwnReservation & { keyOperation: string | null; keyHash: string; keyResponse: T | null };
  const {
    rows: [row],
  } = await pool.query<Row>(named(STORED_OR_OWN_RESERVATION, [isUuid(id) ? id : null, call.userId, call.key]));
  const { keyOperation, keyHash, keyResponse, ...reservation } = row;
  const stored = keyOperation === null ? undefined : storedResponse(call, keyOperation, keyHash, keyResponse);
  return stored === undefined ? { reservation: own(reservation, actor) } : { stored };
}

/** A payment that crossed JSON (the idempotency store) with its dates back. */
export function paymentFromJson(json: PaymentView | Record<string, unknown>): PaymentView {
  const p = json as PaymentView & { createdAt: string | Date; paidAt: string | Date | null };
  return { ...p, createdAt: new Date(p.createdAt), paidAt: p.paidAt === null ? null : new Date(p.paidAt) };
}

/** A reservation that crossed JSON (the idempotency store of refunds) with its dates back. */
export function reservationFromJson(json: Record<string, unknown>): ReservationView {
  const r = json as unknown as ReservationView & { heldUntil: string; createdAt: string };
  return { ...r, heldUntil: new Date(r.heldUntil), createdAt: new Date(r.createdAt) };
}
