// The waiting list (rule 23), on 2 instances with Redis (in process without):
// with keepLineAfterSellOut a sell-out ends only ACTIVE tokens without a hold,
// WAITING ones stay (no estimate), enterQueue still joins, each seat back on
// sale admits the next in line in entry order, exactly once, and the line ends
// SOLD_OUT when the concert's last date starts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { codeOf, gql, signUp, type TestUser } from "../support/client";
import { newAdmin } from "../support/factories";
import { PAY, RESERVE, expectLedgersMatchBalances, expectSeatInvariants, newShopper, type Shopper } from "../support/booking";

const ENTER = `mutation($c:ID!){ enterQueue(concertId:$c){ token status queuePosition estimatedWaitSeconds } }`;
const STATUS = `query($t:String!){ queueStatus(token:$t){ status queuePosition estimatedWaitSeconds expiredReason } }`;
const REFUND = `mutation($r:ID!){ refundReservation(reservationId:$r){ status } }`;
const POLICY = `mutation($c:ID!,$m:Int!){ updateQueuePolicy(concertId:$c, input:{ maxActiveUsers:$m }){ maxActiveUsers } }`;
const redis = Boolean(process.env.REDIS_URL);
let deployment: Awaited<ReturnType<typeof startDeployment>>;
let admin: TestUser;
const url = (i: number) => deployment.servers[i % deployment.servers.length].url;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  deployment = await startDeployment({
    instances: redis ? 2 : 1,
    redis,
    settings: { QUEUE_MAX_ACTIVE: "1000", QUEUE_ADMIT_PER_SECOND: "1000", QUEUE_ENTER_PER_SECOND: "1000" },
  });
  admin = await newAdmin(deployment.server);
});
afterAll(() => deployment.close());

async function waitingListConcert(seatCount: number, startsInSeconds = 30 * 86_400) {
  const c = await gql(
    url(0),
    `mutation{ createConcert(input:{ title:"Encore", keepLineAfterSellOut:true }){ id keepLineAfterSellOut } }`,
    {},
    admin.headers,
  );
  expect(c.data.createConcert.keepLineAfterSellOut).toBe(true);
  const id = c.data.createConcert.id as string;
  const startsAt = new Date(Date.now() + startsInSeconds * 1000).toISOString();
  const d = await gql(
    url(0),
    `mutation($i:AddConcertDateInput!){ addConcertDate(input:$i){ id } }`,
    { i: { concertId: id, startsAt, seatCount, price: 1000 } },
    admin.headers,
  );
  return { id, date: d.data.addConcertDate.id as string };
}

interface InLine extends TestUser {
  queueToken: string;
}

/** Users entering one after another (their entry order is the array's), on alternating instances. */
async function line(concertId: string, n: number): Promise<InLine[]> {
  const users: InLine[] = [];
  for (let i = 0; i < n; i++) {
    const user = await signUp(url(i), "waiter");
    const r = await gql(url(i), ENTER, { c: concertId }, user.headers);
    expect(r.errors).toBeUndefined();
    users.push({ ...user, queueToken: r.data.enterQueue.token });
  }
  return users;
}

const status = async (u: InLine, i = 0) => (await gql(url(i), STATUS, { t: u.queueToken }, u.headers)).data.queueStatus;

async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await sleep(200);
  }
}

describe("the waiting list (keepLineAfterSellOut)", () => {
  // This failed in loaded full runs (once with [0,0,0,0,1]: more ACTIVE than refunds): the
  // other instance admitted on its cached maxActiveUsers of 1000 after the update to 1.
  // Fixed by setPolicy (queue-store.ts), proven on both stores in queue-store.test.ts.
  it("keeps the line through a sell-out, and 10 refunds admit exactly the next 10 in line, in entry order", {
    timeout: 180_000,
  }, async () => {
    const concert = await waitingListConcert(10);
    const buyers: Shopper[] = await Promise.all(Array.from({ length: 10 }, (_, i) => newShopper(url(i), concert.id, 5_000)));
    const idler = await newShopper(url(1), concert.id);
    const holds = await Promise.all(buyers.map((b, i) => gql(url(i), RESERVE, { d: concert.date, n: [i + 1] }, b.q)));
    expect(holds.map(codeOf)).toEqual(holds.map(() => undefined));
    // Nobody is admitted while the buyers pay: the line is behind a full house.
    expect((await gql(url(0), POLICY, { c: concert.id, m: 1 }, admin.headers)).errors).toBeUndefined();
    const early = await line(concert.id, 5);
    expect((await Promise.all(early.map((u) => status(u)))).map((s) => s.queuePosition)).toEqual([1, 2, 3, 4, 5]);

    const paid = await Promise.all(buyers.map((b, i) => gql(url(i + 1), PAY, { r: holds[i].data.reserveSeats.id }, b.q)));
    expect(paid.map(codeOf)).toEqual(paid.map(() => undefined));
    // Sold out: the ACTIVE token without a hold ends SOLD_OUT, the WAITING ones stay, with no estimate.
    await until(
      "the idler's end",
      () => status(idler as unknown as InLine),
      (s) => s.status === "EXPIRED",
    );
    expect(await status(idler as unknown as InLine)).toMatchObject({ status: "EXPIRED", expiredReason: "SOLD_OUT" });
    const late = await line(concert.id, 15);
    const everyone = [...early, ...late];
    const before = await Promise.all(everyone.map((u, i) => status(u, i)));
    expect(before).toEqual(everyone.map((_, i) => ({ status: "WAITING", queuePosition: i + 1, estimatedWaitSeconds: null, expiredReason: null })));

    // Room in the policy again, but no seat: nobody moves.
    await gql(url(0), POLICY, { c: concert.id, m: 1000 }, admin.headers);
    await sleep(1_500);
    expect((await Promise.all(everyone.map((u) => status(u)))).filter((s) => s.status !== "WAITING")).toEqual([]);

    const refunds = await Promise.all(buyers.map((b, i) => gql(url(i), REFUND, { r: holds[i].data.reserveSeats.id }, b.headers)));
    expect(refunds.map(codeOf)).toEqual(refunds.map(() => undefined));
    const after = await until(
      "10 admissions",
      () => Promise.all(everyone.map((u, i) => status(u, i))),
      (all) => all.filter((s) => s.status === "ACTIVE").length >= 10,
    );
    await sleep(1_500); // and no 11th
    const settled = await Promise.all(everyone.map((u, i) => status(u, i)));
    expect(settled.map((s) => s.status)).toEqual([...Array(10).fill("ACTIVE"), ...Array(10).fill("WAITING")]);
    expect(settled.slice(10).map((s) => s.queuePosition)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(after.slice(0, 10).map((s) => s.status)).toEqual(Array(10).fill("ACTIVE"));

    // The admitted buy the ten seats; the concert sells out again and the rest stay in line.
    const admitted = everyone.slice(0, 10);
    await Promise.all(admitted.map((u) => gql(url(0), `mutation($a:Int!){ chargeBalance(amount:$a) }`, { a: 1_000 }, u.headers)));
    const resold = await Promise.all(
      admitted.map(async (u, i) => {
        const q = { authorization: `Bearer ${u.token}`, "x-queue-token": u.queueToken };
        const h = await gql(url(i), RESERVE, { d: concert.date, n: [i + 1] }, q);
        return h.errors ? h : gql(url(i + 1), PAY, { r: h.data.reserveSeats.id }, q);
      }),
    );
    expect(resold.map(codeOf)).toEqual(resold.map(() => undefined));
    await sleep(1_000);
    expect((await Promise.all(everyone.slice(10).map((u) => status(u)))).map((s) => s.status)).toEqual(Array(10).fill("WAITING"));
    await expectLedgersMatchBalances(deployment.db.url);
    await expectSeatInvariants(deployment.db.url);
  });

  it("keeps the line of a sold-out concert until its last date starts, then ends it SOLD_OUT", async () => {
    const concert = await waitingListConcert(2, 25);
    const buyer = await newShopper(url(0), concert.id, 5_000);
    const held = (await gql(url(0), RESERVE, { d: concert.date, n: [1, 2] }, buyer.q)).data.reserveSeats;
    expect((await gql(url(1), PAY, { r: held.id }, buyer.q)).errors).toBeUndefined();
    const [first, second] = await line(concert.id, 2);
    expect(await status(first)).toMatchObject({ status: "WAITING", queuePosition: 1 });
    expect(await status(second)).toMatchObject({ status: "WAITING", queuePosition: 2 });
    // Without the flag the same concert would answer SOLD_OUT; with it the line ends only when the date starts.
    const ended = await until(
      "the line's end",
      () => Promise.all([status(first), status(second, 1)]),
      (all) => all.every((s) => s.status === "EXPIRED"),
      60_000,
    );
    expect(ended).toEqual([
      { status: "EXPIRED", queuePosition: 0, estimatedWaitSeconds: null, expiredReason: "SOLD_OUT" },
      { status: "EXPIRED", queuePosition: 0, estimatedWaitSeconds: null, expiredReason: "SOLD_OUT" },
    ]);
  }, 120_000);
});
