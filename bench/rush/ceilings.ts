// The machine's ceilings, measured in the same run as the rush so every figure
// of the rush is also a ratio: the bare GraphQL stack ({ __typename } through
// the service's instances, 100 clients in all), one Redis round trip (PING,
// one command in flight per connection) and one PostgreSQL write (a single-row
// INSERT, autocommit, into a scratch table of the run's database).
import Redis from "ioredis";
import { Pool } from "pg";
import { graphql, runLoad } from "../lib/load";
import { processCpuSeconds } from "../lib/stats";
import type { ServerChild } from "../lib/server";
import { quantiles, type Quantiles } from "./quantiles";

export interface Ceiling extends Quantiles {
  what: string;
  concurrency: number;
  rps: number;
  errors: number;
}

const WARMUP_MS = 1_000;

/** { __typename } at `concurrency` in all, split evenly over the instances (closed loop, keep-alive). */
export async function typenameCeiling(servers: ServerChild[], concurrency: number, seconds: number): Promise<Ceiling & { p99PerInstance: number[] }> {
  const body = JSON.stringify({ query: "{ __typename }" });
  const results = await Promise.all(
    servers.map((s) =>
      runLoad({
        url: s.url,
        concurrency: Math.round(concurrency / servers.length),
        warmupMs: WARMUP_MS,
        durationMs: seconds * 1000,
        next: () => ({ body }),
        serverPid: s.pid,
      }),
    ),
  );
  const rps = results.reduce((n, r) => n + r.rps, 0);
  // runLoad reports p50/p99 per instance; the slowest instance's stand for the whole.
  const worst = (k: "p50" | "p99" | "max") => Math.max(...results.map((r) => r[k]));
  return {
    what: `{ __typename } over HTTP, ${servers.length} instance(s)`,
    concurrency,
    rps,
    count: results.reduce((n, r) => n + r.count, 0),
    p50: worst("p50"),
    p95: NaN,
    p99: worst("p99"),
    max: worst("max"),
    mean: NaN,
    errors: results.reduce((n, r) => n + r.errors, 0),
    p99PerInstance: results.map((r) => r.p99),
  };
}

/** PING on `concurrency` connections, each waiting for its answer before the next (a round trip each). */
export async function redisCeiling(url: string, concurrency: number, seconds: number): Promise<Ceiling> {
  const clients = Array.from({ length: concurrency }, () => new Redis(url, { enableAutoPipelining: false, maxRetriesPerRequest: 1 }));
  await Promise.all(clients.map((c) => c.ping()));
  const lat = await closedLoop(concurrency, seconds, async (k) => {
    await clients[k].ping();
  });
  for (const c of clients) c.disconnect();
  return { what: "Redis PING round trip", concurrency, ...lat };
}

/** A single-row INSERT (its own transaction, synchronous commit) on `concurrency` connections. */
export async function postgresCeiling(dbUrl: string, concurrency: number, seconds: number): Promise<Ceiling> {
  const pool = new Pool({ connectionString: dbUrl, max: concurrency });
  await pool.query(
    "CREATE TABLE IF NOT EXISTS rush_scratch (id bigserial PRIMARY KEY, k int NOT NULL, v text NOT NULL, at timestamptz NOT NULL DEFAULT now())",
  );
  const clients = await Promise.all(Array.from({ length: concurrency }, () => pool.connect()));
  const lat = await closedLoop(concurrency, seconds, async (k) => {
    await clients[k].query("INSERT INTO rush_scratch (k, v) VALUES ($1, $2)", [k, "ceiling"]);
  });
  for (const c of clients) c.release();
  await pool.query("DROP TABLE rush_scratch");
  await pool.end();
  return { what: "PostgreSQL single-row INSERT (commit)", concurrency, ...lat };
}

async function closedLoop(concurrency: number, seconds: number, once: (k: number) => Promise<void>) {
  const start = performance.now();
  const from = start + WARMUP_MS;
  const end = from + seconds * 1000;
  const lat: number[] = [];
  let errors = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, k) => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await once(k);
        } catch {
          errors++;
          continue;
        }
        const done = performance.now();
        if (t >= from && done <= end) lat.push(done - t);
      }
    }),
  );
  return { rps: Math.round(lat.length / seconds), errors, ...quantiles(lat) };
}

/**
 * One seat map read of the date on sale, alone: `seats { number status }` at 4
 * clients for `seconds`, by a probe user who enters the queue first (ACTIVE at
 * once, the line being empty) and leaves after. Gives the server CPU one read
 * costs, so the rush's seat reads can be weighed against it.
 */
export async function seatMapCeiling(
  server: ServerChild,
  probe: { jwt: string },
  concertId: string,
  dateId: string,
  seconds: number,
): Promise<Ceiling & { cpuMsPerCall: number }> {
  const auth = { authorization: `Bearer ${probe.jwt}` };
  const entered = await graphql<{ enterQueue: { token: string; status: string } }>(
    server.url,
    "mutation($c: ID!) { enterQueue(concertId: $c) { token status } }",
    { c: concertId },
    probe.jwt,
  );
  const { token, status } = entered.enterQueue;
  if (status !== "ACTIVE") throw new Error(`the seat-map probe is ${status}, not ACTIVE`);
  const body = JSON.stringify({ query: "query($d: ID!) { seats(concertDateId: $d) { number status } }", variables: { d: dateId } });
  const cpu0 = processCpuSeconds(server.pid);
  const r = await runLoad({
    url: server.url,
    concurrency: 4,
    warmupMs: WARMUP_MS,
    durationMs: seconds * 1000,
    next: () => ({ body, headers: { ...auth, "x-queue-token": token } }),
  });
  const cpu = processCpuSeconds(server.pid) - cpu0;
  await graphql(server.url, "mutation($t: String!) { leaveQueue(token: $t) { status } }", { t: token }, probe.jwt);
  // Every answer in the loop, warm-up included, was paid for with the CPU measured.
  const answered = r.count + Math.round((r.rps * WARMUP_MS) / 1000);
  return {
    what: "seat map (`seats { number status }`) of the date on sale, 1 instance",
    concurrency: 4,
    rps: r.rps,
    count: r.count,
    p50: r.p50,
    p95: NaN,
    p99: r.p99,
    max: r.max,
    mean: NaN,
    errors: r.errors,
    cpuMsPerCall: Math.round(((cpu * 1000) / Math.max(1, answered)) * 100) / 100,
  };
}
