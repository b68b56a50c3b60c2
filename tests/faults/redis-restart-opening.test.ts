// Rule 27 with rules 16, 17 and 23: a plain Redis of our own (never the shared
// one) killed and started again empty, and the line rebuilt from PostgreSQL
// keeps the opening and the waiting list. (1) Lost before the opening: nobody
// is ACTIVE before it, and at the opening the places are the order recomputed
// from the published seed. (2) Lost after the draw: the drawn order stays,
// later entries behind it. (3) A sold-out waiting list: rebuilt sold out, and
// each refund admits exactly the next in line, in entry order, and no one else.
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPlainRedis } from "../../bench/lib/redis-servers";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { startTestServer, testSettings, type TestServer } from "../support/server";
import { codeOf, gql, signUp, type TestUser } from "../support/client";
import { newAdmin } from "../support/factories";
import { PAY, RESERVE, expectLedgersMatchBalances, expectSeatInvariants, newShopper } from "../support/booking";
import { eventually } from "./fault-support";

const ENTER = `mutation($c:ID!){ enterQueue(concertId:$c){ token userId status queuePosition } }`;
const STATUS = `query($t:String!){ queueStatus(token:$t){ userId status queuePosition expiredReason } }`;
const CREATE = `mutation($i:CreateConcertInput!){ createConcert(input:$i){ id openingDrawCommitment } }`;
const DATE = `mutation($i:AddConcertDateInput!){ addConcertDate(input:$i){ id } }`;
const CONCERT = `query($id:ID!){ concert(id:$id){ openingDrawSeed } }`;
const POLICY = `mutation($c:ID!,$m:Int!){ updateQueuePolicy(concertId:$c, input:{ maxActiveUsers:$m }){ maxActiveUsers } }`;
const REFUND = `mutation($r:ID!){ refundReservation(reservationId:$r){ status } }`;

// Needs redis-server on the machine: runs where Redis is, fails if it cannot start one.
const runs = Boolean(process.env.REDIS_URL || process.env.REDIS_CLUSTER_NODES);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface InLine extends TestUser {
  queueToken: string;
}

describe.runIf(runs)("a line rebuilt after Redis restarted empty keeps the opening and the waiting list", () => {
  let redis: Awaited<ReturnType<typeof startPlainRedis>>;
  let db: TestDatabase;
  let servers: TestServer[];
  let admin: TestUser;
  const url = (i: number) => servers[i % servers.length].url;

  beforeAll(async () => {
    redis = await startPlainRedis(8000 + Math.floor(Math.random() * 90));
    db = await createTestDatabase();
    const settings = testSettings({ REDIS_URL: redis.url, QUEUE_ENTER_PER_SECOND: "1000", QUEUE_ADMIT_PER_SECOND: "1000" });
    servers = [await startTestServer({ databaseUrl: db.url, settings }), await startTestServer({ databaseUrl: db.url, settings })];
    admin = await newAdmin(servers[0]);
  });
  afterAll(async () => {
    await Promise.all((servers ?? []).map((s) => s.close()));
    await db?.drop();
    await redis?.stop();
  });

  const status = async (u: InLine, i = 0) => {
    const r = await gql(url(i), STATUS, { t: u.queueToken }, u.headers);
    if (r.errors) throw new Error(`queueStatus: ${codeOf(r)}`);
    return r.data.queueStatus as { userId: string; status: string; queuePosition: number; expiredReason: string | null };
  };
  const statuses = (people: InLine[]) => Promise.all(people.map((u, i) => status(u, i)));

  async function enter(concertId: string, n: number): Promise<InLine[]> {
    const people: InLine[] = [];
    for (let i = 0; i < n; i++) {
      const user = await signUp(url(i), "rebuilt");
      const r = await gql(url(i), ENTER, { c: concertId }, user.headers);
      expect(r.errors).toBeUndefined();
      people.push({ ...user, queueToken: r.data.enterQueue.token });
    }
    return people;
  }

  /** Kills Redis, starts it again empty, and waits until every token answers again. */
  async function loseRedis(people: InLine[]): Promise<void> {
    await redis.kill();
    await redis.start();
    await eventually("the line back in Redis", () => statuses(people).then(() => true), 30_000);
  }

  async function scheduledConcert(opensInMs: number, maxActive: number) {
    const opensAt = new Date(Date.now() + opensInMs);
    const c = await gql(url(0), CREATE, { i: { title: "Rebuilt opening", saleOpensAt: opensAt.toISOString() } }, admin.headers);
    expect(c.errors).toBeUndefined();
    const id = c.data.createConcert.id as string;
    const startsAt = new Date(Date.now() + 86_400_000).toISOString();
    expect((await gql(url(0), DATE, { i: { concertId: id, startsAt, seatCount: 20, price: 1000 } }, admin.headers)).errors).toBeUndefined();
    expect((await gql(url(1), POLICY, { c: id, m: maxActive }, admin.headers)).errors).toBeUndefined();
    return { id, opensAt };
  }

  /** The users in the order the published seed gives them (rule 17). */
  async function drawnOrder(concertId: string, people: InLine[]): Promise<string[]> {
    const seed = await eventually("the seed published", async () => {
      const s = (await gql(url(1), CONCERT, { id: concertId })).data.concert.openingDrawSeed as string | null;
      return s ?? undefined;
    });
    const key = (userId: string) => createHmac("sha256", Buffer.from(seed, "hex")).update(userId, "utf8").digest("hex");
    return people.map((p) => p.id).sort((a, b) => (key(a) < key(b) ? -1 : 1));
  }

  it("lost before the opening: nobody is admitted early, and at the opening the places are the published draw's", { timeout: 120_000 }, async () => {
    const concert = await scheduledConcert(20_000, 2);
    const people = await enter(concert.id, 8);
    expect((await statuses(people)).map((s) => [s.status, s.queuePosition])).toEqual(Array(8).fill(["WAITING", 0]));

    await loseRedis(people);
    // Back in the pre-queue, and still nobody ACTIVE while the opening lies ahead.
    expect((await statuses(people)).map((s) => [s.status, s.queuePosition])).toEqual(Array(8).fill(["WAITING", 0]));
    expect(Date.now()).toBeLessThan(concert.opensAt.getTime() - 500); // that was before the opening
    while (Date.now() < concert.opensAt.getTime() - 1_500) {
      expect((await statuses(people)).map((s) => [s.status, s.queuePosition])).toEqual(Array(8).fill(["WAITING", 0]));
      await sleep(500);
    }

    const order = await drawnOrder(concert.id, people);
    const after = await eventually("two admitted at the opening", async () => {
      const all = await statuses(people);
      return all.filter((s) => s.status === "ACTIVE").length === 2 ? all : undefined;
    });
    const byUser = new Map(after.map((s) => [s.userId, s]));
    expect(order.slice(0, 2).map((u) => byUser.get(u)!.status)).toEqual(["ACTIVE", "ACTIVE"]);
    expect(order.slice(2).map((u) => byUser.get(u)!.queuePosition)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("lost after the draw: the drawn order stays, later entries behind it", { timeout: 120_000 }, async () => {
    const concert = await scheduledConcert(6_000, 2);
    const people = await enter(concert.id, 8);
    const order = await drawnOrder(concert.id, people);
    await eventually("two admitted at the opening", async () => {
      const all = await statuses(people);
      return all.filter((s) => s.status === "ACTIVE").length === 2 ? true : undefined;
    });
    const late = await enter(concert.id, 3);
    const everyone = [...people, ...late];
    const placesOf = (all: Awaited<ReturnType<typeof statuses>>) => {
      const byUser = new Map(all.map((s) => [s.userId, s]));
      return {
        drawn: order.map((u) => byUser.get(u)!).map((s) => (s.status === "WAITING" ? s.queuePosition : s.status)),
        late: late.map((u) => byUser.get(u.id)!.queuePosition),
      };
    };
    const expected = { drawn: ["ACTIVE", "ACTIVE", 1, 2, 3, 4, 5, 6], late: [7, 8, 9] };
    expect(placesOf(await statuses(everyone))).toEqual(expected);

    await loseRedis(everyone);
    expect(placesOf(await statuses(everyone))).toEqual(expected);
    // A place that comes free goes to the next of the draw, not to a later entry.
    const first = people.find((p) => p.id === order[0])!;
    expect(
      (await gql(url(0), `mutation($t:String!){ leaveQueue(token:$t){ status } }`, { t: first.queueToken }, first.headers)).errors,
    ).toBeUndefined();
    const next = people.find((p) => p.id === order[2])!;
    await eventually("the next of the draw admitted", async () => ((await status(next)).status === "ACTIVE" ? true : undefined));
    expect((await statuses(late)).map((s) => s.queuePosition)).toEqual([6, 7, 8]);
  });

  it("a sold-out waiting list: rebuilt sold out, and refunds admit exactly the next in line, one per seat", { timeout: 180_000 }, async () => {
    const c = await gql(url(0), `mutation{ createConcert(input:{ title:"Rebuilt encore", keepLineAfterSellOut:true }){ id } }`, {}, admin.headers);
    const concertId = c.data.createConcert.id as string;
    const startsAt = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const date = (await gql(url(0), DATE, { i: { concertId, startsAt, seatCount: 4, price: 1000 } }, admin.headers)).data.addConcertDate.id as string;
    const buyers = await Promise.all(Array.from({ length: 4 }, (_, i) => newShopper(url(i), concertId, 5_000)));
    const holds = await Promise.all(buyers.map((b, i) => gql(url(i), RESERVE, { d: date, n: [i + 1] }, b.q)));
    expect(holds.map(codeOf)).toEqual(holds.map(() => undefined));
    const paid = await Promise.all(buyers.map((b, i) => gql(url(i + 1), PAY, { r: holds[i].data.reserveSeats.id }, b.q)));
    expect(paid.map(codeOf)).toEqual(paid.map(() => undefined));
    const waiting = await enter(concertId, 6);
    const shape = async () => (await statuses(waiting)).map((s) => (s.status === "WAITING" ? s.queuePosition : s.status));
    await eventually("the waiting list in place", async () => ((await shape()).join() === "1,2,3,4,5,6" ? true : undefined));
    const refund = (i: number) => gql(url(i), REFUND, { r: holds[i].data.reserveSeats.id }, buyers[i].headers);
    // One seat back before the loss: offered to the first in line (ACTIVE, no hold yet).
    expect(codeOf(await refund(0))).toBeUndefined();
    await eventually("the first admitted", async () => ((await shape()).join() === "ACTIVE,1,2,3,4,5" ? true : undefined));

    await loseRedis(waiting);
    expect(await shape()).toEqual(["ACTIVE", 1, 2, 3, 4, 5]);
    // Rebuilt sold out, its one seat on sale already offered: with room in the policy, nobody moves.
    await sleep(1_500);
    expect(await shape()).toEqual(["ACTIVE", 1, 2, 3, 4, 5]);
    // A newcomer joins the waiting list at its back.
    const newcomer = await enter(concertId, 1);
    expect((await status(newcomer[0])).queuePosition).toBe(6);

    const refunds = await Promise.all([1, 2].map(refund));
    expect(refunds.map(codeOf)).toEqual(refunds.map(() => undefined));
    await eventually("two more admitted", async () => ((await shape()).filter((s) => s === "ACTIVE").length >= 3 ? true : undefined));
    await sleep(1_500); // and no fourth
    expect(await shape()).toEqual(["ACTIVE", "ACTIVE", "ACTIVE", 1, 2, 3]);
    expect((await status(newcomer[0])).queuePosition).toBe(4);
    await expectLedgersMatchBalances(db.url);
    await expectSeatInvariants(db.url);
  });
});
