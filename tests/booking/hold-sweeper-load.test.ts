// Holds end on time however busy the instance is: while 24 holds run out, the
// instance serves many concurrent requests and its event loop is held up for
// 1.6 s at a time (the worst of a rush: a loaded loop runs timers and database
// replies late). No hold may stay HELD more than 1.5 s past its held_until,
// by the database's clock, and every one ends.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { startDeployment } from "../support/server";
import { gql } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { newShopper, OPEN_QUEUE, RESERVE, SEATS } from "../support/booking";

const HOLDS = 24;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the hold sweeper under load", () => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  beforeAll(async () => {
    deployment = await startDeployment({ settings: { ...OPEN_QUEUE, HOLD_SECONDS: "2" } });
  });
  afterAll(() => deployment.close());

  it("ends every hold within 1.5 s of heldUntil while the instance is busy", { timeout: 120_000 }, async () => {
    const url = deployment.server.url;
    const admin = await newAdmin(deployment.server);
    const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 2_000, price: 100 }] });
    const date = concert.dates[0].id;
    const t0 = Date.now();
    const shoppers = await Promise.all(Array.from({ length: HOLDS }, () => newShopper(url, concert.id)));

    const monitor = new Client({ connectionString: deployment.db.url });
    await monitor.connect();
    let loading = true;
    let served = 0;
    let worstLateMs = 0;
    let blocks = 0;
    try {
      // Load: 12 clients asking back to back, and the event loop blocked 1.6 s in every 1.9 s.
      const clients = shoppers.slice(0, 12).map(async (s) => {
        while (loading) {
          const r = await gql(url, s.id.endsWith("0") ? `{ concerts { id dates { id availableSeats soldOut } } }` : SEATS, { d: date }, s.q);
          if (!r.errors) served++;
        }
      });
      const hog = (async () => {
        while (loading) {
          const until = Date.now() + 1_600;
          while (Date.now() < until); // busy, as a saturated event loop is
          blocks++;
          await sleep(300);
        }
      })();
      console.info(`load started ${Date.now() - t0} ms after the start`);
      // Holds placed in three waves, so they run out while the load goes on.
      const held: string[] = [];
      for (let wave = 0; wave < HOLDS / 8; wave++) {
        const group = shoppers.slice(wave * 8, wave * 8 + 8);
        const results = await Promise.all(group.map((s, i) => gql(url, RESERVE, { d: date, n: [wave * 8 + i + 1] }, s.q)));
        for (const r of results) {
          expect(r.errors).toBeUndefined();
          held.push(r.data.reserveSeats.id);
        }
        await sleep(300);
      }
      // Watch, by the database's clock, until every hold has ended (or a generous deadline).
      const deadline = Date.now() + 30_000;
      for (;;) {
        const { rows } = await monitor.query<{ late: number | null; open: number }>(
          `SELECT max(extract(epoch FROM clock_timestamp() - held_until) * 1000)
                    FILTER (WHERE held_until < clock_timestamp())::float8 AS late,
                  count(*)::int AS open
             FROM reservations WHERE id = ANY($1::uuid[]) AND status = 'HELD'`,
          [held],
        );
        worstLateMs = Math.max(worstLateMs, rows[0].late ?? 0);
        if (rows[0].open === 0 || Date.now() > deadline) break;
        await sleep(50);
      }
      console.info(`holds ended ${Date.now() - t0} ms after the start`);
      loading = false;
      await Promise.all([...clients, hog]);
      console.info(`load stopped ${Date.now() - t0} ms after the start`);
      const { rows } = await monitor.query<{ status: string; n: number }>(
        `SELECT status::text, count(*)::int AS n FROM reservations WHERE id = ANY($1::uuid[]) GROUP BY status`,
        [held],
      );
      expect(rows).toEqual([{ status: "EXPIRED", n: HOLDS }]);
    } finally {
      loading = false;
      await monitor.end();
    }
    console.info(
      `hold sweeper under load: ${served} requests served, ${blocks} event-loop blocks, worst hold ${Math.round(worstLateMs)} ms past its time`,
    );
    // It was loaded: requests were served and the loop was blocked throughout.
    expect(served).toBeGreaterThan(0);
    expect(blocks).toBeGreaterThanOrEqual(3);
    expect(worstLateMs).toBeLessThan(1_500);
  });
});
