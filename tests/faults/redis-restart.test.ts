// Rule 27: a Redis without persistence restarts empty. Our own redis-server
// (never the shared one), killed while six people are in line and started
// again empty. During the outage: SERVICE_UNAVAILABLE within a second, what
// needs only PostgreSQL goes on, /readyz names Redis. Afterwards the service
// rebuilds the line by itself: every token with its status, order and time
// left; the holder pays; a newcomer goes to the back, not to the front.
import Redis from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPlainRedis } from "../../bench/lib/redis-servers";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { startTestServer, testSettings, type TestServer } from "../support/server";
import { codeOf, gql, signUp } from "../support/client";
import { expectLedgersMatchBalances, expectSeatInvariants } from "../support/booking";
import { sql } from "../support/sql";
import { CONCERTS, ENTER, STATUS, eventually, expectUnavailable, lineOfSix, pay, readyz, shape, snapshot, timed, type Line } from "./fault-support";

// Needs redis-server on the machine: runs where Redis is (REDIS_URL or a cluster set), fails if it cannot start one.
const runs = Boolean(process.env.REDIS_URL || process.env.REDIS_CLUSTER_NODES);

describe.runIf(runs)("a plain Redis restarted empty", () => {
  let redis: Awaited<ReturnType<typeof startPlainRedis>>;
  let db: TestDatabase;
  let servers: TestServer[];
  let line: Line;

  beforeAll(async () => {
    redis = await startPlainRedis();
    db = await createTestDatabase();
    const settings = testSettings({ REDIS_URL: redis.url, QUEUE_ENTER_PER_SECOND: "1000" });
    servers = [await startTestServer({ databaseUrl: db.url, settings }), await startTestServer({ databaseUrl: db.url, settings })];
    line = await lineOfSix(
      servers[0],
      servers.map((s) => s.url),
    );
  });
  afterAll(async () => {
    await Promise.all((servers ?? []).map((s) => s.close()));
    await db?.drop();
    await redis?.stop();
  });

  it("answers SERVICE_UNAVAILABLE fast while it is down, and rebuilds the line in order once it is back", { timeout: 120_000 }, async () => {
    const url = servers[1].url;
    const before = await snapshot(url, line.people);
    expect(shape(before)).toEqual(["ACTIVE", "ACTIVE", 1, 2, 3, 4]);

    await redis.kill();
    const [p0, , p2] = line.people;
    expectUnavailable(await timed(url, STATUS, { t: p2.queueToken }, p2.headers));
    expectUnavailable(await pay(url, line, "pay-during-outage"));
    const newcomer = await signUp(url);
    expectUnavailable(await timed(url, ENTER, { c: line.concert.id }, newcomer.headers));
    // What needs only PostgreSQL goes on; readiness names Redis.
    const concerts = await timed(url, CONCERTS, {}, p0.headers);
    expect(concerts.errors).toBeUndefined();
    expect(await readyz(url)).toMatchObject({ status: 503, body: { down: ["redis"] } });

    await redis.start(); // empty: no persistence
    const restartedAt = Date.now();
    const after = await eventually("the line back in Redis", async () => {
      const views = await snapshot(url, line.people).catch(() => undefined);
      return views && shape(views).join() === shape(before).join() ? views : undefined;
    });
    const recoveredMs = Date.now() - restartedAt;
    console.info(`redis restarted empty: line rebuilt and answering ${recoveredMs} ms after Redis answered again`);
    expect(recoveredMs).toBeLessThan(15_000);
    // Time left kept: an ACTIVE session goes on from where it was (less the time that passed).
    for (const i of [0, 1]) {
      expect(after[i].remainingTime).toBeLessThanOrEqual(before[i].remainingTime);
      expect(after[i].remainingTime).toBeGreaterThan(before[i].remainingTime - 60);
    }
    expect((await readyz(url)).status).toBe(200);

    // The newcomer goes to the back of the line, behind the four who waited.
    const entered = await gql(url, ENTER, { c: line.concert.id }, newcomer.headers);
    expect(entered.errors).toBeUndefined();
    expect(entered.data.enterQueue).toMatchObject({ status: "WAITING", queuePosition: 5 });
    // The same users entering again keep their own tokens.
    const again = await gql(servers[0].url, ENTER, { c: line.concert.id }, line.people[3].headers);
    expect(again.data.enterQueue.token).toBe(line.people[3].queueToken);

    // The holder still pays with the token and the hold from before the restart.
    const paid = await pay(url, line, "pay-after-restart");
    expect(paid.errors).toBeUndefined();
    expect(paid.data.pay.status).toBe("COMPLETED");
    const status = await gql(url, STATUS, { t: p0.queueToken }, p0.headers);
    expect(status.data.queueStatus).toMatchObject({ status: "EXPIRED", expiredReason: "PAID" });
    // The place that came free goes to the head of the line.
    await eventually("the first in line admitted", async () => {
      const r = await gql(url, STATUS, { t: p2.queueToken }, p2.headers);
      return r.data?.queueStatus.status === "ACTIVE" ? true : undefined;
    });
    expect(codeOf(await gql(url, STATUS, { t: line.people[4].queueToken }, line.people[4].headers))).toBeUndefined();
    expect(shape(await snapshot(url, line.people.slice(3)))).toEqual([1, 2, 3]);
    await expectSeatInvariants(db.url);
    await expectLedgersMatchBalances(db.url);
  });

  it("ends the token PAID once Redis is back, for a pay that committed while Redis was down", { timeout: 120_000 }, async () => {
    const url = servers[0].url;
    const mine = await lineOfSix(servers[0]);
    const buyer = mine.people[0];
    // The pay passes its queue gate, then waits in PostgreSQL on the reservation's row
    // (held here), while Redis goes away; it commits with Redis down.
    const lock = new pg.Client({ connectionString: db.url });
    await lock.connect();
    try {
      await lock.query("BEGIN");
      await lock.query("SELECT 1 FROM reservations WHERE id = $1 FOR UPDATE", [mine.reservationId]);
      const paying = pay(url, mine, "pay-across-the-outage");
      let answered: unknown;
      void paying.then((r) => {
        answered = r;
      });
      // Asked on connections of their own: inside `lock`'s transaction pg_stat_activity is the
      // list of sessions as its first read found them, so a pool connection opened for the pay
      // after that read would never be seen (CI failed so, 2026-12-02).
      await eventually("the pay waiting on the row", async () => {
        if (answered !== undefined) throw new Error(`the pay answered without waiting: ${JSON.stringify(answered)}`);
        const rows = await sql(db.url, `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`);
        return rows.length > 0 ? true : undefined;
      });
      await redis.kill();
      await lock.query("COMMIT");
      const paid = await paying;
      expect(paid.errors).toBeUndefined();
      expect(paid.data.pay.status).toBe("COMPLETED");
    } finally {
      await lock.end();
    }
    await redis.start(); // empty: the line comes back from the journal, the token ACTIVE in it
    const ended = await eventually("the token ended PAID", async () => {
      const r = await gql(url, STATUS, { t: buyer.queueToken }, buyer.headers).catch(() => undefined);
      return r?.data?.queueStatus?.status === "EXPIRED" ? r.data.queueStatus : undefined;
    });
    expect(ended).toMatchObject({ status: "EXPIRED", expiredReason: "PAID" });
    // Its place went to the first in line.
    await eventually("the first in line admitted", async () => {
      const r = await gql(url, STATUS, { t: mine.people[2].queueToken }, mine.people[2].headers).catch(() => undefined);
      return r?.data?.queueStatus?.status === "ACTIVE" ? true : undefined;
    });
    await expectSeatInvariants(db.url);
    await expectLedgersMatchBalances(db.url);
  });

  it("holds a pause set while Redis takes no writes, once Redis takes them again (the old policy does not go on)", { timeout: 120_000 }, async () => {
    const url = servers[0].url;
    const mine = await lineOfSix(servers[0]);
    // Redis keeps its data but takes no write for 6 s (longer than two commands' 2 s deadlines).
    const client = new Redis(redis.url);
    try {
      await client.call("CLIENT", "PAUSE", "6000", "WRITE");
      const paused = await gql(url, ADMISSION, { c: mine.concert.id, o: false }, mine.admin.headers);
      expect(codeOf(paused)).toBe("SERVICE_UNAVAILABLE");
      // PostgreSQL has the pause, and the line's store gets it once Redis takes writes again: the
      // refused announcement to the other instances does not stop the store's write (before, it
      // did, and the store kept admitting). A write that never reached Redis is sent again
      // (QueueService.setPolicy); here the timed-out one lands late.
      await eventually("the pause in the line's store", async () =>
        (await client.hget(`q:{${mine.concert.id}}:policy`, "o").catch(() => null)) === "0" ? true : undefined,
      );
    } finally {
      client.disconnect();
    }
    // A place comes free: nobody is admitted while paused.
    const [, active] = mine.people;
    expect(codeOf(await gql(url, LEAVE, { t: active.queueToken }, active.headers))).toBeUndefined();
    await new Promise((r) => setTimeout(r, 1_500)); // several admission steps on both instances
    expect(shape(await snapshot(servers[1].url, mine.people.slice(2)))).toEqual([1, 2, 3, 4]);
  });
});

const ADMISSION = `mutation($c:ID!,$o:Boolean!){ setAdmission(concertId:$c, open:$o){ admissionOpen } }`;
const LEAVE = `mutation($t:String!){ leaveQueue(token:$t){ status } }`;
