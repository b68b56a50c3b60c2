// `npm run bench`: the waiting room's benchmark (issue 3). One run, a few minutes:
//   1. the bare ceiling of our HTTP+GraphQL stack ({ __typename }, 100 clients);
//   2. enterQueue and queueStatus at 100 and 500 clients against one server child;
//   3. Redis memory per waiting user, admission step and status read, 100,000 waiting;
//   4. 5,000 queueStatusChanged subscriptions: admission-to-push delay, CPU, RSS;
// then, where a figure misses its goal, a CPU profile of the server under enterQueue.
// Prints a table and writes bench/results/queue-latest.json.
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadavg } from "node:os";
import Redis from "ioredis";
import { Pool } from "pg";
import { createAccessTokens } from "../src/auth/access-tokens";
import { createBenchDatabase, seed, userId, type BenchDatabase } from "./lib/database";
import { startServer, type ServerChild } from "./lib/server";
import { waitForQuiet } from "./lib/stats";
import { describeMachine } from "./lib/machine";
import { measureCeiling, measureEnter, measureStatus, type Timing } from "./lib/throughput";
import { deleteConcertKeys, measureRedisLine } from "./lib/redis-line";
import { measureSubscriptions } from "./lib/subscriptions";
import { measureRoom } from "./lib/waiting-room";
import { measureBuying } from "./lib/buying";
import { migrate } from "../src/db/migrate";
import { monotonicMicros, summarizeProfile } from "./profile-summary";

const env = (name: string, fallback: string) => process.env[name] ?? fallback;
// A Redis database of its own: the server's admission loop visits every concert
// registered in its database, so sharing one with tests would mix the two.
const REDIS_URL = env("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7");
const WARMUP_MS = Number(env("BENCH_WARMUP_SECONDS", "3")) * 1000;
const DURATION_MS = Number(env("BENCH_SECONDS", "10")) * 1000;
const USERS = Number(env("BENCH_USERS", "30000"));
const WAITING = Number(env("BENCH_WAITING", "100000"));
const SUBSCRIBERS = Number(env("BENCH_SUBSCRIBERS", "15000"));
/** Admissions per second while the subscribers' line moves (rule 12's cadence measured). */
const MOVING_PER_SECOND = Number(env("BENCH_MOVING_PER_SECOND", "20"));
const PROFILE = env("BENCH_PROFILE", "auto"); // auto: only when a goal is missed; always; never
/** Phases to run (all by default): redis, room, ceiling, throughput, buying, subscriptions. */
const PHASES = new Set(env("BENCH_PHASES", "redis,room,ceiling,throughput,buying,subscriptions").split(","));
/** Phase "buying": buyers (each one hold of one seat, then its pay) and clients. */
const BUY_USERS = Number(env("BENCH_BUY_USERS", "30000"));
const BUY_CLIENTS = Number(env("BENCH_BUY_CLIENTS", "100"));
/** Phase "room": line lengths, stores and admissions per second of the socket-less waiting room. */
const ROOM_SIZES = env("BENCH_ROOM_SIZES", "100000,1000000").split(",").map(Number);
const ROOM_STORES = env("BENCH_ROOM_STORES", "memory,redis").split(",") as ("memory" | "redis")[];
const ROOM_RATE = Number(env("BENCH_ROOM_RATE", "20"));
/** Redis is filled with at most this many waiting users in the room phase (1,000,000 would take 750 MB of the shared Redis). */
const ROOM_REDIS_MAX = Number(env("BENCH_ROOM_REDIS_MAX", "100000"));
const CONCERTS_PER_PHASE = 6;
/** Machine busy % (of all cores) under which it counts as quiet before a phase. */
const QUIET_BUSY_PCT = 20;
const GOAL = { perSecond: 6_000, p99Ms: 50, pushP99Ms: 1_500 };
const RESULTS = resolve(__dirname, "../../bench/results");

async function main() {
  const began = Date.now();
  const stamp = `${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}_${randomBytes(2).toString("hex")}`;
  const redis = new Redis(REDIS_URL, { enableAutoPipelining: true, maxRetriesPerRequest: 2 });
  if ((await redis.set("bench:lock", stamp, "EX", 900, "NX")) !== "OK") {
    throw new Error(`another benchmark holds ${REDIS_URL} (key bench:lock); wait for it or set BENCH_REDIS_URL`);
  }
  const machine = await describeMachine(redis);
  log(
    `machine: ${machine.nproc} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}, PostgreSQL ${machine.postgres}, Redis ${machine.redis}; load ${machine.loadAverage}`,
  );

  const jwtSecret = randomBytes(32).toString("base64url");
  const admin = { email: "bench-admin@bench.test", password: randomBytes(12).toString("hex") };
  const concertIds: string[] = [];
  const servers: ServerChild[] = [];
  const out: Record<string, unknown> = { date: new Date().toISOString(), command: "npm run bench", machine };
  let db: BenchDatabase | undefined;
  try {
    db = await createBenchDatabase(stamp);
    out.quietAtStart = await quiet("the run", 45_000);
    if (PHASES.has("redis")) {
      log(`phase 3: ${WAITING.toLocaleString("en")} waiting users in one concert, straight through RedisQueueStore`);
      out.redisLine = await measureRedisLine(redis, WAITING, 50);
      log(JSON.stringify(out.redisLine));
    }
    if (PHASES.has("room")) {
      // The room runs before any server has migrated the run's database: its ticker reads the concerts.
      await migrate(db.url);
      const rooms = [];
      for (const waiting of ROOM_SIZES) {
        for (const store of ROOM_STORES) {
          if (store === "redis" && waiting > ROOM_REDIS_MAX) continue;
          log(`phase room: ${waiting.toLocaleString("en")} in-process subscribers waiting (${store} store), ${ROOM_RATE} admitted/s`);
          const q = await quiet("the room");
          const pool = new Pool({ connectionString: db.url, max: 2 });
          const r = await measureRoom({ store, redis, pool, waiting, admitPerSecond: ROOM_RATE, warmupMs: 14_000, windowMs: 27_000 }).finally(() =>
            pool.end(),
          );
          rooms.push({ ...r, quietBefore: q, loadAverage: loadAverage() });
          log(JSON.stringify(rooms[rooms.length - 1]));
        }
      }
      out.room = rooms;
    }

    const serverEnv = {
      DATABASE_URL: db.url,
      REDIS_URL,
      JWT_SECRET: jwtSecret,
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
      RATE_LIMIT_USER_PER_SECOND: "0",
      QUEUE_ENTER_PER_SECOND: "1000000",
      // A full house: one ACTIVE place per concert, so entries stay WAITING.
      QUEUE_MAX_ACTIVE: "1",
      QUEUE_WAITING_IDLE_SECONDS: "3600",
      DATABASE_POOL_SIZE: "20",
      LOG_LEVEL: "warn",
    };
    out.serverSettings = serverEnv;
    // BENCH_SERVER_NODE_ARGS: extra node flags for the server child (e.g. "--cpu-prof --cpu-prof-dir /tmp/prof").
    const serverNodeArgs = env("BENCH_SERVER_NODE_ARGS", "").split(" ").filter(Boolean);
    // BENCH_HEAP_SNAPSHOTS=DIR: the subscriptions phase has the server write a heap snapshot
    // into DIR before its sockets open and once they are idle (what a subscriber keeps).
    const snapshotDir = process.env.BENCH_HEAP_SNAPSHOTS;
    if (snapshotDir) serverNodeArgs.push("--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${snapshotDir}`);
    // BENCH_SERVER_LOG: a file that also gets everything the server prints (with --trace-gc above, its collections).
    const server = await startServer({ env: serverEnv, nodeArgs: serverNodeArgs, logFile: process.env.BENCH_SERVER_LOG || undefined });
    servers.push(server);
    const seeded = await seed(db.url, USERS, 3 * CONCERTS_PER_PHASE + 1);
    concertIds.push(...seeded.concertIds);
    const tokens = createAccessTokens(jwtSecret, 86_400);
    const jwts = await Promise.all(seeded.userIds.map((id) => tokens.issue({ id, role: "USER" })));
    const adminJwt = await tokens.issue({ id: await userId(db.url, admin.email), role: "ADMIN" });
    const timing: Timing = { url: server.url, serverPid: server.pid, redis, warmupMs: WARMUP_MS, durationMs: DURATION_MS };

    if (PHASES.has("ceiling")) {
      log("phase 1: ceiling, { __typename } at 100 clients");
      const q1 = await quiet("the ceiling");
      out.ceiling = { ...(await measureCeiling(timing, 100)), quietBefore: q1 };
      log(JSON.stringify(out.ceiling));
    }
    const ceilingRps = (out.ceiling as { rps: number } | undefined)?.rps;

    const throughput = [];
    for (const [k, concurrency] of (PHASES.has("throughput") ? [100, 500] : []).entries()) {
      log(`phase 2: enterQueue at ${concurrency} clients`);
      const concerts = seeded.concertIds.slice(k * CONCERTS_PER_PHASE, (k + 1) * CONCERTS_PER_PHASE);
      const qe = await quiet("enterQueue");
      const enter = await measureEnter(timing, concurrency, jwts, concerts, redis);
      log(JSON.stringify(enter.result));
      log(`phase 2: queueStatus at ${concurrency} clients`);
      const qs = await quiet("queueStatus");
      const status = await measureStatus(timing, enter.entries);
      log(JSON.stringify(status));
      throughput.push({ operation: "enterQueue", ...enter.result, quietBefore: qe }, { operation: "queueStatus", ...status, quietBefore: qs });
    }
    out.throughput = throughput.map((r) => ({ ...r, ratioToCeiling: ceilingRps ? round2(r.rps / ceilingRps) : null }));

    if (PHASES.has("buying")) {
      log(`phase buying: reserveSeats then pay at ${BUY_CLIENTS} clients, ${BUY_USERS.toLocaleString("en")} buyers`);
      const q = await quiet("the buying path");
      const buying = await measureBuying({ timing, dbUrl: db.url, adminJwt, jwts: jwts.slice(0, BUY_USERS), concurrency: BUY_CLIENTS });
      // Deleted at the end with the others: its tokens (one per buyer) stayed in the bench's Redis database after every run.
      concertIds.push(buying.concertId);
      out.buying = {
        ...buying,
        quietBefore: q,
        loadAverage: loadAverage(),
      };
      log(JSON.stringify(out.buying));
    }
    if (PHASES.has("subscriptions")) {
      log(`phase 4: ${SUBSCRIBERS.toLocaleString("en")} queueStatusChanged subscriptions`);
      await quiet("the subscriptions");
      out.subscriptions = await measureSubscriptions({
        server,
        redis,
        concertId: seeded.concertIds[2 * CONCERTS_PER_PHASE],
        userTokens: jwts.slice(0, SUBSCRIBERS + 1),
        adminToken: adminJwt,
        admitPerSecond: 500,
        idleMs: 10_000,
        movingPerSecond: MOVING_PER_SECOND,
        movingMs: 27_000,
        heapSnapshot: snapshotDir ? (label) => heapSnapshot(server.pid, snapshotDir, label) : undefined,
      });
      log(JSON.stringify(out.subscriptions));
    }
    out.serverExitCode = await server.stop();

    const missed = throughput.filter((r) => r.rps < GOAL.perSecond || (r.concurrency === 100 && r.p99 >= GOAL.p99Ms));
    if (PROFILE === "always" || (PROFILE === "auto" && missed.length > 0)) {
      log("profile: server with --cpu-prof under enterQueue, then queueStatus, at 100 clients");
      await quiet("the profile");
      const dir = join(RESULTS, "prof", "queue");
      mkdirSync(dir, { recursive: true });
      for (const f of readdirSync(dir)) if (f.endsWith(".cpuprofile")) rmSync(join(dir, f));
      const profiled = await startServer({ env: serverEnv, nodeArgs: ["--cpu-prof", "--cpu-prof-dir", dir] });
      servers.push(profiled);
      const concerts = seeded.concertIds.slice(2 * CONCERTS_PER_PHASE + 1);
      const t = { ...timing, url: profiled.url, serverPid: profiled.pid };
      const enterFrom = monotonicMicros() + timing.warmupMs * 1000;
      const enter = await measureEnter(t, 100, jwts, concerts, redis);
      const enterTo = monotonicMicros();
      const statusFrom = enterTo + timing.warmupMs * 1000;
      const status = await measureStatus(t, enter.entries);
      const statusTo = monotonicMicros();
      await profiled.stop();
      // One profile, two windows: only the samples of each measured load (not start-up, warm-up or shutdown).
      const file = newest(dir, ".cpuprofile");
      out.profile = {
        enterQueue: { load: enter.result, ...summarizeProfile(file, { from: enterFrom, to: enterTo }) },
        queueStatus: { load: status, ...summarizeProfile(file, { from: statusFrom, to: statusTo }) },
      };
    }
  } finally {
    for (const s of servers) await s.stop().catch(() => undefined);
    await deleteConcertKeys(redis, concertIds).catch((e) => log(`could not clean Redis: ${e}`));
    await db?.drop().catch((e) => log(`could not drop ${db?.name}: ${e}`));
    await redis.del("bench:lock");
    redis.disconnect();
  }
  out.warnings = checks(out);
  for (const w of out.warnings as string[]) log(`WARNING: ${w}`);
  out.runSeconds = Math.round((Date.now() - began) / 1000);
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, "queue-latest.json"), `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`\n${report(out)}\n`);
  log(`wrote bench/results/queue-latest.json; ran ${out.runSeconds} s`);
}

/** What would make the figures untrustworthy: failed calls, reused entries, lost pushes, a bad shutdown. */
function checks(out: Record<string, any>): string[] {
  const w: string[] = [];
  const buying = out.buying
    ? [
        { ...out.buying.hold, operation: "reserveSeats" },
        { ...out.buying.pay, operation: "pay" },
      ]
    : [];
  for (const r of [out.ceiling, ...(out.throughput ?? []), ...buying].filter(Boolean)) {
    const name = `${r.operation ?? "ceiling"} at ${r.concurrency}`;
    if (r.errors > 0) w.push(`${name}: ${r.errors} failed calls (${r.firstError})`);
    if (r.exhausted > 0) w.push(`${name}: ${r.exhausted} clients ran out of fresh work before the end`);
    if (r.freshEntries !== undefined && r.freshEntries !== r.tokensInLines)
      w.push(`${name}: ${r.freshEntries} entries but ${r.tokensInLines} tokens in the lines`);
  }
  const s = out.subscriptions;
  if (s && (s.failed || s.errors || s.notPushed || s.notAdmitted)) {
    w.push(
      `subscriptions: ${s.failed} failed to open, ${s.errors} errored (${s.firstError}), ${s.notPushed} got no ACTIVE push, ${s.notAdmitted} not admitted`,
    );
  }
  if (out.serverExitCode !== undefined && out.serverExitCode !== 0) w.push(`the server exited ${out.serverExitCode} on SIGTERM`);
  return w;
}

/** The figures as a Markdown table (the same one BENCHMARKS.md records). */
function report(out: Record<string, any>): string {
  const c = out.ceiling ?? { rps: NaN, p50: "", p99: "", cpu: {} };
  const rows: string[][] = [
    ["figure", "value", "p50 ms", "p99 ms", "× ceiling", "goal", "met", "server CPU", "per server CPU-s", "loadgen CPU", "Redis CPU", "other CPU"],
  ];
  rows.push(["`{ __typename }` ceiling, 100 clients", `${c.rps}/s`, c.p50, c.p99, "1.00", "", "", ...cpuCells(c.cpu, c.rps)]);
  for (const r of out.throughput ?? []) {
    const goal = r.concurrency === 100 ? `≥ ${GOAL.perSecond}/s, p99 < ${GOAL.p99Ms} ms` : `≥ ${GOAL.perSecond}/s`;
    const met = r.rps >= GOAL.perSecond && (r.concurrency !== 100 || r.p99 < GOAL.p99Ms) && r.errors === 0;
    rows.push([
      `${r.operation}, ${r.concurrency} clients`,
      `${r.rps}/s`,
      r.p50,
      r.p99,
      r.ratioToCeiling?.toFixed(2) ?? "",
      goal,
      met ? "yes" : "**no**",
      ...cpuCells(r.cpu, r.rps),
    ]);
  }
  const b = out.buying;
  if (b) {
    for (const [name, r, goal] of [
      ["reserveSeats", b.hold, 2_000],
      ["pay", b.pay, 1_500],
    ] as const) {
      const met = r.rps >= goal && r.p99 < 100 && r.errors === 0;
      rows.push([
        `\`${name}\`, ${r.concurrency} clients, distinct seats and users (load ${b.loadAverage})`,
        `${r.rps}/s`,
        r.p50,
        r.p99,
        ceilingRps(out) ? round2(r.rps / ceilingRps(out)!).toFixed(2) : "",
        `≥ ${goal}/s, p99 < 100 ms`,
        met ? "yes" : "**no**",
        ...cpuCells(r.cpu, r.rps),
      ]);
    }
  }
  const l = out.redisLine;
  if (l) {
    rows.push([
      `Redis memory per waiting user (${l.waiting.toLocaleString("en")} waiting)`,
      `${l.bytesPerWaitingUser} B`,
      "",
      "",
      "",
      "",
      "",
      "",
      "",
      "",
      "",
    ]);
    rows.push([`admission step, ${l.tickMs.admittedPerTick} admitted per step`, "", l.tickMs.p50, l.tickMs.p99, "", "", "", "", "", "", ""]);
    rows.push(["admission step, nothing to admit", "", l.idleTickMs.p50, l.idleTickMs.p99, "", "", "", "", "", "", ""]);
    rows.push(["status read of the last in line", "", l.readLastMs.p50, l.readLastMs.p99, "", "", "", "", "", "", ""]);
  }
  for (const r of out.room ?? []) {
    const goal = r.waiting === 100_000 ? "≤ 50 ms CPU per second" : "";
    rows.push([
      `waiting room, ${r.waiting.toLocaleString("en")} in-process subscribers (${r.store}), ${r.admittedPerSecond} admitted/s: CPU ms per second; pushes/s; reads/s; heap B/subscriber; max stall ms; Redis CPU ms/s; load ${r.loadAverage}`,
      `${r.cpuMsPerSecond} ms; ${r.pushesPerSecond}/s; ${r.readsPerSecond ?? "–"}/s; ${r.heapBytesPerSubscriber} B; ${r.maxLoopStallMs} ms; ${r.redisCpuMsPerSecond ?? "–"}`,
      "",
      "",
      "",
      goal,
      goal ? (r.cpuMsPerSecond <= 50 ? "yes" : "**no**") : "",
      "",
      "",
      "",
      "",
      "",
    ]);
  }
  const s = out.subscriptions;
  if (s) {
    const met = s.delayMs.p99 < GOAL.pushP99Ms && s.notPushed === 0 && s.notAdmitted === 0 && s.errors === 0;
    rows.push([
      `admission → ACTIVE push, ${s.subscriptions} subscriptions (max ${s.delayMs.max} ms)`,
      "",
      s.delayMs.p50,
      s.delayMs.p99,
      "",
      `p99 < ${GOAL.pushP99Ms} ms`,
      met ? "yes" : "**no**",
      "",
      "",
    ]);
    rows.push([
      `holding ${s.subscriptions} subscriptions idle: RSS ${s.idle.rssMiB} MiB (${s.rssBeforeMiB} MiB before)`,
      "",
      "",
      "",
      "",
      "",
      "",
      ...cpuCells(s.idle),
    ]);
    if (s.moving) {
      const m = s.moving;
      const met = m.serverCpuPct <= 15 && m.pushesPerSecond <= 2_000 && m.bytesPerSubscriber <= 10_240;
      rows.push([
        `the line moving at ${m.admitPerSecond}/s, ${s.subscriptions} waiting: ${m.pushesPerSecond} pushes/s, RSS max ${m.rssMaxMiB} MiB (${m.bytesPerSubscriber} B per subscriber)`,
        "",
        "",
        "",
        "",
        "server ≤ 15%, ≤ 2,000 pushes/s, ≤ 10 KB each",
        met ? "yes" : "**no**",
        ...cpuCells(m),
      ]);
    }
    rows.push([
      `admitting them at 500/s (${s.admitting.admittedSeconds} s, ${s.admitting.pushes} pushes): RSS max ${s.admitting.rssMaxMiB} MiB`,
      "",
      "",
      "",
      "",
      "",
      "",
      ...cpuCells(s.admitting),
    ]);
  }
  const width = rows[0].length;
  for (const r of rows) while (r.length < width) r.push("");
  const table = rows.map((r) => `| ${r.join(" | ")} |`);
  table.splice(1, 0, `|${rows[0].map(() => " --- ").join("|")}|`);
  for (const [operation, p] of Object.entries<any>(out.profile ?? {})) {
    table.push(
      "",
      `CPU profile of the server under ${operation}, 100 clients (${p.load.rps}/s while profiled; busy ${p.busyPct}% of ${p.seconds} s):`,
    );
    table.push("", "| self time by function | % of busy | | self time by module | % of busy |", "| --- | --- | --- | --- | --- |");
    for (let i = 0; i < Math.max(p.functions.length, p.modules.length); i++) {
      const f = p.functions[i];
      const m = p.modules[i];
      table.push(`| ${f ? `\`${f.name}\`` : ""} | ${f?.pct ?? ""} | | ${m ? m.name : ""} | ${m?.pct ?? ""} |`);
    }
    const list = (xs: { name: string; pct: number }[]) => xs.map((x) => `${x.name} ${x.pct}%`).join("; ");
    table.push("", `inclusive (synchronous) time by stage: ${list(p.stages)}`);
    table.push("", `inclusive time of our functions: ${list(p.ours.slice(0, 8))}`);
    for (const n of p.nativeCallers) table.push("", `native ${n.name} (${n.pct}%) called from: ${list(n.callers)}`);
  }
  return table.join("\n");
}

/** CPU cells; with `rps`, also the calls per CPU-second of the server (what one fully available core would answer). */
const cpuCells = (c: { serverCpuPct: number; loadgenCpuPct: number; redisCpuPct: number; otherCpuPct: number }, rps?: number) => [
  `${c.serverCpuPct}%`,
  rps ? `${Math.round(rps / (c.serverCpuPct / 100))}/s` : "",
  `${c.loadgenCpuPct}%`,
  `${c.redisCpuPct}%`,
  `${c.otherCpuPct}%`,
];

function newest(dir: string, ext: string): string {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .map((f) => join(dir, f));
  if (files.length === 0) throw new Error(`no ${ext} in ${dir}`);
  return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

/** Waits a little for other processes on the machine to calm down, so they do not take the cores we measure. */
async function quiet(label: string, maxMs = 15_000) {
  const q = await waitForQuiet(QUIET_BUSY_PCT, Math.min(maxMs, Number(env("BENCH_QUIET_MAX_SECONDS", "900")) * 1000));
  if (q.busyPct >= QUIET_BUSY_PCT)
    log(`the machine is still ${q.busyPct}% busy (other processes) after ${q.waitedSeconds} s: ${label} may measure low`);
  return q;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const ceilingRps = (out: Record<string, any>): number | undefined => out.ceiling?.rps;
const loadAverage = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(" ");
const log = (line: string) => process.stdout.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);

/** Has the server (started with --heapsnapshot-signal) write a heap snapshot into `dir`, named `label.heapsnapshot`. */
async function heapSnapshot(pid: number, dir: string, label: string): Promise<void> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, "SIGUSR2");
  const deadline = Date.now() + 120_000;
  let size = -1;
  for (;;) {
    await new Promise((done) => setTimeout(done, 1_000));
    const file = readdirSync(dir).find((f) => f.endsWith(".heapsnapshot") && !before.has(f));
    if (file) {
      const now = statSync(join(dir, file)).size;
      if (now > 0 && now === size) {
        renameSync(join(dir, file), join(dir, `${label}.heapsnapshot`));
        log(`heap snapshot: ${join(dir, `${label}.heapsnapshot`)} (${Math.round(now / 1e6)} MB)`);
        return;
      }
      size = now;
    }
    if (Date.now() > deadline) throw new Error(`no heap snapshot from the server within 120 s (${label})`);
  }
}
