// Tickets and the door (rule 22): the tickets ticket_pay issues (one per seat,
// with an unguessable code), the caller's tickets, and checkIn for admins.
// A refund voids them (ticket_refund); a void ticket is nobody's any more.
import type { Pool } from "pg";
import type { Actor } from "../auth/access-tokens";
import { AppError, badInput } from "../errors/app-error";
import { assertAdmin } from "./access";
import { isUuid } from "./ids";

export interface TicketView {
  id: string;
  reservationId: string;
  seatNumber: number;
  grade: string;
  code: string;
  checkedInAt: Date | null;
}

const TICKET_COLUMNS = `t.id, t.reservation_id AS "reservationId", t.seat_number AS "seatNumber", t.grade, t.code,
  t.checked_in_at AS "checkedInAt"`;
const MAX_CODE = 200;

export class TicketService {
  constructor(private readonly deps: { pool: Pool }) {}

  /** The caller's tickets that are not void (seats of CONFIRMED reservations), newest first. */
  async tickets(actor: Actor): Promise<TicketView[]> {
    const { rows } = await this.deps.pool.query<TicketView>(
      `SELECT ${TICKET_COLUMNS} FROM tickets t WHERE t.user_id = $1 AND t.voided_at IS NULL
        ORDER BY t.created_at DESC, t.id DESC`,
      [actor.id],
    );
    return rows;
  }

  /** The tickets of each reservation by seat number, for a DataLoader; a refunded reservation's are void, so none. */
  async ticketsOfReservations(reservationIds: readonly string[]): Promise<TicketView[][]> {
    const { rows } = await this.deps.pool.query<TicketView>(
      `SELECT ${TICKET_COLUMNS} FROM tickets t WHERE t.reservation_id = ANY($1::uuid[]) AND t.voided_at IS NULL
        ORDER BY t.seat_number`,
      [reservationIds.filter(isUuid)],
    );
    const byReservation = new Map<string, TicketView[]>(reservationIds.map((id) => [id, []]));
    for (const t of rows) byReservation.get(t.reservationId)?.push(t);
    return reservationIds.map((id) => byReservation.get(id) ?? []);
  }

  /**
   * Admits the ticket once. Errors in the contract's order: BAD_USER_INPUT (an
   * empty or oversized code), NOT_FOUND (unknown or void), FORBIDDEN (not an
   * admin), ALREADY_CHECKED_IN (with the first time). The conditional UPDATE
   * decides a race with a second scan or a refund: a refund locks the ticket
   * and voids it, so an UPDATE waiting behind it finds it void.
   */
  async checkIn(actor: Actor, code: string): Promise<TicketView> {
    if (code.length === 0 || code.length > MAX_CODE) throw badInput(`A ticket code has 1 to ${MAX_CODE} characters.`, "code");
    const found = await this.deps.pool.query<{ id: string }>(`SELECT t.id FROM tickets t WHERE t.code = $1 AND t.voided_at IS NULL`, [code]);
    if (!found.rows[0]) throw new AppError("NOT_FOUND", "No valid ticket has that code (unknown, or void after a refund).");
    assertAdmin(actor);
    const { rows } = await this.deps.pool.query<TicketView>(
      `UPDATE tickets t SET checked_in_at = clock_timestamp()
        WHERE t.code = $1 AND t.voided_at IS NULL AND t.checked_in_at IS NULL
       RETURNING ${TICKET_COLUMNS}`,
      [code],
    );
    if (rows[0]) return rows[0];
    const now = await this.deps.pool.query<{ voided: boolean; checkedInAt: Date | null }>(
      `SELECT t.voided_at IS NOT NULL AS voided, t.checked_in_at AS "checkedInAt" FROM tickets t WHERE t.code = $1`,
      [code],
    );
    const ticket = now.rows[0];
    if (!ticket || ticket.voided || !ticket.checkedInAt)
      throw new AppError("NOT_FOUND", "No valid ticket has that code (unknown, or void after a refund).");
    throw new AppError("ALREADY_CHECKED_IN", `This ticket was already checked in at ${ticket.checkedInAt.toISOString()}.`, {
      checkedInAt: ticket.checkedInAt.toISOString(),
    });
  }
}
