// npm run bench:faults — a small crowd keeps using the service while its
// dependencies fail (rule 27): a plain Redis without persistence restarts empty,
// PostgreSQL stops and starts, and, on a Redis Cluster, the master that owns the
// concert's slot is killed. Everything here is our own (an embedded PostgreSQL,
// redis-server processes on free ports), never the machine's shared servers.
//
// Reports errors by code over time, each outage's answers (SERVICE_UNAVAILABLE,
// how fast), the time to recover after the dependency answers again, the places
// lost (a token that answered before and is unknown after), admissions out of
// order (an ACTIVE token entered after one still WAITING), and the seat and
// money invariants; writes bench/results/faults-latest.{json,svg,md}.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { withClient } from "../lib/database";
import { createApp, type App } from "../../src/app";
import { loadSettings } from "../../src/config/settings";
import { startEmbeddedPostgres } from "../../src/db/embedded-postgres";
import { migrate } from "../../src/db/migrate";
import { createLogger } from "../../src/observability/logger";
import { freePorts, startPlainRedis, startRedisCluster } from "../lib/redis-servers";
import { renderFaultChart, type Bucket, type Outage } from "./fault-chart";

const env = (name: string, fallback: string) => process.env[name] ?? fallback;
const USERS = Number(env("FAULTS_USERS", "30"));
/** Between one user's requests. */
const THINK_MS = Number(env("FAULTS_THINK_MS", "500"));
const BUCKET_MS = 250;
const RESULTS = resolve(__dirname, "../../../bench/results");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (m: string) => console.log(`[faults ${new Date().toISOString().slice(11, 19)}] ${m}`);

type Answer = { at: number; op: string; code: string; ms: number; status: number };

interface Person {
  i: number;
  jwt: string;
  token?: string;
  seen: boolean;
  reservationId?: string;
  paid: boolean;
  lost: boolean;
}

async function gql(url: string, query: string, variables: Record<string, unknown>, headers: Record<string, string>) {
  const res = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: any; errors?: { extensions?: { code?: string } }[] };
  return { ...body, status: res.status, code: body.errors?.[0]?.extensions?.code ?? "ok" };
}

const sql = <T>(url: string, text: string, params: unknown[] = []): Promise<T[]> =>
  withClient(url, async (c) => (await c.query(text, params)).rows as T[]);

interface ScenarioResult {
  name: string;
  answers: Answer[];
  outages: Outage[];
  placesLost: number;
  outOfOrder: number;
  invariantViolations: string[];
  purchases: number;
  seconds: number;
}

/** One server on `redis` (a URL or cluster nodes) and `pg`, a crowd of USERS, and `faults` fired at their times. */
async function scenario(
  name: string,
  pgUrl: string,
  redisEnv: Record<string, string>,
  faults: { at: number; what: string; dependency: "redis" | "database"; down: () => Promise<void>; up: () => Promise<void>; downFor: number }[],
  seconds: number,
): Promise<ScenarioResult> {
  const settings = loadSettings({
    JWT_SECRET: "fault-bench-secret-that-is-long-enough-for-hs256",
    DATA_DIR: "./data/faults",
    LOG_LEVEL: env("FAULTS_LOG_LEVEL", "warn"),
    RATE_LIMIT_USER_PER_SECOND: "0",
    QUEUE_ENTER_PER_SECOND: "1000",
    ...redisEnv,
  });
  const app: App = await createApp({ settings, databaseUrl: pgUrl, logger: createLogger(settings.logLevel) });
  const { url } = await app.listen(0, "127.0.0.1");
  // An admin, a concert with a seat per user, a slow line (people wait through every fault).
  const [{ id: adminId }] = await sql<{ id: string }>(
    pgUrl,
    `INSERT INTO users (email, password_hash, role) VALUES ($1, 'x', 'ADMIN') RETURNING id`,
    [`admin-${name}-${Date.now()}@faults.test`],
  );
  const adminJwt = await app.services.tokens.issue({ id: adminId, role: "ADMIN" });
  const admin = { authorization: `Bearer ${adminJwt}` };
  const concert = await gql(url, `mutation{ createConcert(input:{title:"Faults"}){ id } }`, {}, admin);
  const concertId = concert.data.createConcert.id as string;
  const date = await gql(
    url,
    `mutation($i:AddConcertDateInput!){ addConcertDate(input:$i){ id } }`,
    { i: { concertId, startsAt: new Date(Date.now() + 86_400_000).toISOString(), seatCount: USERS + 10, price: 100 } },
    admin,
  );
  const dateId = date.data.addConcertDate.id as string;
  await gql(
    url,
    `mutation($c:ID!){ updateQueuePolicy(concertId:$c,input:{maxActiveUsers:8,admitPerSecond:2}){ concertId } }`,
    { c: concertId },
    admin,
  );
  const people: Person[] = [];
  const ids = await sql<{ id: string }>(
    pgUrl,
    `INSERT INTO users (email, password_hash, balance) SELECT 'u' || g || '-' || $1 || '@faults.test', 'x', 0 FROM generate_series(1, $2) g RETURNING id`,
    [`${name}-${Date.now()}`, USERS],
  );
  for (const [i, { id }] of ids.entries())
    people.push({ i, jwt: await app.services.tokens.issue({ id, role: "USER" }), seen: false, paid: false, lost: false });
  for (const p of people) await gql(url, `mutation{ chargeBalance(amount:1000, idempotencyKey:"c") }`, {}, { authorization: `Bearer ${p.jwt}` });

  const answers: Answer[] = [];
  const t0 = Date.now();
  const call = async (op: string, query: string, variables: Record<string, unknown>, headers: Record<string, string>) => {
    const started = performance.now();
    const r = await gql(url, query, variables, headers).catch(() => ({ code: "NETWORK", status: 0, data: undefined }));
    answers.push({ at: Date.now() - t0, op, code: r.code, ms: performance.now() - started, status: r.status });
    return r;
  };
  let running = true;
  const crowd = people.map(async (p) => {
    const auth = { authorization: `Bearer ${p.jwt}` };
    await sleep(Math.random() * 1000);
    while (running && !p.paid) {
      if (!p.token) {
        const r = await call("enterQueue", `mutation($c:ID!){ enterQueue(concertId:$c){ token status } }`, { c: concertId }, auth);
        if (r.data?.enterQueue) p.token = r.data.enterQueue.token;
      } else {
        const r = await call("queueStatus", `query($t:String!){ queueStatus(token:$t){ status expiredReason } }`, { t: p.token }, auth);
        if (r.code === "QUEUE_TOKEN_INVALID" && p.seen) p.lost = true;
        const s = r.data?.queueStatus;
        if (s) p.seen = true;
        if (s?.status === "ACTIVE") {
          const q = { ...auth, "x-queue-token": p.token };
          if (!p.reservationId) {
            const h = await call(
              "reserveSeats",
              `mutation($d:ID!,$n:[Int!]!){ reserveSeats(concertDateId:$d, seatNumbers:$n){ id } }`,
              { d: dateId, n: [p.i + 1] },
              q,
            );
            if (h.data?.reserveSeats) p.reservationId = h.data.reserveSeats.id;
          }
          if (p.reservationId) {
            // Pay only after a while: holds must live through the faults.
            if (Date.now() - t0 > seconds * 1000 * 0.6) {
              const paid = await call(
                "pay",
                `mutation($r:ID!,$k:String){ pay(reservationId:$r, idempotencyKey:$k){ status } }`,
                { r: p.reservationId, k: `pay-${p.i}` },
                q,
              );
              if (paid.data?.pay?.status === "COMPLETED") p.paid = true;
            }
          }
        } else if (s?.status === "EXPIRED") {
          p.token = undefined;
          p.reservationId = undefined;
        }
      }
      await sleep(THINK_MS);
    }
  });
  // The audit: every 500 ms, the statuses of all tokens straight from the store.
  const audits: Map<string, string>[] = [];
  const audit = (async () => {
    while (running) {
      const tokens = people.map((p) => p.token).filter((t): t is string => Boolean(t));
      const states = await app.services.queue.readMany(concertId, tokens).catch(() => null);
      if (states) audits.push(new Map(states.filter((s) => s !== null).map((s) => [s!.token, s!.status])));
      await sleep(500);
    }
  })();
  const outages: Outage[] = [];
  for (const f of faults) {
    await sleep(Math.max(0, t0 + f.at * 1000 - Date.now()));
    log(`${name}: ${f.what}`);
    const down = Date.now() - t0;
    await f.down();
    await sleep(f.downFor * 1000);
    await f.up();
    outages.push({ what: f.what, dependency: f.dependency, from: down, to: Date.now() - t0 });
    log(`${name}: ${f.dependency} answers again`);
  }
  await sleep(Math.max(0, t0 + seconds * 1000 - Date.now()));
  running = false;
  await Promise.all([...crowd, audit]);

  // Admissions out of order: in one audit, an ACTIVE token entered after one still WAITING.
  const seqs = new Map(
    (
      await sql<{ token: string; seq: string }>(pgUrl, `SELECT token, seq FROM queue_tokens WHERE concert_id = $1 AND seq IS NOT NULL`, [concertId])
    ).map((r) => [r.token, Number(r.seq)]),
  );
  let outOfOrder = 0;
  for (const a of audits) {
    let minWaiting = Infinity;
    let maxActive = -Infinity;
    for (const [t, s] of a) {
      const q = seqs.get(t);
      if (q === undefined) continue;
      if (s === "WAITING") minWaiting = Math.min(minWaiting, q);
      if (s === "ACTIVE") maxActive = Math.max(maxActive, q);
    }
    if (maxActive > minWaiting) outOfOrder++;
  }
  const invariantViolations = (
    await sql<{ what: string }>(
      pgUrl,
      `
    SELECT 'held seat of a reservation not HELD' AS what FROM seats s JOIN reservations r ON r.id = s.reservation_id WHERE s.status = 'HELD' AND r.status <> 'HELD'
    UNION ALL SELECT 'sold seat of a reservation not CONFIRMED' FROM seats s JOIN reservations r ON r.id = s.reservation_id WHERE s.status = 'SOLD' AND r.status <> 'CONFIRMED'
    UNION ALL SELECT 'balance not the sum of its ledger' FROM users u WHERE u.balance <> (SELECT coalesce(sum(amount), 0) FROM ledger_entries l WHERE l.user_id = u.id)
    UNION ALL SELECT 'paid twice' FROM payments p WHERE p.status = 'COMPLETED' GROUP BY p.reservation_id HAVING count(*) > 1`,
    )
  ).map((r) => r.what);
  await app.close();
  return {
    name,
    answers,
    outages,
    placesLost: people.filter((p) => p.lost).length,
    outOfOrder,
    invariantViolations,
    purchases: people.filter((p) => p.paid).length,
    seconds,
  };
}

function summarize(r: ScenarioResult) {
  const byCode: Record<string, number> = {};
  for (const a of r.answers) byCode[a.code] = (byCode[a.code] ?? 0) + 1;
  const outages = r.outages.map((o) => {
    const during = r.answers.filter((a) => a.at >= o.from && a.at <= o.to);
    const refused = during.filter((a) => a.code === "SERVICE_UNAVAILABLE");
    const wrong = during.filter((a) => a.code !== "ok" && a.code !== "SERVICE_UNAVAILABLE" && a.code !== "QUEUE_NOT_ACTIVE");
    // Recovered: the first second after the dependency is back with no SERVICE_UNAVAILABLE in it.
    let recoveredMs: number | null = null;
    for (let t = o.to; t < r.seconds * 1000; t += 100) {
      const window = r.answers.filter((a) => a.at >= t && a.at < t + 1000);
      if (window.length > 0 && window.every((a) => a.code !== "SERVICE_UNAVAILABLE") && window.some((a) => a.code === "ok")) {
        recoveredMs = t - o.to;
        break;
      }
    }
    const late = refused.filter((a) => a.ms >= 1000).length;
    const ms = refused.map((a) => a.ms).sort((x, y) => x - y);
    const q = (f: number) => (ms.length ? Math.round(ms[Math.min(ms.length - 1, Math.floor(f * ms.length))]) : null);
    return {
      what: o.what,
      downMs: o.to - o.from,
      answers: during.length,
      ok: during.filter((a) => a.code === "ok").length,
      serviceUnavailable: refused.length,
      unavailableP50Ms: q(0.5),
      unavailableP99Ms: q(0.99),
      unavailableMaxMs: Math.round(Math.max(0, ...refused.map((a) => a.ms))),
      unavailableWithout503: refused.filter((a) => a.status !== 503).length,
      unavailableOver1s: late,
      otherErrors: wrong.length,
      otherErrorCodes: [...new Set(wrong.map((a) => a.code))],
      recoveredMsAfterBack: recoveredMs,
    };
  });
  const okMs = r.answers
    .filter((a) => a.code === "ok")
    .map((a) => a.ms)
    .sort((x, y) => x - y);
  const okQ = (f: number) => (okMs.length ? Math.round(okMs[Math.min(okMs.length - 1, Math.floor(f * okMs.length))]) : null);
  return {
    name: r.name,
    requests: r.answers.length,
    okP50Ms: okQ(0.5),
    okP99Ms: okQ(0.99),
    byCode,
    outages,
    placesLost: r.placesLost,
    outOfOrderAudits: r.outOfOrder,
    invariantViolations: r.invariantViolations,
    purchases: r.purchases,
  };
}

function buckets(r: ScenarioResult): Bucket[] {
  const out: Bucket[] = [];
  for (let t = 0; t < r.seconds * 1000; t += BUCKET_MS) {
    const inside = r.answers.filter((a) => a.at >= t && a.at < t + BUCKET_MS);
    const counts: Record<string, number> = {};
    for (const a of inside) counts[a.code] = (counts[a.code] ?? 0) + 1;
    out.push({ at: t, counts, maxMs: Math.max(0, ...inside.map((a) => a.ms)) });
  }
  return out;
}

async function main() {
  const root = mkdtempSync("/tmp/faults-bench-");
  const [pgPort] = await freePorts(1);
  let pg = await startEmbeddedPostgres({ dataDir: `${root}/pg`, port: pgPort });
  await migrate(pg.url);
  const redis = await startPlainRedis();
  const results: ScenarioResult[] = [];
  try {
    log(`plain Redis ${redis.url}, embedded PostgreSQL on ${pgPort}, ${USERS} users`);
    results.push(
      await scenario(
        "plain Redis + PostgreSQL",
        pg.url,
        { REDIS_URL: redis.url },
        [
          { at: 6, what: "Redis killed, started again empty", dependency: "redis", down: () => redis.kill(), up: () => redis.start(), downFor: 2 },
          {
            at: 16,
            what: "PostgreSQL stopped and started",
            dependency: "database",
            down: () => pg.stop(),
            up: async () => {
              pg = await startEmbeddedPostgres({ dataDir: `${root}/pg`, port: pgPort });
            },
            downFor: 2,
          },
        ],
        32,
      ),
    );
    const cluster = await startRedisCluster(3);
    try {
      let victim: { kill(): Promise<void>; port: number } | undefined;
      results.push(
        await scenario(
          "Redis Cluster",
          pg.url,
          { REDIS_CLUSTER_NODES: cluster.spec },
          [
            {
              at: 6,
              what: "the concert's cluster master killed",
              dependency: "redis",
              downFor: 0,
              down: async () => {
                const [{ id }] = await sql<{ id: string }>(pg.url, `SELECT id FROM concerts ORDER BY created_at DESC LIMIT 1`);
                const port = await cluster.masterOf(`q:{${id}}:seq`);
                victim = cluster.servers.find((s) => s.port === port)!;
                await victim.kill();
              },
              // Back once a replica owns the concert's slot and the cluster is whole again (right
              // after the kill every node still says cluster_state:ok: it takes cluster-node-timeout to notice).
              up: async () => {
                const [{ id }] = await sql<{ id: string }>(pg.url, `SELECT id FROM concerts ORDER BY created_at DESC LIMIT 1`);
                for (const deadline = Date.now() + 60_000; (await cluster.masterOf(`q:{${id}}:seq`).catch(() => victim!.port)) === victim!.port; ) {
                  if (Date.now() > deadline) throw new Error("no replica took over the concert's slot within 60 s");
                  await sleep(100);
                }
                await cluster.waitHealthy(60_000);
              },
            },
          ],
          24,
        ),
      );
    } finally {
      await cluster.stop();
    }
  } finally {
    await redis.stop();
    await pg.stop();
    rmSync(root, { recursive: true, force: true });
  }
  const summaries = results.map(summarize);
  const out = {
    date: new Date().toISOString(),
    command: "npm run bench:faults",
    users: USERS,
    loadAverageAtEnd: (await import("node:os")).loadavg(),
    scenarios: summaries,
  };
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(resolve(RESULTS, "faults-latest.json"), JSON.stringify(out, null, 2));
  writeFileSync(
    resolve(RESULTS, "faults-latest.svg"),
    renderFaultChart(results.map((r) => ({ name: r.name, buckets: buckets(r), outages: r.outages, seconds: r.seconds, bucketMs: BUCKET_MS }))),
  );
  console.log(JSON.stringify(out, null, 2));
  const load = (await import("node:os"))
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(" ");
  console.log(`load average at the end: ${load}`);
  const bad = summaries.some(
    (s) =>
      s.placesLost > 0 ||
      s.outOfOrderAudits > 0 ||
      s.invariantViolations.length > 0 ||
      s.outages.some((o) => o.otherErrors > 0 || o.unavailableOver1s > 0 || o.unavailableWithout503 > 0),
  );
  // Exit now: embedded-postgres's own exit hook would throw after its server was stopped and started.
  process.exit(bad ? 1 : 0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
