// Putting the concert on sale through the API, the seat-map probe's user, and
// reading back what the database recorded (e-mails, sales).
import { Client } from "pg";
import { graphql } from "../lib/load";
import type { Sale } from "./figures";
import type { RushOptions } from "./options";

/** `opensAt`: a scheduled opening (moved to its real moment just before the crowd starts, bench/rush/opening.ts). */
export async function putOnSale(url: string, adminJwt: string, o: RushOptions, opensAt?: Date) {
  const c = await graphql<{ createConcert: { id: string } }>(
    url,
    "mutation($t: String!, $o: DateTime) { createConcert(input: { title: $t, saleOpensAt: $o }) { id } }",
    { t: "The on-sale rush", o: opensAt?.toISOString() ?? null },
    adminJwt,
  );
  const concertId = c.createConcert.id;
  const d = await graphql<{ addConcertDate: { id: string } }>(
    url,
    "mutation($i: AddConcertDateInput!) { addConcertDate(input: $i) { id } }",
    { i: { concertId, startsAt: "2030-05-01T19:00:00.000Z", seatCount: o.seats, price: o.price } },
    adminJwt,
  );
  await graphql(
    url,
    "mutation($c: ID!, $i: QueuePolicyInput!) { updateQueuePolicy(concertId: $c, input: $i) { maxActiveUsers } }",
    { c: concertId, i: { maxActiveUsers: o.maxActive, admitPerSecond: o.admitPerSecond, activeSessionSeconds: o.sessionSeconds } },
    adminJwt,
  );
  return { concertId, dateId: d.addConcertDate.id };
}

/** A user outside the crowd, for the seat-map probe (the same password hash as the crowd's). */
export async function addProbeUser(url: string): Promise<string> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ id: string }>(
      `INSERT INTO users (email, password_hash) SELECT 'rush-probe@bench.test', password_hash FROM users WHERE role = 'USER' LIMIT 1 RETURNING id`,
    );
    return rows[0].id;
  } finally {
    await c.end();
  }
}

export async function emailsOf(url: string, ids: string[]): Promise<Map<string, string>> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ id: string; email: string }>("SELECT id, email FROM users WHERE id = ANY($1::uuid[])", [ids]);
    return new Map(rows.map((r) => [r.id, r.email]));
  } finally {
    await c.end();
  }
}

/** Every COMPLETED payment (ms after the opening, seats), and whether every seat is SOLD. */
export async function salesOf(url: string, t0: number): Promise<{ sales: Sale[]; soldOut: boolean }> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ at: number; seats: number }>(
      `SELECT extract(epoch FROM p.paid_at)::float8 * 1000 AS at,
              (SELECT count(*)::int FROM reservation_seats rs WHERE rs.reservation_id = p.reservation_id) AS seats
         FROM payments p WHERE p.status = 'COMPLETED' ORDER BY p.paid_at`,
    );
    const left = await c.query<{ left: number }>(`SELECT count(*)::int AS left FROM seats WHERE status <> 'SOLD'`);
    return { sales: rows.map((r) => ({ at: r.at - t0, seats: r.seats })), soldOut: left.rows[0].left === 0 };
  } finally {
    await c.end();
  }
}
