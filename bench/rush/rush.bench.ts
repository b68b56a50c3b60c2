// `npm run bench:rush`: the on-sale rush (issue 5). For each topology (1, then
// 2 instances by default) on a fresh PostgreSQL database and a flushed Redis
// database: start the real service as child processes, seed the crowd by SQL,
// measure the ceilings, then play the crowd from load-generator processes on an
// open-loop schedule while sampling the queue, the holds and every process's
// CPU; then check the invariants and compute the figures. Writes
// bench/results/rush-latest.{json,md}, the chart (docs/rush.svg when
// publishing) and exits non-zero on any violation.
import { randomBytes } from "node:crypto";
import { fork, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import Redis from "ioredis";
import { createAccessTokens } from "../../src/auth/access-tokens";
import { createBenchDatabase, seed, userId, type BenchDatabase } from "../lib/database";
import { startServer, sleep, type ServerChild } from "../lib/server";
import { waitForQuiet } from "../lib/stats";
import { monotonicMicros, summarizeProfile, type ProfileSummary } from "../profile-summary";
import { postgresCeiling, redisCeiling, seatMapCeiling, typenameCeiling, type Ceiling } from "./ceilings";
import { readTokens, runChecks, type Check } from "./checks";
import type { FromWorker, WorkerPlan, WorkerResult } from "./crowd-worker";
import { buildSeries, errorCounts, mergeCalls, OPS, opFigures, outcomes, pushDelays, ticketFigures, type OpFigure, type Series } from "./figures";
import { readServerTimings, type ServerTimings } from "./server-metrics";
import { describeMachine, log, othersRunning, redisPid, tcpCounters, waitForOthers, waitTurn } from "./machine";
import { readOptions } from "./options";
import type { RushOptions } from "./options";
import { peakArrivalRate, planCrowd } from "./plan";
import { cpuOver, ProcessSampler, type Watched } from "./processes";
import { HealthSampler, HoldSampler, QueueSampler } from "./samplers";
import { addProbeUser, emailsOf, putOnSale, salesOf } from "./setup";
import { notesOf, problemUsers, socketFigures, sumArrays, warningsOf } from "./summaries";
import { renderChart } from "./chart";
import { renderReport } from "./report";
import { updateBenchmarksMd } from "./benchmarks-md";
import { quantiles, type Quantiles } from "./quantiles";
import { playSecondAct, type SecondActResult } from "./second-act";
import { drawFromLogs, openingFigures, scheduleOpening, SeedWatcher, type OpeningResult } from "./opening";

const ROOT = resolve(__dirname, "../../..");
/** Every child started (servers, load generators): killed if this process dies before stopping them. */
const CHILDREN = new Set<number>();
process.on("exit", () => {
  for (const pid of CHILDREN) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});
const RESULTS = join(ROOT, "bench/results");
const PASSWORD = "bench-password-1"; // the one hash bench/lib/database's seed gives every user
const ADMIN = { email: "rush-admin@bench.test", password: randomBytes(12).toString("hex") };
/** Machine busy % (of all cores) under which it counts as quiet before the crowd starts. */
const QUIET_BUSY_PCT = 20;

export interface TopologyResult {
  instances: number;
  database: string;
  quiet: { waitedForOthersSeconds: number; waitedForQuietSeconds: number; busyPct: number };
  settings: Record<string, string | number>;
  ceilings: Ceiling[];
  ops: OpFigure[];
  /** The servers' own timings of the crowd's operations and of their PostgreSQL pools (/metrics after the crowd); none in results before 1477c8a. */
  serverTimings?: ServerTimings;
  push: Quantiles & { alreadyActiveAtSubscribe: number };
  tickets: ReturnType<typeof ticketFigures>;
  soldOut: boolean;
  soldOutSeconds: number | null;
  firstSoldOutSeenSeconds: number | null;
  queue: { maxWaiting: number; maxActive: number; samples: number; statsP99Ms: number };
  errors: Record<string, number>;
  outcomes: Record<string, number>;
  /** Why users ended in error or timeout, by kind (numbers and ids left out), most frequent first. */
  notes: Record<string, number>;
  /** A few users of each unexpected ending, with what they saw and what Redis holds of their token. */
  problemUsers: Record<string, unknown[]>;
  /** The servers' warnings and errors by message, from their logs. */
  serverWarnings: Record<string, number>;
  arrivals: { peakPerSecond: number; lateP99Ms: number; lateMaxMs: number; strayRejections: number; firstStray?: string };
  cpu: ReturnType<typeof cpuOver>;
  /** The same while the crowd arrives (its first arrivalSeconds); none in results before it was measured. */
  cpuArrivals?: ReturnType<typeof cpuOver>;
  checks: Check[];
  series: Series;
  /** GET /healthz latency per instance during the crowd: how long a request waits for the event loop. */
  healthz: (Quantiles & { unanswered: number })[];
  /** The subscribers' sockets: reconnects, and closes before the subscription ended, by code. */
  sockets: { reconnects: number; closesByCode: Record<string, number> };
  /** The kernel's TCP counters over the crowd (this network namespace): accept-queue overflows, SYN retransmissions. */
  tcp: Record<string, number>;
  crowdSeconds: number;
  runSeconds: number;
  serverExitCodes: (number | null)[];
  profile?: ProfileSummary;
  /** After the sell-out: refunds taken by the waiting list (--second-act). */
  secondAct?: SecondActResult;
  /** A scheduled opening with the crowd in the pre-queue (--opening-seconds). */
  opening?: OpeningResult;
}

async function main() {
  const o = readOptions();
  const began = Date.now();
  const stamp = `${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}_${randomBytes(2).toString("hex")}`;
  const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: 2 });
  await waitForOthers(o);
  if ((await redis.set("rush:lock", stamp, "EX", 1_800, "NX")) !== "OK") {
    // A lock left by a rush that was killed is taken over; a live one is not.
    if (othersRunning()) throw new Error(`another rush holds ${o.redisUrl} (key rush:lock); wait for it or set RUSH_REDIS_URL`);
    log(`taking over a stale rush:lock (${await redis.get("rush:lock")}): no other rush is running`);
    await redis.set("rush:lock", stamp, "EX", 1_800);
  }
  const machine = await describeMachine(redis);
  log(
    `machine: ${machine.nproc} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}`,
  );
  log(
    `crowd: ${o.users.toLocaleString("en")} users over ${o.arrivalSeconds} s (ramp ${o.rampSeconds} s, peak ${Math.round(peakArrivalRate(o))}/s), ` +
      `${o.seats.toLocaleString("en")} seats, maxActiveUsers ${o.maxActive}, admitPerSecond ${o.admitPerSecond}, HOLD_SECONDS ${o.holdSeconds}; topologies ${o.instances.join(", ")}`,
  );
  const topologies: TopologyResult[] = [];
  let shared: Ceiling[] = [];
  try {
    for (const n of o.instances) {
      const r = await runTopology(o, n, `${stamp}_${n}`, redis, shared);
      if (shared.length === 0) shared = r.ceilings.filter((c) => c.what.startsWith("Redis") || c.what.startsWith("PostgreSQL"));
      topologies.push(r);
      for (const c of r.checks) log(`${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`);
    }
  } finally {
    await redis.del("rush:lock");
    redis.disconnect();
  }
  const out = {
    date: new Date().toISOString(),
    command: `npm run bench:rush${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(" ")}` : ""}`,
    machine,
    options: o,
    topologies,
    runSeconds: Math.round((Date.now() - began) / 1000),
  };
  mkdirSync(RESULTS, { recursive: true });
  const base = o.out;
  writeFileSync(join(RESULTS, `${base}.json`), `${JSON.stringify(out, null, 1)}\n`);
  const svg = renderChart(topologies, o);
  writeFileSync(join(RESULTS, `${base}.svg`), svg);
  if (o.publish) writeFileSync(join(ROOT, "docs/rush.svg"), svg);
  const md = renderReport(out);
  writeFileSync(join(RESULTS, `${base}.md`), md);
  if (o.publish) updateBenchmarksMd(join(ROOT, "BENCHMARKS.md"), md);
  process.stdout.write(`\n${md}\n`);
  log(`wrote bench/results/${base}.{json,md,svg}${o.publish ? " and docs/rush.svg" : ""}; ran ${out.runSeconds} s`);
  const failed = topologies.flatMap((t) => t.checks.filter((c) => !c.ok).map((c) => `${t.instances} instance(s): ${c.name}`));
  if (failed.length > 0) {
    process.stderr.write(`invariant violations:\n  ${failed.join("\n  ")}\n`);
    process.exit(2);
  }
}

async function runTopology(o: RushOptions, n: number, stamp: string, redis: Redis, sharedCeilings: Ceiling[]): Promise<TopologyResult> {
  const began = Date.now();
  log(`--- ${n} instance(s) ---`);
  const quiet = await waitTurn(o);
  await redis.flushdb();
  // FLUSHDB took the lock with it: take it again.
  await redis.set("rush:lock", stamp, "EX", 1_800);
  const servers: ServerChild[] = [];
  const workers: ChildProcess[] = [];
  const cleanups: (() => unknown)[] = [];
  let db: BenchDatabase | undefined;
  const profileDir = join(RESULTS, "prof", `rush-${n}`);
  mkdirSync(RESULTS, { recursive: true });
  try {
    db = await createBenchDatabase(stamp, "rush");
    const jwtSecret = randomBytes(32).toString("base64url");
    const settings: Record<string, string> = {
      DATABASE_URL: db.url,
      REDIS_URL: o.redisUrl,
      JWT_SECRET: jwtSecret,
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      HOLD_SECONDS: String(o.holdSeconds),
      QUEUE_MAX_ACTIVE: String(o.maxActive),
      QUEUE_ADMIT_PER_SECOND: String(o.admitPerSecond),
      QUEUE_ACTIVE_SESSION_SECONDS: String(o.sessionSeconds),
      RATE_LIMIT_USER_PER_SECOND: "0",
      DATABASE_POOL_SIZE: String(o.poolSize),
      // With an opening, info: the draw's "opening draw done" line (and its ms) is read from the log.
      LOG_LEVEL: o.openingSeconds > 0 ? "info" : "warn",
    };
    if (o.profile) {
      rmSync(profileDir, { recursive: true, force: true });
      mkdirSync(profileDir, { recursive: true });
    }
    // The first instance migrates the new database; the others start once it is ready.
    const logFile = (k: number) => join(RESULTS, `rush-server-${n}-${k + 1}.log`);
    for (let k = 0; k < n; k++) rmSync(logFile(k), { force: true });
    const nodeArgs = o.serverNodeArgs;
    servers.push(
      await startServer({
        env: settings,
        nodeArgs: [...nodeArgs, ...(o.profile ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [])],
        logFile: logFile(0),
      }),
    );
    servers.push(...(await Promise.all(Array.from({ length: n - 1 }, (_, k) => startServer({ env: settings, nodeArgs, logFile: logFile(k + 1) })))));
    for (const s of servers) CHILDREN.add(s.pid);
    log(`servers: ${servers.map((s) => `pid ${s.pid} :${s.port}`).join(", ")}; database ${db.name}; Redis ${o.redisUrl}`);

    // The crowd: users by SQL (one scrypt hash for all), access tokens minted.
    const t = performance.now();
    const seeded = await seed(db.url, o.users, 0);
    const emails = await emailsOf(db.url, seeded.userIds);
    const tokens = createAccessTokens(jwtSecret, 86_400);
    const users = await Promise.all(
      seeded.userIds.map(async (id) => ({ id, email: emails.get(id)!, jwt: await tokens.issue({ id, role: "USER" }) })),
    );
    const adminJwt = await tokens.issue({ id: await userId(db.url, ADMIN.email), role: "ADMIN" });
    const opening = o.openingSeconds > 0;
    // An opening an hour away for now (its commitment published); moved to the crowd's opening just before it starts.
    const { concertId, dateId } = await putOnSale(servers[0].url, adminJwt, o, opening ? new Date(Date.now() + 3_600_000) : undefined);
    const plan = planCrowd(o, users, n);
    log(
      `seeded ${o.users.toLocaleString("en")} users, concert ${concertId}, date ${dateId} with ${o.seats} seats (${Math.round(performance.now() - t)} ms)`,
    );

    // Ceilings, measured now on the same machine and database.
    const ceilings: Ceiling[] = [];
    ceilings.push(await typenameCeiling(servers, 100, o.ceilingSeconds));
    const probeJwt = await tokens.issue({ id: await addProbeUser(db.url), role: "USER" });
    // Before an opening the probe would only get a pre-queue ticket: no seat map ceiling then.
    if (!opening) ceilings.push(await seatMapCeiling(servers[0], { jwt: probeJwt }, concertId, dateId, Math.min(3, o.ceilingSeconds)));
    if (sharedCeilings.length === 0) {
      ceilings.push(await redisCeiling(o.redisUrl, 50, o.ceilingSeconds));
      ceilings.push(await postgresCeiling(db.url, 20, o.ceilingSeconds));
    } else ceilings.push(...sharedCeilings);
    for (const c of ceilings) log(`ceiling: ${c.what}, ${c.concurrency} in flight: ${c.rps}/s, p50 ${c.p50} ms, p99 ${c.p99} ms`);

    // The load generators.
    // The crowd's bounded window: arrivals, a hold left to run out, and room for a slow sale to finish.
    const openingMs = Math.round(o.openingSeconds * 1000);
    const runMs = (o.arrivalSeconds + o.holdSeconds + 130) * 1000 + openingMs;
    const slices = Array.from({ length: o.workers }, (_, w) => plan.filter((u) => u.i % o.workers === w));
    const ready: Promise<void>[] = [];
    const results: Promise<WorkerResult>[] = [];
    const progress = new Map<number, { launched: number; finished: number; subscriptions: number }>();
    for (let w = 0; w < o.workers; w++) {
      const child = fork(join(__dirname, "crowd-worker.js"), [], {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        execArgv: ["--max-old-space-size=4096"],
      });
      workers.push(child);
      CHILDREN.add(child.pid!);
      child.once("exit", () => CHILDREN.delete(child.pid!));
      ready.push(new Promise((done) => child.on("message", (m: FromWorker) => m.type === "ready" && done())));
      results.push(
        new Promise((done, fail) => {
          child.on("message", (m: FromWorker) => {
            if (m.type === "result") done(m);
            else if (m.type === "progress") progress.set(w, m);
          });
          // A large result may still be on its way when the process is gone: give it a moment.
          child.on("exit", (code) => setTimeout(() => fail(new Error(`load generator ${w} exited with ${code} before reporting`)), 10_000));
        }),
      );
      const workerPlan: WorkerPlan = {
        users: slices[w],
        urls: servers.map((s) => s.url),
        wsUrls: servers.map((s) => s.wsUrl),
        concertId,
        dateId,
        popularSeats: o.popularSeats,
        password: PASSWORD,
        seed: o.seed,
        socketsPerInstance: o.socketsPerInstance,
        seatMap: o.seatMap,
        runMs,
        openingMs,
      };
      child.send({ type: "plan", plan: workerPlan });
    }
    await Promise.all(ready);

    const q2 = await waitForQuiet(QUIET_BUSY_PCT, 20_000);
    if (q2.busyPct >= QUIET_BUSY_PCT) log(`the machine is ${q2.busyPct}% busy before the rush (other processes): figures may be low`);
    let t0 = Date.now() + 1_500;
    const since = () => t0;
    const watched: Watched[] = [
      ...servers.map((s, k) => ({ label: `server ${k + 1}`, group: "server" as const, pid: s.pid, mainThread: true })),
      ...workers.map((c, k) => ({ label: `load generator ${k + 1}`, group: "loadgen" as const, pid: c.pid! })),
      { label: "orchestrator", group: "orchestrator", pid: process.pid },
      { label: "Redis", group: "redis", pid: await redisPid(redis) },
    ];
    const procSampler = new ProcessSampler(watched, since);
    const queueSampler = new QueueSampler(servers[0].url, concertId, adminJwt, since);
    const holdSampler = new HoldSampler(db.url, since);
    const healthSampler = new HealthSampler(
      servers.map((x) => x.url),
      since,
    );
    cleanups.push(
      () => queueSampler.stop(),
      () => holdSampler.stop(),
      () => procSampler.stop(),
      () => healthSampler.stop(),
    );
    await holdSampler.start();
    t0 = Date.now() + (opening ? 3_000 : 1_500);
    let commitment = "";
    let seedWatcher: SeedWatcher | undefined;
    if (opening) {
      commitment = await scheduleOpening(servers[0].url, adminJwt, concertId, t0 + openingMs);
      seedWatcher = new SeedWatcher(servers[servers.length - 1].url, adminJwt, concertId, t0 + openingMs);
      cleanups.push(() => seedWatcher?.stop());
    }
    const profileFrom = monotonicMicros() + (t0 - Date.now()) * 1000;
    procSampler.start();
    queueSampler.start();
    healthSampler.start();
    const tcp0 = tcpCounters();
    for (const c of workers) c.send({ type: "go", t0 });
    log(`opening at ${new Date(t0).toISOString()}; ${o.workers} load generators`);
    if (seedWatcher) {
      seedWatcher.start(t0 + openingMs + 120_000);
      log(
        `scheduled opening: saleOpensAt ${new Date(t0 + openingMs).toISOString()} (${o.openingSeconds} s after the crowd starts); commitment ${commitment.slice(0, 16)}…`,
      );
    }

    const ticker = setInterval(() => {
      const p = [...progress.values()].reduce(
        (a, b) => ({ launched: a.launched + b.launched, finished: a.finished + b.finished, subscriptions: a.subscriptions + b.subscriptions }),
        { launched: 0, finished: 0, subscriptions: 0 },
      );
      const s = queueSampler.samples;
      const k = s.t.length - 1;
      log(
        `t+${Math.round((Date.now() - t0) / 1000)} s: arrived ${p.launched}, done ${p.finished}, subscriptions open ${p.subscriptions}, waiting ${s.waiting[k] ?? "?"}, active ${s.active[k] ?? "?"}, HELD ${holdSampler.samples.held.at(-1) ?? "?"}`,
      );
    }, 5_000);
    let crowd: WorkerResult[];
    try {
      crowd = await withTimeout(Promise.all(results), runMs + 60_000, "the crowd did not finish");
    } finally {
      clearInterval(ticker);
    }
    const crowdMs = Date.now() - t0;
    const tcp1 = tcpCounters();
    const profileTo = monotonicMicros();
    // Holds left to run out end within HOLD_SECONDS (+ a sweep); wait for them before checking.
    const holdsDeadline = Date.now() + (o.holdSeconds + 10) * 1000;
    while (Date.now() < holdsDeadline && (holdSampler.samples.held.at(-1) ?? 1) > 0) await sleep(500);
    await sleep(1_500);
    const queue = await queueSampler.stop();
    const holds = await holdSampler.stop();
    const health = await healthSampler.stop();
    const proc = procSampler.stop();
    const endMs = Date.now() - t0;
    log(`crowd done in ${Math.round(crowdMs / 1000)} s; checking`);
    // A server that does not answer /metrics leaves these figures out, not the checks.
    const serverTimings = await readServerTimings(
      servers.map((s) => s.url),
      OPS,
    ).catch((error: unknown): ServerTimings => {
      log(`could not read the servers' /metrics: ${String(error)}`);
      return { operations: {}, pools: {} };
    });

    const allUsers = crowd.flatMap((c) => c.users).sort((a, b) => a.i - b.i);
    const tokenFacts = await readTokens(redis, concertId, allUsers);
    const { sales, soldOut } = await salesOf(db.url, t0);
    let openingResult: OpeningResult | undefined;
    const openingChecks: Check[] = [];
    if (seedWatcher) {
      await seedWatcher.stop();
      const f = openingFigures({
        opensAt: t0 + openingMs,
        t0,
        openingSeconds: o.openingSeconds,
        plan,
        users: allUsers,
        tokens: tokenFacts,
        queue,
        commitment,
        seed: seedWatcher,
        draw: drawFromLogs(RESULTS, n),
      });
      openingResult = f.result;
      openingChecks.push(...f.checks);
      log(
        `opening: draw ${f.result.drawMs ?? "?"} ms (${f.result.drawOrdered ?? "?"} tokens); seed seen ${f.result.seedSeenMs ?? "?"} ms after saleOpensAt; places pushed p50 ${f.result.placePush.p50} / p99 ${f.result.placePush.p99} / max ${f.result.placePush.max} ms, ${f.result.placePush.never} never`,
      );
    }
    const checks = await runChecks({
      dbUrl: db.url,
      dateId,
      maxActive: o.maxActive,
      plan,
      users: allUsers,
      tokens: tokenFacts,
      queue,
      holds,
      soldOut,
      crowdStoppedAt: t0 + crowdMs,
    });
    const merged = mergeCalls(crowd.map((c) => c.calls));
    const tickets = ticketFigures(sales);
    const soldOutEnter = merged.byOp.get("enterQueue");
    let firstSoldOutSeen = Infinity;
    soldOutEnter?.code.forEach((c, k) => {
      if (c === "SOLD_OUT") firstSoldOutSeen = Math.min(firstSoldOutSeen, soldOutEnter.start[k] + soldOutEnter.ms[k]);
    });
    for (const u of allUsers) if (u.sub?.endReason === "SOLD_OUT" && u.sub.endAt) firstSoldOutSeen = Math.min(firstSoldOutSeen, u.sub.endAt - t0);

    checks.push(...openingChecks);
    let secondAct: SecondActResult | undefined;
    if (o.secondAct > 0) {
      log(`second act: ${o.secondAct} refunds to a waiting list`);
      const act = await playSecondAct({
        urls: servers.map((s) => s.url),
        wsUrls: servers.map((s) => s.wsUrl),
        dbUrl: db.url,
        adminJwt,
        issue: (id) => tokens.issue({ id, role: "USER" }),
        refunds: o.secondAct,
        price: o.price,
        log,
      });
      secondAct = act.result;
      checks.push(...act.checks);
    }

    const serverExitCodes: (number | null)[] = [];
    for (const s of servers.splice(0)) {
      serverExitCodes.push(await s.stop());
      CHILDREN.delete(s.pid);
    }
    let profile: ProfileSummary | undefined;
    if (o.profile) {
      const file = newest(profileDir, ".cpuprofile");
      profile = summarizeProfile(file, { from: profileFrom, to: profileTo }, 20);
    }
    const result: TopologyResult = {
      instances: n,
      database: db.name,
      quiet,
      settings: {
        ...settings,
        DATABASE_URL: db.url.replace(/\/\/[^@]*@/, "//…@"),
        JWT_SECRET: "(random)",
        ADMIN_PASSWORD: "(random)",
        maxActiveUsers: o.maxActive,
        admitPerSecond: o.admitPerSecond,
      },
      ceilings,
      ops: opFigures(merged),
      serverTimings,
      push: pushDelays(allUsers, tokenFacts),
      tickets,
      soldOut,
      soldOutSeconds: soldOut ? tickets.lastSaleSeconds : null,
      firstSoldOutSeenSeconds: Number.isFinite(firstSoldOutSeen) ? Math.round(firstSoldOutSeen / 100) / 10 : null,
      queue: {
        maxWaiting: Math.max(0, ...queue.waiting),
        maxActive: Math.max(0, ...queue.active),
        samples: queue.t.length,
        statsP99Ms: quantile99(queue.ms),
      },
      errors: errorCounts(merged),
      outcomes: outcomes(allUsers),
      notes: notesOf(allUsers),
      problemUsers: problemUsers(allUsers, tokenFacts),
      serverWarnings: warningsOf(RESULTS, n),
      arrivals: {
        peakPerSecond: Math.round(peakArrivalRate(o)),
        lateP99Ms: Math.max(...crowd.map((c) => c.lateP99)),
        lateMaxMs: Math.max(...crowd.map((c) => c.lateMax)),
        strayRejections: crowd.reduce((a, c) => a + c.strayRejections, 0),
        firstStray: crowd.find((c) => c.firstStray)?.firstStray,
      },
      // Over the sale (opening → sold out), or the whole crowd window when it did not sell out.
      cpu: cpuOver(proc, 0, soldOut && tickets.lastSaleSeconds < crowdMs / 1000 ? tickets.lastSaleSeconds * 1000 : crowdMs),
      cpuArrivals: cpuOver(proc, 0, o.arrivalSeconds * 1000),
      checks,
      series: buildSeries(merged, sales, queue, proc, endMs, sumArrays(crowd.map((c) => c.pushesPerSecond)), health),
      healthz: health.ms.map((ms, k) => {
        const inCrowd = ms.filter((_, i) => health.t[k][i] <= crowdMs);
        return { ...quantiles(inCrowd.filter(Number.isFinite)), unanswered: inCrowd.filter((x) => !Number.isFinite(x)).length };
      }),
      sockets: socketFigures(allUsers),
      tcp: Object.fromEntries(Object.entries(tcp1).map(([k, v]) => [k, v - (tcp0[k] ?? 0)])),
      crowdSeconds: Math.round(crowdMs / 100) / 10,
      runSeconds: 0,
      serverExitCodes,
      profile,
      secondAct,
      opening: openingResult,
    };
    result.runSeconds = Math.round((Date.now() - began) / 1000);
    return result;
  } finally {
    for (const stop of cleanups) await Promise.resolve(stop()).catch(() => undefined);
    for (const c of workers) if (c.exitCode === null) c.kill("SIGKILL");
    for (const s of servers) {
      await s.stop().catch(() => undefined);
      CHILDREN.delete(s.pid);
    }
    await db?.drop().catch((e) => log(`could not drop ${db?.name}: ${e}`));
  }
}

function newest(dir: string, ext: string): string {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .map((f) => join(dir, f));
  if (files.length === 0) throw new Error(`no ${ext} in ${dir}`);
  return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, fail) => (timer = setTimeout(() => fail(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}

const quantile99 = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)];
};

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`bench:rush failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
