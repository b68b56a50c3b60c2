// Rules 27 and 28 on a real Redis Cluster of our own (3 masters, 3 replicas,
// cluster-node-timeout 1 s): the master that owns the concert's slot is killed
// while users wait and one pays. Its replica takes over; no place and no hold is
// lost; what is asked meanwhile answers at once or SERVICE_UNAVAILABLE within a
// second; two instances on the cluster remain one service (a push made on one
// reaches a subscriber on the other, over sharded pub/sub).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisCluster, type LocalCluster } from "../../bench/lib/redis-servers";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { startTestServer, testSettings, type TestServer } from "../support/server";
import { codeOf, subscribe, wsClient } from "../support/client";
import { expectLedgersMatchBalances, expectSeatInvariants } from "../support/booking";
import { STATUS, eventually, lineOfSix, pay, shape, snapshot, timed, type Line } from "./fault-support";

const runs = Boolean(process.env.REDIS_URL || process.env.REDIS_CLUSTER_NODES);
const WATCH = `subscription($t:String!){ queueStatusChanged(token:$t){ status queuePosition expiredReason } }`;

describe.runIf(runs)("a Redis Cluster master killed", () => {
  let cluster: LocalCluster;
  let db: TestDatabase;
  let servers: TestServer[];
  let line: Line;

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    db = await createTestDatabase();
    const settings = testSettings({ REDIS_CLUSTER_NODES: cluster.spec, QUEUE_ENTER_PER_SECOND: "1000" });
    servers = [await startTestServer({ databaseUrl: db.url, settings }), await startTestServer({ databaseUrl: db.url, settings })];
    line = await lineOfSix(
      servers[0],
      servers.map((s) => s.url),
    );
  }, 120_000);
  afterAll(async () => {
    await Promise.all((servers ?? []).map((s) => s.close()));
    await db?.drop();
    await cluster?.stop();
  });

  it("fails over to the replica with every place and hold, answering fast meanwhile", { timeout: 120_000 }, async () => {
    const [a, b] = servers.map((s) => s.url);
    const before = await snapshot(b, line.people);
    expect(shape(before)).toEqual(["ACTIVE", "ACTIVE", 1, 2, 3, 4]);
    // people[2] watches on instance a; the admission will be made by b's payment.
    const client = wsClient(servers[0].wsUrl, { authorization: `Bearer ${line.people[2].token}` });
    const watch = subscribe(client, WATCH, { t: line.people[2].queueToken });
    expect((await watch.next(10_000)).data?.queueStatusChanged).toMatchObject({ status: "WAITING", queuePosition: 1 });

    const master = await cluster.masterOf(`q:{${line.concert.id}}:seq`);
    const victim = cluster.servers.find((s) => s.port === master)!;
    await victim.kill();
    const killedAt = Date.now();

    // Until the replica takes over, every answer is either right or SERVICE_UNAVAILABLE, within a second.
    const answers: { code: string | undefined; ms: number; status: number; retryAfter: string | null }[] = [];
    const p3 = line.people[3];
    const recovered = await eventually(
      "the line answering again after the failover",
      async () => {
        const r = await timed(a, STATUS, { t: p3.queueToken }, p3.headers);
        answers.push({ code: codeOf(r), ms: r.ms, status: r.status, retryAfter: r.retryAfter });
        return r.errors ? undefined : r.data.queueStatus;
      },
      60_000,
    );
    const failoverMs = Date.now() - killedAt;
    console.info(
      `cluster master killed: answering again after ${failoverMs} ms; ${answers.length - 1} refused (${answers.map((x) => `${x.code ?? "ok"} ${Math.round(x.ms)} ms`).join(", ")})`,
    );
    for (const x of answers.slice(0, -1)) {
      expect(x).toMatchObject({ code: "SERVICE_UNAVAILABLE", status: 503 });
      expect(x.retryAfter).not.toBeNull();
      expect(x.ms).toBeLessThan(1_000);
    }
    expect(recovered).toMatchObject({ status: "WAITING", queuePosition: 2 });
    await cluster.waitHealthy(60_000);

    // Nothing lost: every place and the ACTIVE sessions, on both instances.
    const after = await eventually("the whole line as before", async () => {
      const views = await snapshot(b, line.people).catch(() => undefined);
      return views && shape(views).join() === shape(before).join() ? views : undefined;
    });
    expect(shape(await snapshot(a, line.people))).toEqual(shape(after));

    // The hold survived: the holder pays; the place goes to the head of the line, pushed across instances.
    const paid = await eventually("pay after the failover", async () => {
      const r = await pay(b, line, "pay-after-failover");
      return codeOf(r) === "SERVICE_UNAVAILABLE" ? undefined : r;
    });
    expect(paid.errors).toBeUndefined();
    expect(paid.data.pay.status).toBe("COMPLETED");
    await eventually("the ACTIVE push to the first in line", async () => {
      while (watch.events.length > 0) {
        const last = watch.events[watch.events.length - 1];
        if (last.data?.queueStatusChanged.status === "ACTIVE") return true;
        await watch.next(500).catch(() => undefined);
        if (watch.events[watch.events.length - 1] === last) return undefined;
      }
      return undefined;
    });
    watch.stop();
    await client.dispose();
    expect(shape(await snapshot(a, line.people.slice(3)))).toEqual([1, 2, 3]);
    await expectSeatInvariants(db.url);
    await expectLedgersMatchBalances(db.url);
  });
});
