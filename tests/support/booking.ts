// Factories and invariant checks for the seat, hold, wallet and payment tests.
// Users get their ACTIVE queue token through the real queue (enterQueue).
import { expect } from "vitest";
import { bearer, gql, signUp, type TestUser } from "./client";
import { sql } from "./sql";

/** Settings under which every user who enters is ACTIVE at once. */
export const OPEN_QUEUE = {
  QUEUE_MAX_ACTIVE: "100000",
  QUEUE_ADMIT_PER_SECOND: "100000",
  QUEUE_ENTER_PER_SECOND: "1000",
};

export const RESERVE = `mutation($d:ID!,$n:[Int!]!){ reserveSeats(concertDateId:$d, seatNumbers:$n){
  id userId concertId concertDateId totalPrice status heldUntil
  seats { id number price status concertDateId } payment { id reservationId amount status createdAt paidAt } } }`;
export const CANCEL = `mutation($r:ID!){ cancelReservation(reservationId:$r){ id status seats { number status } payment { status } } }`;
export const PAY = `mutation($r:ID!,$k:String){ pay(reservationId:$r, idempotencyKey:$k){ id reservationId amount status createdAt paidAt } }`;
export const CHARGE = `mutation($a:Int!,$k:String){ chargeBalance(amount:$a, idempotencyKey:$k) }`;
export const SEATS = `query($d:ID!){ seats(concertDateId:$d){ id number price status concertDateId } }`;
export const BALANCE = `{ balance }`;
export const STATUS = `query($t:String!){ queueStatus(token:$t){ status expiredReason } }`;

export interface Shopper extends TestUser {
  queueToken: string;
  /** Authorization and X-Queue-Token. */
  q: Record<string, string>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A new user with an ACTIVE token for the concert (and `balance` charged, if given). */
export async function newShopper(url: string, concertId: string, balance = 0): Promise<Shopper> {
  const user = await signUp(url, "shopper");
  return enterAs(url, user, concertId, balance);
}

/** An existing user enters the concert's queue and waits until ACTIVE. */
export async function enterAs(url: string, user: TestUser, concertId: string, balance = 0): Promise<Shopper> {
  const r = await gql(url, `mutation($c:ID!){ enterQueue(concertId:$c){ token status } }`, { c: concertId }, user.headers);
  if (!r.data) throw new Error(`enterQueue failed: ${JSON.stringify(r.errors)}`);
  const token = r.data.enterQueue.token as string;
  for (let status = r.data.enterQueue.status, i = 0; status !== "ACTIVE"; i++) {
    if (i > 50) throw new Error(`token still ${status}`);
    await sleep(100);
    status = (await gql(url, STATUS, { t: token }, user.headers)).data.queueStatus.status;
  }
  if (balance > 0) {
    const c = await gql(url, CHARGE, { a: balance }, user.headers);
    if (c.errors) throw new Error(`chargeBalance failed: ${JSON.stringify(c.errors)}`);
  }
  return { ...user, queueToken: token, q: bearer(user.token, token) };
}

/** Rule 11: every user's balance equals the sum of their ledger, and the last balanceAfter. */
export async function expectLedgersMatchBalances(dbUrl: string): Promise<void> {
  const wrong = await sql(
    dbUrl,
    `SELECT u.id, u.balance, coalesce(sum(l.amount), 0)::int AS ledger_sum,
            (SELECT balance_after FROM ledger_entries WHERE user_id = u.id ORDER BY id DESC LIMIT 1) AS last_after
       FROM users u LEFT JOIN ledger_entries l ON l.user_id = u.id
      GROUP BY u.id
     HAVING u.balance <> coalesce(sum(l.amount), 0)
         OR u.balance <> coalesce((SELECT balance_after FROM ledger_entries WHERE user_id = u.id ORDER BY id DESC LIMIT 1), 0)`,
  );
  expect(wrong).toEqual([]);
}

/** Rule 7 and friends: what the seat and reservation tables must never show. */
export async function expectSeatInvariants(dbUrl: string): Promise<void> {
  const broken = await sql(
    dbUrl,
    `SELECT 'held seat of a reservation not HELD' AS what, s.id::text FROM seats s JOIN reservations r ON r.id = s.reservation_id
      WHERE s.status = 'HELD' AND r.status <> 'HELD'
     UNION ALL
     SELECT 'sold seat of a reservation not CONFIRMED', s.id::text FROM seats s JOIN reservations r ON r.id = s.reservation_id
      WHERE s.status = 'SOLD' AND r.status <> 'CONFIRMED'
     UNION ALL
     SELECT 'seat in two live reservations', rs.seat_id::text FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
      WHERE r.status = 'CONFIRMED' OR (r.status = 'HELD' AND r.held_until > now())
      GROUP BY rs.seat_id HAVING count(*) > 1
     UNION ALL
     SELECT 'confirmed reservation with a seat not SOLD to it', r.id::text FROM reservations r
       JOIN reservation_seats rs ON rs.reservation_id = r.id JOIN seats s ON s.id = rs.seat_id
      WHERE r.status = 'CONFIRMED' AND (s.status <> 'SOLD' OR s.reservation_id <> r.id)
     UNION ALL
     SELECT 'payment status not matching its reservation', p.id::text FROM payments p JOIN reservations r ON r.id = p.reservation_id
      WHERE (r.status = 'HELD') <> (p.status = 'PENDING') OR (r.status = 'CONFIRMED') <> (p.status = 'COMPLETED')
         OR (r.status = 'EXPIRED') <> (p.status = 'EXPIRED') OR (r.status = 'CANCELLED') <> (p.status = 'CANCELLED')`,
  );
  expect(broken).toEqual([]);
}
