// On-sale day through the public API (contract rules 16, 17, 18, 25, 26): a
// scheduled opening with its pre-queue and verifiable draw, seats left, paused
// admission and the admins' live stats. One instance with the in-process store,
// and two instances sharing Redis and PostgreSQL (clients alternate between them).
import { createHash, createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { codeOf, gql, signUp, subscribe, wsClient, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";

const ENTER = `mutation($c:ID!){ enterQueue(concertId:$c){ token userId status queuePosition saleOpensInSeconds seatsLeft estimatedWaitSeconds } }`;
const STATUS = `query($t:String!){ queueStatus(token:$t){ token userId status queuePosition saleOpensInSeconds seatsLeft estimatedWaitSeconds } }`;
const CREATE = `mutation($i:CreateConcertInput!){ createConcert(input:$i){ id saleOpensAt openingDrawCommitment openingDrawSeed ticketLimitPerUser keepLineAfterSellOut } }`;
const UPDATE = `mutation($id:ID!,$i:UpdateConcertInput!){ updateConcert(id:$id,input:$i){ id title saleOpensAt openingDrawCommitment openingDrawSeed ticketLimitPerUser keepLineAfterSellOut } }`;
const CONCERT = `query($id:ID!){ concert(id:$id){ saleOpensAt openingDrawCommitment openingDrawSeed } }`;
const DATE = `mutation($i:AddConcertDateInput!){ addConcertDate(input:$i){ id } }`;
const POLICY = `mutation($c:ID!,$i:QueuePolicyInput!){ updateQueuePolicy(concertId:$c,input:$i){ maxActiveUsers admissionOpen } }`;
const ADMISSION = `mutation($c:ID!,$o:Boolean!){ setAdmission(concertId:$c, open:$o){ concertId admissionOpen maxActiveUsers } }`;
const STATS = `query($c:ID!){ queueStats(concertId:$c){ waiting active preQueue admittedPerSecond seatsLeft } }`;
const WATCH = `subscription($t:String!){ queueStatusChanged(token:$t){ status queuePosition saleOpensInSeconds seatsLeft } }`;
const WATCH_STATS = `subscription($c:ID!){ queueStatsChanged(concertId:$c){ concertId waiting active preQueue admittedPerSecond seatsLeft } }`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met in time; last: ${JSON.stringify(value)}`);
    await sleep(200);
  }
}

const variants = [{ name: "in-process, one instance", instances: 1, redis: false }];
if (process.env.REDIS_URL) variants.push({ name: "Redis, two instances", instances: 2, redis: true });

describe.each(variants)("on-sale day ($name)", ({ instances, redis }) => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  let admin: TestUser;
  const url = (i: number) => deployment.servers[i % deployment.servers.length].url;
  const wsUrl = (i: number) => deployment.servers[i % deployment.servers.length].wsUrl;

  beforeAll(async () => {
    deployment = await startDeployment({ instances, redis, settings: { QUEUE_ENTER_PER_SECOND: "1000" } });
    admin = await newAdmin(deployment.server);
  });
  afterAll(() => deployment.close());

  async function scheduledConcert(opensInMs: number, seatCount = 20) {
    const opensAt = new Date(Date.now() + opensInMs);
    const c = await gql(url(0), CREATE, { i: { title: "K-pop on-sale", saleOpensAt: opensAt.toISOString() } }, admin.headers);
    expect(c.errors).toBeUndefined();
    const concert = c.data.createConcert;
    const startsAt = new Date(Date.now() + 86_400_000).toISOString();
    const d = await gql(url(0), DATE, { i: { concertId: concert.id, startsAt, seatCount, price: 1000 } }, admin.headers);
    expect(d.errors).toBeUndefined();
    return { ...concert, opensAt, dateId: d.data.addConcertDate.id as string };
  }

  it("holds everyone in the pre-queue until the opening, then places them by the published draw, later entries behind", async () => {
    const crowd = 8;
    const concert = await scheduledConcert(8_000, 30);
    expect(concert.openingDrawCommitment).toMatch(/^[0-9a-f]{64}$/);
    expect(concert.openingDrawSeed).toBeNull();
    expect(concert.ticketLimitPerUser).toBe(4);
    await gql(url(1), POLICY, { c: concert.id, i: { maxActiveUsers: 2 } }, admin.headers);

    const people = await Promise.all(Array.from({ length: crowd }, () => signUp(url(0))));
    const entered = await Promise.all(people.map((p, i) => gql(url(i), ENTER, { c: concert.id }, p.headers)));
    for (const r of entered) {
      expect(r.errors).toBeUndefined();
      expect(r.data.enterQueue).toMatchObject({ status: "WAITING", queuePosition: 0, seatsLeft: 30, estimatedWaitSeconds: null });
      expect(r.data.enterQueue.saleOpensInSeconds).toBeGreaterThan(0);
    }
    const tickets = entered.map((r) => r.data.enterQueue);
    // One pre-queue subscriber on each instance: pushed its place at the opening.
    const clients = [0, 1].map((i) => wsClient(wsUrl(i), { authorization: `Bearer ${people[i].token}` }));
    const subs = [0, 1].map((i) => subscribe(clients[i], WATCH, { t: tickets[i].token }));
    for (const s of subs) expect((await s.next(10_000)).data.queueStatusChanged).toMatchObject({ status: "WAITING", queuePosition: 0 });

    // Nobody is ACTIVE before the opening, and the seed stays secret.
    const stats = await gql(url(1), STATS, { c: concert.id }, admin.headers);
    expect(stats.data.queueStats).toMatchObject({ waiting: crowd, active: 0, preQueue: crowd, seatsLeft: 30 });
    const before = await Promise.all(tickets.map((t, i) => gql(url(i + 1), STATUS, { t: t.token }, people[i].headers)));
    expect(before.map((r) => [r.data.queueStatus.status, r.data.queueStatus.queuePosition])).toEqual(Array(crowd).fill(["WAITING", 0]));
    expect((await gql(url(0), CONCERT, { id: concert.id })).data.concert.openingDrawSeed).toBeNull();

    // Every instance races for the draw at the opening (besides their tickers).
    const drawsBefore = deployment.servers.map((s) => s.app.services.queue.drawsPerformed);
    await sleep(Math.max(0, concert.opensAt.getTime() - Date.now()));
    await Promise.all(deployment.servers.flatMap((s) => [1, 2, 3].map(() => s.app.services.queue.openIfDue(concert.id))));
    const seed = await until(
      async () => (await gql(url(1), CONCERT, { id: concert.id })).data.concert.openingDrawSeed as string | null,
      (s) => s !== null,
    );
    const draws = deployment.servers.map((s, i) => s.app.services.queue.drawsPerformed - drawsBefore[i]);
    expect(draws.reduce((a, b) => a + b, 0)).toBe(1);

    // Anyone can check the draw: the commitment is the seed's SHA-256, and the
    // order is the users' HMAC-SHA256 under the seed, lowest first.
    expect(seed).toMatch(/^[0-9a-f]{64}$/);
    expect(createHash("sha256").update(Buffer.from(seed!, "hex")).digest("hex")).toBe(concert.openingDrawCommitment);
    const key = (userId: string) => createHmac("sha256", Buffer.from(seed!, "hex")).update(userId, "utf8").digest("hex");
    const order = people.map((p) => p.id).sort((a, b) => (key(a) < key(b) ? -1 : 1));

    // Later entries line up behind the pre-queue, in entry order.
    const late = await Promise.all([0, 1, 2].map(() => signUp(url(0))));
    const lateTickets: { token: string; saleOpensInSeconds: number | null }[] = [];
    for (const [i, p] of late.entries()) lateTickets.push((await gql(url(i), ENTER, { c: concert.id }, p.headers)).data.enterQueue);
    for (const t of lateTickets) expect(t.saleOpensInSeconds).toBeNull();

    const places = async () => {
      const all = [...people, ...late];
      const tokens = [...tickets, ...lateTickets];
      const rows = await Promise.all(tokens.map((t, i) => gql(url(i), STATUS, { t: t.token }, all[i].headers)));
      return rows.map((r) => r.data.queueStatus);
    };
    const after = await until(places, (rows) => rows.filter((r) => r.status === "ACTIVE").length === 2);
    const byUser = new Map(after.map((r) => [r.userId, r]));
    expect(order.slice(0, 2).map((u) => byUser.get(u)!.status)).toEqual(["ACTIVE", "ACTIVE"]);
    expect(order.slice(2).map((u) => byUser.get(u)!.queuePosition)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(late.map((p) => byUser.get(p.id)!.queuePosition)).toEqual([7, 8, 9]);
    for (const r of after) expect(r.saleOpensInSeconds).toBeNull();

    // Each pre-queue subscriber was pushed its drawn place.
    for (const [i, s] of subs.entries()) {
      const want = byUser.get(people[i].id)!;
      const pushed = await until(
        async () => s.events.map((e) => e.data.queueStatusChanged),
        (events) => events.some((e) => e.status === want.status && e.queuePosition === want.queuePosition),
      );
      expect(pushed.at(-1)).toMatchObject({ status: want.status, queuePosition: want.queuePosition, saleOpensInSeconds: null });
      s.stop();
    }
    await Promise.all(clients.map((c) => c.dispose()));
  });

  it("moves the opening only while it lies ahead or nobody entered, and the limit only while nothing is held or sold", async () => {
    const concert = await scheduledConcert(60_000);
    const later = new Date(Date.now() + 120_000).toISOString();
    const moved = await gql(
      url(1),
      UPDATE,
      { id: concert.id, i: { saleOpensAt: later, ticketLimitPerUser: 2, keepLineAfterSellOut: true } },
      admin.headers,
    );
    expect(moved.errors).toBeUndefined();
    // The committed seed stays: nobody can change it once its commitment is out.
    expect(moved.data.updateConcert).toMatchObject({
      saleOpensAt: later,
      openingDrawCommitment: concert.openingDrawCommitment,
      ticketLimitPerUser: 2,
      keepLineAfterSellOut: true,
    });
    expect(codeOf(await gql(url(0), UPDATE, { id: concert.id, i: { saleOpensAt: new Date(Date.now() - 1000).toISOString() } }, admin.headers))).toBe(
      "BAD_USER_INPUT",
    );
    expect(codeOf(await gql(url(0), UPDATE, { id: concert.id, i: { ticketLimitPerUser: 0 } }, admin.headers))).toBe("BAD_USER_INPUT");
    const user = await signUp(url(0));
    expect(codeOf(await gql(url(0), UPDATE, { id: concert.id, i: { title: "x" } }, user.headers))).toBe("FORBIDDEN");

    // An open concert someone entered: its opening can no longer be set.
    const open = await newConcert(deployment.server, admin);
    await gql(url(0), ENTER, { c: open.id }, user.headers);
    const refused = await gql(url(1), UPDATE, { id: open.id, i: { saleOpensAt: later } }, admin.headers);
    expect(codeOf(refused)).toBe("BAD_USER_INPUT");
    // An open concert nobody entered: it can get an opening (and a commitment).
    const fresh = await newConcert(deployment.server, admin);
    const scheduled = await gql(url(1), UPDATE, { id: fresh.id, i: { saleOpensAt: later } }, admin.headers);
    expect(scheduled.data.updateConcert.openingDrawCommitment).toMatch(/^[0-9a-f]{64}$/);
    const t = await gql(url(0), ENTER, { c: fresh.id }, user.headers);
    expect(t.data.enterQueue).toMatchObject({ status: "WAITING", queuePosition: 0 });
  });

  it("admits nobody while admission is paused, places still exact, and resumes", async () => {
    const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 10 }] });
    await gql(url(0), POLICY, { c: concert.id, i: { maxActiveUsers: 1 } }, admin.headers);
    const paused = await gql(url(1), ADMISSION, { c: concert.id, o: false }, admin.headers);
    expect(paused.data.setAdmission).toMatchObject({ concertId: concert.id, admissionOpen: false, maxActiveUsers: 1 });
    const people = await Promise.all([0, 1, 2].map(() => signUp(url(0))));
    const tickets: { token: string; status: string; queuePosition: number; estimatedWaitSeconds: number | null }[] = [];
    for (const [i, p] of people.entries()) tickets.push((await gql(url(i), ENTER, { c: concert.id }, p.headers)).data.enterQueue);
    expect(tickets.map((t) => [t.status, t.queuePosition, t.estimatedWaitSeconds])).toEqual([
      ["WAITING", 1, null],
      ["WAITING", 2, null],
      ["WAITING", 3, null],
    ]);
    await sleep(2_000); // several admission steps on every instance
    const still = await Promise.all(tickets.map((t, i) => gql(url(i + 1), STATUS, { t: t.token }, people[i].headers)));
    expect(still.map((r) => r.data.queueStatus.status)).toEqual(["WAITING", "WAITING", "WAITING"]);
    expect((await gql(url(0), STATS, { c: concert.id }, admin.headers)).data.queueStats.active).toBe(0);

    expect((await gql(url(0), ADMISSION, { c: concert.id, o: true }, admin.headers)).data.setAdmission.admissionOpen).toBe(true);
    const resumed = await until(
      () => gql(url(1), STATUS, { t: tickets[0].token }, people[0].headers),
      (r) => r.data.queueStatus.status === "ACTIVE",
    );
    expect(resumed.data.queueStatus.status).toBe("ACTIVE");
    const second = await gql(url(0), STATUS, { t: tickets[1].token }, people[1].headers);
    expect(second.data.queueStatus).toMatchObject({ status: "WAITING", queuePosition: 1 });
  });

  it("pushes queueStatsChanged at once, then the changes made on the other instance", async () => {
    const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 7 }] });
    await gql(url(0), POLICY, { c: concert.id, i: { maxActiveUsers: 1 } }, admin.headers);
    const client = wsClient(wsUrl(0), { authorization: `Bearer ${admin.token}` });
    const stats = subscribe(client, WATCH_STATS, { c: concert.id });
    expect((await stats.next(10_000)).data.queueStatsChanged).toMatchObject({ concertId: concert.id, waiting: 0, active: 0, seatsLeft: 7 });
    const people = await Promise.all([0, 1].map(() => signUp(url(1))));
    for (const p of people) await gql(url(1), ENTER, { c: concert.id }, p.headers);
    const seen = await until(
      async () => stats.events.map((e) => e.data.queueStatsChanged),
      (events) => events.some((e) => e.active === 1 && e.waiting === 1),
    );
    expect(seen.at(-1)).toMatchObject({ active: 1, waiting: 1, preQueue: 0 });
    expect(seen.at(-1).admittedPerSecond).toBeGreaterThan(0);

    // Not an admin: FORBIDDEN.
    const userClient = wsClient(wsUrl(1), { authorization: `Bearer ${people[0].token}` });
    const refused = subscribe(userClient, WATCH_STATS, { c: concert.id });
    const first = await refused.next(10_000).catch(() => undefined);
    const failure = refused.failure as { extensions?: { code?: string } }[] | undefined;
    expect(first?.errors?.[0]?.extensions?.code ?? failure?.[0]?.extensions?.code).toBe("FORBIDDEN");
    stats.stop();
    refused.stop();
    await client.dispose();
    await userClient.dispose();
  });
});
