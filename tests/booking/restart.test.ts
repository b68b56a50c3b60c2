// A server cut off in the middle of traffic (its database sessions killed
// mid-transaction, then the process replaced by a new one on the same
// database) leaves no seat both SOLD and free, no money lost, and no hold past
// its time once the new instance's sweeper has run.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queueStores } from "../support/stores";
import { startDeployment, startTestServer, testSettings, type TestServer } from "../support/server";
import { gql, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { sql } from "../support/sql";
import { OPEN_QUEUE, PAY, RESERVE, expectLedgersMatchBalances, expectSeatInvariants, newShopper } from "../support/booking";

const SETTINGS = { ...OPEN_QUEUE, HOLD_SECONDS: "2" };

describe.each(queueStores("restart"))("restart ($name)", ({ instances, redis }) => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  let admin: TestUser;
  let replacement: TestServer | undefined;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  beforeAll(async () => {
    deployment = await startDeployment({ settings: SETTINGS });
    admin = await newAdmin(deployment.server);
  });
  afterAll(async () => {
    await replacement?.close();
    await deployment.close();
  });

  describe("a server cut off mid-traffic", () => {
    it("leaves consistent seats and money, and its holds end on time after a restart", async () => {
      const { server } = deployment;
      const concert = await newConcert(server, admin, { dates: [{ seatCount: 60, price: 100 }] });
      const date = concert.dates[0].id;
      const users = await Promise.all(Array.from({ length: 40 }, () => newShopper(server.url, concert.id, 1000)));
      const traffic = Promise.all(
        users.map(async (u, i) => {
          const held = await gql(server.url, RESERVE, { d: date, n: [i + 1, ((i + 7) % 60) + 1] }, u.q).catch(() => undefined);
          if (held?.data?.reserveSeats) await gql(server.url, PAY, { r: held.data.reserveSeats.id }, u.q).catch(() => undefined);
        }),
      );
      await sleep(40);
      // The crash, as the database sees it: every session of the instance dies mid-transaction.
      await sql(
        deployment.db.url,
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      server.app.httpServer.closeAllConnections();
      await traffic;
      await server.close();

      replacement = await startTestServer({ databaseUrl: deployment.db.url, settings: testSettings(SETTINGS) });
      await expectSeatInvariants(deployment.db.url);
      await expectLedgersMatchBalances(deployment.db.url);
      await sleep(2_000 + 1_200);
      const late = await sql(
        deployment.db.url,
        `SELECT 'reservation' AS what, id::text FROM reservations WHERE status = 'HELD' AND held_until < now() - interval '1 second'
         UNION ALL SELECT 'seat', id::text FROM seats WHERE status = 'HELD' AND held_until < now() - interval '1 second'`,
      );
      expect(late).toEqual([]);
      await expectSeatInvariants(deployment.db.url);
      await expectLedgersMatchBalances(deployment.db.url);
      // Money is where the sales are: what was paid equals what the seats sold for.
      const [money] = await sql<{ spent: number; sold: number }>(
        deployment.db.url,
        `SELECT (SELECT coalesce(sum(1000 - balance), 0)::int FROM users WHERE role = 'USER' AND balance <= 1000) AS spent,
                (SELECT coalesce(sum(price), 0)::int FROM seats WHERE concert_date_id = $1 AND status = 'SOLD') AS sold`,
        [date],
      );
      expect(money.spent).toBe(money.sold);
    });
  });
});
