// A server cut off in the middle of traffic (its database sessions killed
// mid-transaction, then the process replaced by a new one on the same
// database) leaves no seat both SOLD and free, no money lost, and no hold past
// its time once the new instance's sweeper has run. The holds and pays cut off
// are known to be in flight: the test holds row locks they wait for, and kills
// their sessions only once PostgreSQL shows them all waiting.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { queueStores } from "../support/stores";
import { startDeployment, startTestServer, type TestServer } from "../support/server";
import { gql, type GqlResult, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { sql } from "../support/sql";
import { OPEN_QUEUE, PAY, RESERVE, expectLedgersMatchBalances, expectSeatInvariants, newShopper } from "../support/booking";

const PAID = 10; // users who hold and pay before the crash: seats 1–20
const PAYING = 15; // users whose pays are in flight at the crash: seats 21–50
const HOLDING = 10; // users whose holds are in flight at the crash: seats 51–60
// Holds long enough that the pays cut off were not refused for lateness; pools just
// big enough that every request in flight has its own session (the machine's
// PostgreSQL is shared: no more connections than that).
const settingsFor = (instances: number) => ({
  ...OPEN_QUEUE,
  HOLD_SECONDS: "6",
  DATABASE_POOL_SIZE: String(Math.ceil((PAYING + HOLDING) / instances) + 2),
});

describe.each(queueStores("restart"))("restart ($name)", ({ instances, redis }) => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  let admin: TestUser;
  let replacement: TestServer | undefined;
  const url = (i: number) => deployment.servers[i % deployment.servers.length].url;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  beforeAll(async () => {
    deployment = await startDeployment({ instances, redis, settings: settingsFor(instances) });
    admin = await newAdmin(deployment.server);
  });
  afterAll(async () => {
    await replacement?.close();
    await deployment?.close();
  });

  describe("a server cut off mid-traffic", () => {
    it("leaves consistent seats and money, and its holds end on time after a restart", { timeout: 90_000 }, async () => {
      const { server } = deployment;
      const db = deployment.db.url;
      const concert = await newConcert(server, admin, { dates: [{ seatCount: 60, price: 100 }] });
      const date = concert.dates[0].id;
      const shoppers = await Promise.all(Array.from({ length: PAID + PAYING + HOLDING }, (_, i) => newShopper(url(i), concert.id, 1000)));
      const [paid, paying, holding] = [shoppers.slice(0, PAID), shoppers.slice(PAID, PAID + PAYING), shoppers.slice(PAID + PAYING)];
      const hold = (i: number, n: number[]) => gql(url(i), RESERVE, { d: date, n }, shoppers[i].q);
      // Sales that complete before the crash, so that "money where the sales are" is not 0 = 0.
      for (const [i] of paid.entries()) {
        const r = await hold(i, [2 * i + 1, 2 * i + 2]);
        expect((await gql(url(i + 1), PAY, { r: r.data.reserveSeats.id }, shoppers[i].q)).errors).toBeUndefined();
      }
      const held: { id: string; heldUntil: string }[] = [];
      for (const [j] of paying.entries()) {
        const i = PAID + j;
        const r = await hold(i, [2 * i + 1, 2 * i + 2]);
        expect(r.errors).toBeUndefined();
        held.push(r.data.reserveSeats);
      }

      // The test's own transaction locks what the next requests need: the paying users' rows
      // (a pay debits them last) and the seats still free (a hold locks them after writing its reservation).
      const blocker = new Client({ connectionString: db });
      await blocker.connect();
      await blocker.query("BEGIN");
      await blocker.query(`SELECT id FROM users WHERE id = ANY($1) FOR UPDATE`, [paying.map((u) => u.id)]);
      await blocker.query(`SELECT id FROM seats WHERE concert_date_id = $1 AND number > $2 FOR UPDATE`, [date, 2 * (PAID + PAYING)]);
      const blockerPid = (await blocker.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;

      const outcome = (p: Promise<GqlResult>) =>
        p.then(
          (r) => (r.errors ? "error" : "ok"),
          () => "cut off",
        );
      const pays = paying.map((u, j) => outcome(gql(url(j), PAY, { r: held[j].id }, u.q)));
      const holds = holding.map((_, k) => outcome(hold(PAID + PAYING + k, [2 * (PAID + PAYING) + k + 1])));
      // Every one of them is in flight: its session waits for a lock of the blocker.
      const waiting = () =>
        sql<{ n: number }>(db, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
      await expect.poll(waiting, { timeout: 20_000, interval: 20 }).toEqual([{ n: PAYING + HOLDING }]);

      // The crash, as the database sees it: every session of the deployment dies mid-transaction.
      const killed = await sql<{ in_transaction: number }>(
        db,
        `SELECT count(*) FILTER (WHERE xact_start IS NOT NULL AND pg_terminate_backend(pid))::int AS in_transaction
           FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> $1`,
        [blockerPid],
      );
      server.app.httpServer.closeAllConnections();
      await blocker.query("ROLLBACK");
      await blocker.end();
      expect(killed[0].in_transaction).toBeGreaterThanOrEqual(PAYING + HOLDING);
      // None of them went through: each was answered with an error or had its connection cut.
      expect((await Promise.all(pays)).filter((o) => o === "ok")).toEqual([]);
      expect((await Promise.all(holds)).filter((o) => o === "ok")).toEqual([]);
      await server.close();

      // The new process joins the deployment: same database, and the same Redis namespace in the Redis variant.
      replacement = await startTestServer({ databaseUrl: db, settings: deployment.settings });
      await expectSeatInvariants(db);
      await expectLedgersMatchBalances(db);
      // What was cut off left nothing behind: no hold of the holding users, the paying users' holds still HELD and unpaid.
      expect(await sql(db, `SELECT id FROM reservations WHERE user_id = ANY($1)`, [holding.map((u) => u.id)])).toEqual([]);
      const unpaid = await sql(
        db,
        `SELECT r.status::text AS r, p.status::text AS p, u.balance FROM reservations r JOIN payments p ON p.reservation_id = r.id JOIN users u ON u.id = r.user_id WHERE r.id = ANY($1)`,
        [held.map((h) => h.id)],
      );
      expect(unpaid).toEqual(held.map(() => ({ r: "HELD", p: "PENDING", balance: 1000 })));

      // Their holds end on time (within a second of heldUntil), ended by the new instance's sweeper.
      const lastEnd = Math.max(...held.map((h) => Date.parse(h.heldUntil)));
      await sleep(Math.max(0, lastEnd - Date.now()) + 1_200);
      const late = await sql(
        db,
        `SELECT 'reservation' AS what, id::text FROM reservations WHERE status = 'HELD' AND held_until < now() - interval '1 second'
         UNION ALL SELECT 'seat', id::text FROM seats WHERE status = 'HELD' AND held_until < now() - interval '1 second'`,
      );
      expect(late).toEqual([]);
      expect(await sql(db, `SELECT count(*)::int AS n FROM reservations WHERE id = ANY($1) AND status = 'EXPIRED'`, [held.map((h) => h.id)])).toEqual(
        [{ n: PAYING }],
      );
      await expectSeatInvariants(db);
      await expectLedgersMatchBalances(db);
      // Money is where the sales are: what was paid equals what the seats sold for, and both are the sales before the crash.
      const [money] = await sql<{ spent: number; sold: number }>(
        db,
        `SELECT (SELECT coalesce(sum(1000 - balance), 0)::int FROM users WHERE role = 'USER' AND balance <= 1000) AS spent,
                (SELECT coalesce(sum(price), 0)::int FROM seats WHERE concert_date_id = $1 AND status = 'SOLD') AS sold`,
        [date],
      );
      expect(money.spent).toBe(money.sold);
      expect(money.sold).toBe(PAID * 2 * 100);
    });
  });
});
