// /metrics during a small on-sale on two instances sharing PostgreSQL and
// Redis: the line (waiting, active), admissions, holds made and expired, seats
// sold and revenue, errors by code, open sockets and pushes agree with what
// the API says and what the clients saw.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment, type TestServer } from "../support/server";
import { bearer, codeOf, gql, signUp, subscribe, wsClient, type TestUser } from "../support/client";
import { newAdmin, newConcert, type TestConcert } from "../support/factories";
import { CHARGE, PAY, RESERVE } from "../support/booking";
import { assertRedisAnswers, redisUrl } from "../support/redis";
import { sql } from "../support/sql";
import { notRun } from "../support/stores";

const MAX_ACTIVE = 3;
const FANS = 10;
const SEATS = 10;
const PRICE = 1000;

/** Prometheus text → samples by series, e.g. `queue_waiting{concert="…"}` → 7. */
async function scrape(server: TestServer): Promise<Map<string, number>> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

const concertSeries = (name: string, concertId: string) => `${name}{concert="${concertId}"}`;

const SUITE = "/metrics during an on-sale on two instances (Redis)";
if (!redisUrl) notRun(SUITE, "REDIS_URL is not set: two instances need a shared Redis");
describe.runIf(redisUrl)(SUITE, () => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  let a: TestServer;
  let b: TestServer;
  let admin: TestUser;
  let concert: TestConcert;

  beforeAll(async () => {
    await assertRedisAnswers();
    deployment = await startDeployment({
      instances: 2,
      redis: true,
      settings: { QUEUE_MAX_ACTIVE: String(MAX_ACTIVE), QUEUE_ADMIT_PER_SECOND: "1000", QUEUE_ENTER_PER_SECOND: "1000" },
    });
    [a, b] = deployment.servers;
    admin = await newAdmin(a);
    concert = await newConcert(a, admin, { dates: [{ seatCount: SEATS, price: PRICE }] });
  }, 60_000);
  afterAll(() => deployment?.close());

  const both = async (name: string) => {
    const [sa, sb] = await Promise.all([scrape(a), scrape(b)]);
    return { a: sa.get(name), b: sb.get(name), sum: (sa.get(name) ?? 0) + (sb.get(name) ?? 0) };
  };
  const stats = async () =>
    (await gql(a.url, `query($c:ID!){ queueStats(concertId:$c){ waiting active } }`, { c: concert.id }, admin.headers)).data.queueStats as {
      waiting: number;
      active: number;
    };

  it("reports the line, the sales and the failures as the API and the clients see them", async () => {
    const date = concert.dates[0].id;
    // A crowd enters at once, half through each instance: MAX_ACTIVE are admitted, the rest wait.
    const fans = await Promise.all(Array.from({ length: FANS }, () => signUp(a.url, "crowd")));
    for (const fan of fans) expect((await gql(a.url, CHARGE, { a: 10 * PRICE }, fan.headers)).errors).toBeUndefined();
    const entered = await Promise.all(
      fans.map((fan, i) =>
        gql((i % 2 ? b : a).url, `mutation($c:ID!){ enterQueue(concertId:$c){ token status queuePosition } }`, { c: concert.id }, fan.headers),
      ),
    );
    const tickets = entered.map(
      (r, i) =>
        ({ fan: fans[i], server: i % 2 ? b : a, ...r.data.enterQueue }) as {
          fan: TestUser;
          server: TestServer;
          token: string;
          status: string;
          queuePosition: number;
        },
    );
    const active = tickets.filter((t) => t.status === "ACTIVE");
    const waiting = tickets.filter((t) => t.status === "WAITING").sort((x, y) => x.queuePosition - y.queuePosition);
    expect(active).toHaveLength(MAX_ACTIVE);
    expect(waiting).toHaveLength(FANS - MAX_ACTIVE);

    // 1. The line: both instances report what queueStats says.
    expect(await stats()).toEqual({ waiting: FANS - MAX_ACTIVE, active: MAX_ACTIVE });
    for (const s of [a, b]) {
      const m = await scrape(s);
      expect(m.get(concertSeries("queue_waiting", concert.id))).toBe(FANS - MAX_ACTIVE);
      expect(m.get(concertSeries("queue_active", concert.id))).toBe(MAX_ACTIVE);
      expect(m.get(concertSeries("queue_pre_queue", concert.id))).toBe(0);
    }
    expect((await both(concertSeries("queue_admissions_total", concert.id))).sum).toBe(MAX_ACTIVE);

    // The next two in line watch their tickets through instance B.
    const watchers = waiting.slice(0, 2).map((t) => {
      const client = wsClient(b.wsUrl, { authorization: `Bearer ${t.fan.token}` });
      const sub = subscribe(client, `subscription($t:String!){ queueStatusChanged(token:$t){ status queuePosition } }`, { t: t.token });
      return { client, sub };
    });
    await expect.poll(() => watchers.every((w) => w.sub.events.length > 0), { timeout: 15_000 }).toBe(true);
    expect((await scrape(b)).get("websocket_open")).toBe(2);

    // 2. A waiting fan tries to hold seats: refused, and counted by its code on the instance that answered.
    const early = await gql(waiting[5].server.url, RESERVE, { d: date, n: [9] }, bearer(waiting[5].fan.token, waiting[5].token));
    expect(codeOf(early)).toBe("QUEUE_NOT_ACTIVE");
    expect((await scrape(waiting[5].server)).get(`graphql_errors_total{code="QUEUE_NOT_ACTIVE"}`)).toBe(1);

    // 3. Two active fans hold and pay one seat each; the third holds one and lets it run out.
    const [p1, p2, idle] = active;
    for (const [t, seat] of [
      [p1, 1],
      [p2, 2],
    ] as const) {
      const held = await gql(t.server.url, RESERVE, { d: date, n: [seat] }, bearer(t.fan.token, t.token));
      expect(held.errors).toBeUndefined();
      const paid = await gql(t.server.url, PAY, { r: held.data.reserveSeats.id }, bearer(t.fan.token, t.token));
      expect(paid.data?.pay.status).toBe("COMPLETED");
    }
    const idleHold = await gql(idle.server.url, RESERVE, { d: date, n: [3] }, bearer(idle.fan.token, idle.token));
    expect(idleHold.errors).toBeUndefined();
    // Its time is put two seconds in the past: the sweeper ends it late, and says so.
    await sql(deployment.db.url, `UPDATE reservations SET held_until = now() - interval '2 seconds' WHERE id = $1`, [idleHold.data.reserveSeats.id]);

    // Three tokens ended (two PAID, one HOLD_TIMEOUT): three more are admitted, the watchers among them.
    await expect.poll(() => stats(), { timeout: 20_000 }).toEqual({ waiting: FANS - 2 * MAX_ACTIVE, active: MAX_ACTIVE });
    await expect
      .poll(() => watchers.map((w) => w.sub.events.at(-1)?.data?.queueStatusChanged.status), { timeout: 15_000 })
      .toEqual(["ACTIVE", "ACTIVE"]);

    // 4. Sales as the API counts them: every seat not available is sold (no hold is left).
    const dates = (await gql(a.url, `query($c:ID!){ concert(id:$c){ dates { totalSeats availableSeats } } }`, { c: concert.id })).data.concert.dates;
    const sold = dates[0].totalSeats - dates[0].availableSeats;
    expect(sold).toBe(2);
    const [paidRows] = await sql<{ n: number }>(deployment.db.url, `SELECT count(*)::int AS n FROM payments WHERE status = 'COMPLETED'`);
    expect(paidRows.n).toBe(2);

    const line = await stats();
    for (const s of [a, b]) {
      const m = await scrape(s);
      expect(m.get(concertSeries("queue_waiting", concert.id))).toBe(line.waiting);
      expect(m.get(concertSeries("queue_active", concert.id))).toBe(line.active);
    }
    expect((await both(concertSeries("seats_sold_total", concert.id))).sum).toBe(sold);
    expect((await both(concertSeries("revenue_won_total", concert.id))).sum).toBe(sold * PRICE);
    expect((await both(concertSeries("holds_made_total", concert.id))).sum).toBe(3);
    expect((await both(concertSeries("holds_expired_total", concert.id))).sum).toBe(1);
    expect((await both(concertSeries("holds_released_late_total", concert.id))).sum).toBe(1);
    expect((await both("hold_sweeper_lag_seconds_count")).sum).toBe(1);
    expect((await both(concertSeries("queue_admissions_total", concert.id))).sum).toBe(2 * MAX_ACTIVE);

    // 5. Pushes: instance B counts exactly what its two clients received, and timed their admissions.
    // A push counted as it is sent may still be on its way to the client: wait until they agree.
    const counts = async () => ({
      sent: (await scrape(b)).get(`subscription_pushes_total{kind="queueStatusChanged"}`),
      received: watchers.reduce((n, w) => n + w.sub.events.length, 0),
    });
    await expect
      .poll(
        async () => {
          const c = await counts();
          return c.sent === c.received ? c.sent : c;
        },
        { timeout: 5_000 },
      )
      .toBeGreaterThan(0);
    const mb = await scrape(b);
    expect(mb.get("queue_admission_push_seconds_count")).toBeGreaterThanOrEqual(1);
    expect(mb.get("websocket_connects_total")).toBe(2);
    expect((await scrape(a)).get(`subscription_pushes_total{kind="queueStatusChanged"}`) ?? 0).toBe(0);

    // Redis and PostgreSQL calls were timed on both instances.
    for (const s of [a, b]) {
      const m = await scrape(s);
      expect(m.get(`db_query_duration_seconds_count{pool="main"}`)).toBeGreaterThan(0);
      expect([...m.keys()].some((k) => k.startsWith("redis_command_duration_seconds_count{"))).toBe(true);
    }
    for (const w of watchers) await w.client.dispose();
    await expect.poll(async () => (await scrape(b)).get("websocket_open"), { timeout: 10_000 }).toBe(0);
  }, 120_000);
});
