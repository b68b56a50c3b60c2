// The seat map's read cost: server CPU per read of a 5,000-seat map, alone.
//
//   npm run bench:seat-map [-- --seats=5000 --reads=2000 --clients=4 --profile --only=seatAvailability]
//
// Starts the real service (`node dist/src/main.js`, a child process) on a
// fresh database, puts one date of `--seats` seats on sale (a third of them
// sold, a tenth held, so the map is not uniform), lets one probe user in
// (ACTIVE at once: the line is empty), then for each read below sends
// `--reads` reads from `--clients` closed-loop clients and divides the
// server's CPU (user + system, /proc/<pid>/stat) by the reads answered. CPU
// time per read does not depend on how loaded the shared machine is;
// wall-clock figures (reads/s, p50) do, and are printed only as context.
// With REDIS_URL set the server uses Redis for the queue and the seat events,
// as in production; without it, the in-process queue and bus.
// `--profile` also writes a V8 CPU profile of the server to bench/results/profiles.
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync } from "node:fs";
import { loadavg, availableParallelism, cpus } from "node:os";
import { join, resolve } from "node:path";
import { Agent, request } from "node:http";
import { Client } from "pg";
import { createAccessTokens } from "../src/auth/access-tokens";
import { createBenchDatabase, seed } from "./lib/database";
import { startServer } from "./lib/server";
import { processCpuSeconds } from "./lib/stats";
import { graphql } from "./lib/load";

const arg = (name: string, fallback: number) => {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? Number(hit.split("=")[1]) : fallback;
};
const SEATS = arg("seats", 5_000);
const READS = arg("reads", 2_000);
const CLIENTS = arg("clients", 4);
const PROFILE = process.argv.includes("--profile");
/** `--only=seatAvailability`: only the reads whose name contains this. */
const ONLY = process.argv.find((a) => a.startsWith("--only="))?.slice("--only=".length);

const READS_UNDER_TEST: { name: string; query: string }[] = [
  // The floor: what any request costs this server here (HTTP, Apollo, the plugins), with no work of its own.
  { name: "floor: { __typename }", query: "{ __typename }" },
  { name: "seats { number status }", query: "query($d: ID!) { seats(concertDateId: $d) { number status } }" },
  { name: "seats { id number price status }", query: "query($d: ID!) { seats(concertDateId: $d) { id number price status } }" },
  {
    name: "seatAvailability { version seatCount statuses }",
    query: "query($d: ID!) { seatAvailability(concertDateId: $d) { version seatCount statuses } }",
  },
];

function post(agent: Agent, url: URL, body: string, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const req = request(url, { method: "POST", agent, headers: { "content-type": "application/json", ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => done({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      res.on("error", fail);
    });
    req.on("error", fail);
    req.end(body);
  });
}

async function measure(serverUrl: string, pid: number, body: string, headers: Record<string, string>) {
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const target = new URL("/graphql", serverUrl);
  let bytes = 0;
  const once = async () => {
    const r = await post(agent, target, body, headers);
    if (r.status !== 200 || r.text.includes('"errors"')) throw new Error(`read failed (${r.status}): ${r.text.slice(0, 300)}`);
    bytes = r.text.length;
  };
  // Warm-up: the first read loads the map, later ones fill the caches.
  for (let i = 0; i < 200; i++) await once();
  const latencies: number[] = [];
  let left = READS;
  const cpu0 = processCpuSeconds(pid);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (left-- > 0) {
        const t = performance.now();
        await once();
        latencies.push(performance.now() - t);
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  const cpu = processCpuSeconds(pid) - cpu0;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    cpuMsPerRead: Math.round(((cpu * 1000) / READS) * 1000) / 1000,
    readsPerSecond: Math.round(READS / wall),
    p50Ms: Math.round(latencies[Math.floor(latencies.length / 2)] * 100) / 100,
    responseBytes: bytes,
  };
}

async function main() {
  const stamp = `${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;
  const db = await createBenchDatabase(stamp, "seatmap");
  const jwtSecret = randomBytes(32).toString("base64url");
  const profileDir = resolve(__dirname, "../../bench/results/profiles");
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    JWT_SECRET: jwtSecret,
    RATE_LIMIT_USER_PER_SECOND: "0",
    LOG_LEVEL: "warn",
    // No background re-read of the map from PostgreSQL during the batches (about 5 ms
    // of CPU per date per second while it is read): the figure is the read's own cost.
    SEAT_MAP_MAX_AGE_MS: "3600000",
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
  };
  if (PROFILE) mkdirSync(profileDir, { recursive: true });
  const server = await startServer({ env, nodeArgs: PROFILE ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [] });
  try {
    const seeded = await seed(db.url, 2, 0);
    const admin = seeded.userIds[0];
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    await pg.query("UPDATE users SET role = 'ADMIN' WHERE id = $1", [admin]);
    await pg.end();
    const tokens = createAccessTokens(jwtSecret, 86_400);
    const adminJwt = await tokens.issue({ id: admin, role: "ADMIN" });
    const probeJwt = await tokens.issue({ id: seeded.userIds[1], role: "USER" });

    const c = await graphql<{ createConcert: { id: string } }>(
      server.url,
      'mutation { createConcert(input: { title: "Seat map bench" }) { id } }',
      {},
      adminJwt,
    );
    const concertId = c.createConcert.id;
    const d = await graphql<{ addConcertDate: { id: string } }>(
      server.url,
      "mutation($i: AddConcertDateInput!) { addConcertDate(input: $i) { id } }",
      { i: { concertId, startsAt: "2030-05-01T19:00:00.000Z", seatCount: SEATS, price: 50_000 } },
      adminJwt,
    );
    const dateId = d.addConcertDate.id;
    // A third sold, a tenth held (for an hour), by one reservation: a realistic mix of statuses.
    const pg2 = new Client({ connectionString: db.url });
    await pg2.connect();
    const r = await pg2.query<{ id: string }>(
      `INSERT INTO reservations (user_id, concert_id, concert_date_id, queue_token, total_price, status, held_until)
       VALUES ($1, $2, $3, 'bench', 1, 'HELD', now() + interval '1 hour') RETURNING id`,
      [admin, concertId, dateId],
    );
    await pg2.query(`UPDATE seats SET status = 'SOLD', reservation_id = $2 WHERE concert_date_id = $1 AND number % 3 = 0`, [dateId, r.rows[0].id]);
    await pg2.query(
      `UPDATE seats SET status = 'HELD', reservation_id = $2, held_until = now() + interval '1 hour' WHERE concert_date_id = $1 AND number % 10 = 1`,
      [dateId, r.rows[0].id],
    );
    await pg2.end();

    const entered = await graphql<{ enterQueue: { token: string; status: string } }>(
      server.url,
      "mutation($c: ID!) { enterQueue(concertId: $c) { token status } }",
      { c: concertId },
      probeJwt,
    );
    if (entered.enterQueue.status !== "ACTIVE") throw new Error(`the probe is ${entered.enterQueue.status}, not ACTIVE`);
    const headers = { authorization: `Bearer ${probeJwt}`, "x-queue-token": entered.enterQueue.token };

    // The server's own background work (sweeper, queue refresh, timers) costs CPU
    // with no reads at all, and on this shared machine far more per read than the
    // read itself when reads are slow: it is measured in idle windows of 5 s before
    // and after each batch and taken off as `netCpuMsPerRead` (gross kept too).
    await graphql(server.url, "query($d: ID!) { seats(concertDateId: $d) { number } }", { d: dateId }, undefined).catch(() => undefined);
    const idleWindow = async () => {
      const c0 = processCpuSeconds(server.pid);
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 5_000));
      return (processCpuSeconds(server.pid) - c0) / ((performance.now() - t0) / 1000);
    };
    const idles: number[] = [];
    const results: Record<string, unknown>[] = [];
    for (const read of READS_UNDER_TEST.filter((r) => !ONLY || r.name.includes(ONLY))) {
      const body = JSON.stringify({ query: read.query, variables: { d: dateId } });
      try {
        const before = await idleWindow();
        const m = await measure(server.url, server.pid, body, headers);
        const after = await idleWindow();
        idles.push(before, after);
        const idle = (before + after) / 2;
        const net = m.cpuMsPerRead - (idle * 1000) / m.readsPerSecond;
        results.push({ read: read.name, ...m, idleCpuMsPerSecond: Math.round(idle * 10_000) / 10, netCpuMsPerRead: Math.round(net * 1000) / 1000 });
      } catch (error) {
        results.push({ read: read.name, error: (error as Error).message.slice(0, 200) });
      }
    }
    const out = {
      date: new Date().toISOString(),
      command: `npm run bench:seat-map -- --seats=${SEATS} --reads=${READS} --clients=${CLIENTS}${PROFILE ? " --profile" : ""}${ONLY ? ` --only=${ONLY}` : ""}`,
      machine: {
        nproc: availableParallelism(),
        cpu: cpus()[0]?.model,
        node: process.version,
        loadAverage: loadavg()
          .map((x) => x.toFixed(2))
          .join(" "),
      },
      redis: Boolean(process.env.REDIS_URL),
      seats: SEATS,
      reads: READS,
      clients: CLIENTS,
      idleServerCpuMsPerSecond: idles.map((x) => Math.round(x * 10_000) / 10),
      results,
    };
    console.log(JSON.stringify(out, null, 2));
  } finally {
    await server.stop();
    await db.drop();
  }
  if (PROFILE)
    console.log(
      `profiles: ${readdirSync(profileDir)
        .map((f) => join(profileDir, f))
        .join(", ")}`,
    );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
