// Rule 27 for PostgreSQL: an embedded PostgreSQL of our own is stopped while
// people are in line and traffic runs, then started again. Meanwhile every
// operation that needs it answers SERVICE_UNAVAILABLE (HTTP 503, Retry-After)
// within a second with nothing done (an entry that could not be journaled is
// not in the line afterwards), what needs only Redis goes on, /readyz names the
// database. Afterwards the service resumes by itself: the pay retried with its
// key completes once, and seats, money and order are intact.
import { mkdtemp, rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../../src/db/embedded-postgres";
import { migrate } from "../../src/db/migrate";
import { freePorts, startPlainRedis } from "../../bench/lib/redis-servers";
import { startTestServer, testSettings, type TestServer } from "../support/server";
import { codeOf, gql, signUp } from "../support/client";
import { expectLedgersMatchBalances, expectSeatInvariants } from "../support/booking";
import {
  CONCERTS,
  ENTER,
  STATUS,
  eventually,
  expectUnavailable,
  lineOfSix,
  pay,
  readyz,
  shape,
  snapshot,
  timed,
  type Line,
  type Timed,
} from "./fault-support";

const runs = Boolean(process.env.REDIS_URL || process.env.REDIS_CLUSTER_NODES);

describe.runIf(runs)("PostgreSQL stopped and started mid-traffic", () => {
  let root: string;
  let port: number;
  let pg: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
  let redis: Awaited<ReturnType<typeof startPlainRedis>>;
  let server: TestServer;
  let line: Line;

  const startPg = async () => (pg = await startEmbeddedPostgres({ dataDir: `${root}/pg`, port }));

  beforeAll(async () => {
    // Under /tmp: as root the server runs as the OS user postgres, which cannot enter /root.
    root = await mkdtemp("/tmp/durable-pg-fault-");
    [port] = await freePorts(1);
    await startPg();
    await migrate(pg.url);
    redis = await startPlainRedis();
    server = await startTestServer({ databaseUrl: pg.url, settings: testSettings({ REDIS_URL: redis.url, QUEUE_ENTER_PER_SECOND: "1000" }) });
    line = await lineOfSix(server);
  }, 180_000);
  afterAll(async () => {
    await server?.close();
    await pg?.stop();
    await redis?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("answers SERVICE_UNAVAILABLE within a second while it is down, and resumes by itself", { timeout: 180_000 }, async () => {
    const url = server.url;
    const newcomer = await signUp(url);
    const before = await snapshot(url, line.people);
    expect(shape(before)).toEqual(["ACTIVE", "ACTIVE", 1, 2, 3, 4]);

    // Traffic that keeps running through the outage: every answer is right or SERVICE_UNAVAILABLE.
    const seen: Timed[] = [];
    let running = true;
    const traffic = (async () => {
      while (running) {
        const p = line.people[2 + (seen.length % 4)];
        seen.push(await timed(url, CONCERTS, {}, p.headers));
        seen.push(await timed(url, STATUS, { t: p.queueToken }, p.headers));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    await pg.stop();
    expectUnavailable(await pay(url, line, "pay-key"));
    expectUnavailable(await timed(url, ENTER, { c: line.concert.id }, newcomer.headers));
    expectUnavailable(await timed(url, CONCERTS, {}, newcomer.headers));
    // What needs only Redis goes on: the line still answers.
    const status = await timed(url, STATUS, { t: line.people[3].queueToken }, line.people[3].headers);
    expect(status.errors).toBeUndefined();
    expect(status.data.queueStatus).toMatchObject({ status: "WAITING", queuePosition: 2 });
    expect(await readyz(url)).toMatchObject({ status: 503, body: { down: ["database"] } });
    await new Promise((r) => setTimeout(r, 1_000));

    await startPg();
    const startedAt = Date.now();
    const paid = await eventually("pay after PostgreSQL is back", async () => {
      const r = await pay(url, line, "pay-key");
      return codeOf(r) === "SERVICE_UNAVAILABLE" ? undefined : r;
    });
    console.info(`postgres restarted: pay completed ${Date.now() - startedAt} ms after it answered again`);
    running = false;
    await traffic;
    expect(paid.errors).toBeUndefined();
    expect(paid.data.pay.status).toBe("COMPLETED");
    // The same key again: the same payment, not a second charge.
    const again = await pay(url, line, "pay-key");
    expect(again.data.pay.id).toBe(paid.data.pay.id);

    for (const r of seen) {
      if (r.errors) {
        expect(codeOf(r)).toBe("SERVICE_UNAVAILABLE");
        expect(r.status).toBe(503);
        expect(r.ms).toBeLessThan(1_000);
      }
    }
    expect(seen.some((r) => codeOf(r) === "SERVICE_UNAVAILABLE")).toBe(true);
    expect(seen.filter((r) => r.errors === undefined).length).toBeGreaterThan(0);
    await eventually("ready again", async () => ((await readyz(url)).status === 200 ? true : undefined));

    // The entry refused during the outage left nothing: the newcomer now enters at the back.
    const entered = await gql(url, ENTER, { c: line.concert.id }, newcomer.headers);
    expect(entered.errors).toBeUndefined();
    const position = entered.data.enterQueue.status === "WAITING" ? entered.data.enterQueue.queuePosition : 0;
    expect(position).toBeGreaterThanOrEqual(4); // behind those who waited (one of them may have been admitted by the pay)
    const statuses = await snapshot(url, line.people);
    expect(statuses[0]).toMatchObject({ status: "EXPIRED" });
    expect(shape(statuses.slice(3))).toEqual(shape(statuses.slice(3)).map((_, i) => i + 1));
    await expectSeatInvariants(pg.url);
    await expectLedgersMatchBalances(pg.url);
    const status0 = await gql(url, STATUS, { t: line.people[0].queueToken }, line.people[0].headers);
    expect(status0.data.queueStatus.expiredReason).toBe("PAID");
  });
});
