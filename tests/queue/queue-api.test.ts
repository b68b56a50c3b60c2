// The waiting room through the public API: one instance with the in-process
// store, and two instances sharing Redis (clients alternate between them).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { queueStores, withCluster } from "../support/stores";
import { bearer, codeOf, gql, signUp, subscribe, wsClient, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";

const ENTER = `mutation($c:ID!){ enterQueue(concertId:$c){ token userId concertId status queuePosition remainingTime estimatedWaitSeconds expiredReason } }`;
const STATUS = `query($t:String!){ queueStatus(token:$t){ token status queuePosition remainingTime expiredReason } }`;
const LEAVE = `mutation($t:String!){ leaveQueue(token:$t){ status expiredReason queuePosition remainingTime } }`;
const POLICY = `mutation($c:ID!,$i:QueuePolicyInput!){ updateQueuePolicy(concertId:$c,input:$i){ concertId maxActiveUsers admitPerSecond activeSessionSeconds } }`;
const STATS = `query($c:ID!){ queueStats(concertId:$c){ waiting active } }`;
const DATES = `query($c:ID!){ availableDates(concertId:$c){ id } }`;
const WATCH = `subscription($t:String!){ queueStatusChanged(token:$t){ status queuePosition expiredReason } }`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const variants = withCluster("waiting room", queueStores("waiting room"));

describe.each(variants)("waiting room ($name)", ({ instances, redis }) => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  let admin: TestUser;
  const url = (i: number) => deployment.servers[i % deployment.servers.length].url;
  const wsUrl = (i: number) => deployment.servers[i % deployment.servers.length].wsUrl;

  beforeAll(async () => {
    deployment = await startDeployment({ instances, redis, settings: { QUEUE_ENTER_PER_SECOND: "1000" } });
    admin = await newAdmin(deployment.server);
  });
  afterAll(() => deployment.close());

  async function concertWithLine(users: number, maxActiveUsers = 1) {
    const concert = await newConcert(deployment.server, admin);
    await gql(url(0), POLICY, { c: concert.id, i: { maxActiveUsers } }, admin.headers);
    const people = await Promise.all(Array.from({ length: users }, () => signUp(url(0))));
    const tickets = [];
    for (let i = 0; i < users; i++) {
      const r = await gql(url(i), ENTER, { c: concert.id }, people[i].headers);
      expect(r.errors).toBeUndefined();
      tickets.push(r.data.enterQueue);
    }
    return { concert, people, tickets };
  }

  it(`lines users up ${instances > 1 ? "across instances" : "on one instance"} in the order they entered, with exact places`, async () => {
    const { tickets } = await concertWithLine(6);
    expect(tickets.map((t) => (t.status === "WAITING" ? t.queuePosition : t.status))).toEqual(["ACTIVE", 1, 2, 3, 4, 5]);
    expect(tickets[1].remainingTime).toBeGreaterThan(100);
    expect(tickets[0]).toMatchObject({ queuePosition: 0, estimatedWaitSeconds: 0, expiredReason: null });
  });

  it("admits in entry order when room comes free, never above maxActiveUsers", async () => {
    const { concert, people, tickets } = await concertWithLine(12, 2);
    await gql(url(1), POLICY, { c: concert.id, i: { maxActiveUsers: 5 } }, admin.headers);
    const samples: number[] = [];
    for (let i = 0; i < 12; i++) {
      samples.push((await gql(url(i), STATS, { c: concert.id }, admin.headers)).data.queueStats.active);
      await sleep(150);
    }
    expect(Math.max(...samples)).toBe(5);
    const statuses = await Promise.all(tickets.map((t, i) => gql(url(i), STATUS, { t: t.token }, people[i].headers)));
    expect(statuses.map((s) => s.data.queueStatus.status)).toEqual([...Array(5).fill("ACTIVE"), ...Array(7).fill("WAITING")]);
    expect(statuses.slice(5).map((s) => s.data.queueStatus.queuePosition)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("gives one token to a hundred simultaneous enterQueue calls by one user", async () => {
    const concert = await newConcert(deployment.server, admin);
    const user = await signUp(url(0));
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => gql(url(i), ENTER, { c: concert.id }, user.headers)));
    expect(results.every((r) => !r.errors)).toBe(true);
    expect(new Set(results.map((r) => r.data.enterQueue.token)).size).toBe(1);
  });

  it("answers every gate error in the contract's order", async () => {
    const { concert, people, tickets } = await concertWithLine(2);
    const other = await newConcert(deployment.server, admin);
    const otherTicket = (await gql(url(0), ENTER, { c: other.id }, people[0].headers)).data.enterQueue;
    const ask = (user: TestUser, token?: string, c = concert.id) => gql(url(1), DATES, { c }, bearer(user.token, token));
    expect(codeOf(await ask(people[0]))).toBe("QUEUE_TOKEN_REQUIRED");
    expect(codeOf(await ask(people[0], "qt_forged"))).toBe("QUEUE_TOKEN_INVALID");
    expect(codeOf(await ask(people[0], tickets[0].token.slice(0, -4) + "AAAA"))).toBe("QUEUE_TOKEN_INVALID");
    expect(codeOf(await ask(people[0], otherTicket.token))).toBe("QUEUE_TOKEN_INVALID");
    expect(codeOf(await ask(people[1], tickets[0].token))).toBe("FORBIDDEN");
    expect(codeOf(await ask(people[1], tickets[1].token))).toBe("QUEUE_NOT_ACTIVE");
    const ok = await ask(people[0], tickets[0].token);
    expect(ok.data.availableDates).toHaveLength(1);
    await gql(url(0), LEAVE, { t: tickets[0].token }, people[0].headers);
    expect(codeOf(await ask(people[0], tickets[0].token))).toBe("QUEUE_TOKEN_EXPIRED");
    expect(codeOf(await gql(url(0), DATES, { c: "00000000-0000-0000-0000-000000000000" }, bearer(people[0].token)))).toBe("NOT_FOUND");
    expect(codeOf(await gql(url(0), STATUS, { t: tickets[1].token }, people[0].headers))).toBe("FORBIDDEN");
    expect(codeOf(await gql(url(0), LEAVE, { t: tickets[1].token }, people[0].headers))).toBe("FORBIDDEN");
    expect(codeOf(await gql(url(0), STATUS, { t: "nonsense" }, people[0].headers))).toBe("QUEUE_TOKEN_INVALID");
    expect(codeOf(await gql(url(0), STATUS, { t: tickets[1].token }))).toBe("UNAUTHENTICATED");
  });

  it("moves everyone up when someone ahead leaves, and issues a new token at the back after that", async () => {
    const { people, tickets, concert } = await concertWithLine(4);
    const left = await gql(url(1), LEAVE, { t: tickets[1].token }, people[1].headers);
    expect(left.data.leaveQueue).toMatchObject({ status: "EXPIRED", expiredReason: "LEFT", queuePosition: 0, remainingTime: 0 });
    const third = await gql(url(0), STATUS, { t: tickets[3].token }, people[3].headers);
    expect(third.data.queueStatus.queuePosition).toBe(2);
    const again = (await gql(url(0), ENTER, { c: concert.id }, people[1].headers)).data.enterQueue;
    expect(again.token).not.toBe(tickets[1].token);
    expect(again.queuePosition).toBe(3);
  });

  it(`pushes place changes and the admission made ${instances > 1 ? "on another instance" : "on the same instance"}, then completes after EXPIRED`, async () => {
    const { concert, people, tickets } = await concertWithLine(3);
    const client = wsClient(wsUrl(1), { authorization: `Bearer ${people[2].token}` });
    const sub = subscribe(client, WATCH, { t: tickets[2].token });
    expect((await sub.next()).data).toEqual({ queueStatusChanged: { status: "WAITING", queuePosition: 2, expiredReason: null } });
    await gql(url(0), LEAVE, { t: tickets[1].token }, people[1].headers);
    expect((await sub.next(3_000)).data.queueStatusChanged).toMatchObject({ status: "WAITING", queuePosition: 1 });
    await gql(url(0), LEAVE, { t: tickets[0].token }, people[0].headers);
    expect((await sub.next(3_000)).data.queueStatusChanged).toMatchObject({ status: "ACTIVE", queuePosition: 0 });
    await gql(url(0), LEAVE, { t: tickets[2].token }, people[2].headers);
    expect((await sub.next(3_000)).data.queueStatusChanged).toMatchObject({ status: "EXPIRED", expiredReason: "LEFT" });
    await sub.ended();
    await client.dispose();
    void concert;
  });

  it("lets only admins read and change the policy, validating it", async () => {
    const concert = await newConcert(deployment.server, admin);
    const user = await signUp(url(0));
    expect(codeOf(await gql(url(0), POLICY, { c: concert.id, i: { maxActiveUsers: 3 } }, user.headers))).toBe("FORBIDDEN");
    expect(codeOf(await gql(url(0), POLICY, { c: concert.id, i: { maxActiveUsers: 0 } }, admin.headers))).toBe("BAD_USER_INPUT");
    expect(codeOf(await gql(url(0), POLICY, { c: "nope", i: { maxActiveUsers: 3 } }, admin.headers))).toBe("NOT_FOUND");
    const r = await gql(url(0), POLICY, { c: concert.id, i: { admitPerSecond: 7 } }, admin.headers);
    expect(r.data.updateQueuePolicy).toEqual({ concertId: concert.id, maxActiveUsers: 100, admitPerSecond: 7, activeSessionSeconds: 600 });
    expect(codeOf(await gql(url(0), STATS, { c: concert.id }, user.headers))).toBe("FORBIDDEN");
  });
});

describe("waiting room timers", () => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  let admin: TestUser;
  beforeAll(async () => {
    deployment = await startDeployment({
      redis: Boolean(process.env.REDIS_URL),
      // The session outlives the idle time: with both at 1 s, the tick that ended a's session
      // could admit b before b's idle time was up (a race, seen once under a loaded machine).
      settings: { QUEUE_WAITING_IDLE_SECONDS: "1", QUEUE_ACTIVE_SESSION_SECONDS: "2", QUEUE_MAX_ACTIVE: "1", QUEUE_ENTER_PER_SECOND: "2" },
    });
    admin = await newAdmin(deployment.server);
  });
  afterAll(() => deployment.close());

  it("ends a session after activeSessionSeconds and drops a WAITING token nobody watches", async () => {
    const { url } = deployment.server;
    const concert = await newConcert(deployment.server, admin);
    const [a, b] = await Promise.all([signUp(url), signUp(url)]);
    const ta = (await gql(url, ENTER, { c: concert.id }, a.headers)).data.enterQueue;
    const tb = (await gql(url, ENTER, { c: concert.id }, b.headers)).data.enterQueue;
    expect([ta.status, tb.status]).toEqual(["ACTIVE", "WAITING"]);
    await sleep(2_600);
    expect((await gql(url, STATUS, { t: ta.token }, a.headers)).data.queueStatus).toMatchObject({
      status: "EXPIRED",
      expiredReason: "SESSION_TIMEOUT",
    });
    expect((await gql(url, STATUS, { t: tb.token }, b.headers)).data.queueStatus).toMatchObject({ status: "EXPIRED", expiredReason: "ABANDONED" });
  });

  it("limits how often one user may call enterQueue", async () => {
    const { url } = deployment.server;
    const concert = await newConcert(deployment.server, admin);
    const user = await signUp(url);
    const results = await Promise.all(Array.from({ length: 5 }, () => gql(url, ENTER, { c: concert.id }, user.headers)));
    expect(results.filter((r) => codeOf(r) === "RATE_LIMITED").length).toBeGreaterThanOrEqual(3);
  });
});
