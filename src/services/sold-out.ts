// Whether a concert has no seat left unsold on any date to come. Asked after a
// sale; both probes use the partial index seats_unsold_idx (status <> 'SOLD'),
// so a nearly sold-out date of 100,000 seats costs one index probe, not a scan.
import type { Pool } from "pg";

export async function isConcertSoldOut(pool: Pool, concertId: string, soldDateId: string): Promise<boolean> {
  // Most sales leave their own date with seats: answer that cheaply first.
  const date = await pool.query<{ done: boolean }>(
    `SELECT NOT EXISTS (SELECT 1 FROM seats WHERE concert_date_id = $1 AND status <> 'SOLD') AS done`,
    [soldDateId],
  );
  if (!date.rows[0].done) return false;
  const concert = await pool.query<{ done: boolean }>(
    `SELECT NOT EXISTS (
       SELECT 1 FROM concert_dates d
        WHERE d.concert_id = $1 AND d.starts_at > now()
          AND EXISTS (SELECT 1 FROM seats s WHERE s.concert_date_id = d.id AND s.status <> 'SOLD')
     ) AS done`,
    [concertId],
  );
  return concert.rows[0].done;
}
