// The rush's figures as Markdown: topologies side by side, the ceilings and the
// ratios to them, the checks with their numbers, the goals, and where the CPU
// went. The same text goes to the terminal and to bench/results/rush-latest.md,
// from which BENCHMARKS.md's section is taken.
import type { OpFigure } from "./figures";
import type { RushOptions } from "./options";
import type { TopologyResult } from "./rush.bench";
import type { CpuShare } from "./processes";
import type { BucketQuantiles } from "./server-metrics";

interface Out {
  date: string;
  command: string;
  machine: Record<string, unknown> & { nproc: number; cpuModel: string; memoryGiB: number; node: string; postgres: string; redis: string };
  options: RushOptions;
  topologies: TopologyResult[];
  runSeconds: number;
}

export const GOALS = { ticketsPeak: 1_000, holdPayP99Ms: 100, pushP99Ms: 1_500, openingPlacesMs: 2_000 };

export function renderReport(out: Out): string {
  const o = out.options;
  const ts = out.topologies;
  const m = out.machine;
  const L: string[] = [];
  const head = ["figure", ...ts.map((t) => `${t.instances} instance${t.instances > 1 ? "s" : ""}`), "goal"];
  const rows: string[][] = [];
  const row = (name: string, cell: (t: TopologyResult) => string, goal = "") => rows.push([name, ...ts.map(cell), goal]);

  L.push(
    `Run ${out.date.slice(0, 16).replace("T", " ")} UTC, \`${out.command}\`, ${out.runSeconds} s in all. Machine: ${m.nproc} × ${m.cpuModel}, ${m.memoryGiB} GiB, ` +
      `Node ${m.node}, PostgreSQL ${m.postgres} (${fmtSettings(m.postgresSettings as Record<string, string> | undefined)}), Redis ${m.redis}; ` +
      `the service, PostgreSQL, Redis and the load generators all on these ${m.nproc} cores. ` +
      `Service code: commit ${(m.source as { commit?: string } | undefined)?.commit ?? "?"}` +
      `${(m.source as { uncommittedSrcFiles?: number } | undefined)?.uncommittedSrcFiles ? ` with ${(m.source as { uncommittedSrcFiles: number }).uncommittedSrcFiles} uncommitted files in src/` : ""}.`,
    "",
    `The crowd: ${n(o.users)} users arriving over ${o.arrivalSeconds} s on a fixed schedule (a ${o.rampSeconds} s ramp, then ${Math.round(o.users / (o.arrivalSeconds - o.rampSeconds / 2))}/s), ` +
      `${o.workers} load-generator processes, each user's calls and WebSocket on one instance (user i on instance i mod n), ` +
      `HTTP over at most ${o.socketsPerInstance} keep-alive connections per generator and instance, one graphql-ws socket per waiting user. ` +
      `The seat map is read as ${(o.seatMap ?? "list") === "compact" ? "`seatAvailability { seatCount statuses }` (--seat-map=compact)" : "`seats { number status }`"}. ` +
      `One date of ${n(o.seats)} seats at ${n(o.price)}; ${pct(o.popularShare)} of users fight for the best seats (the first ${n(o.popularSeats)}, then the best left), ` +
      `${pct(o.giveUpShare)} give up while WAITING (leaveQueue after 2–15 s), ${pct(o.letRunOutShare)} let their hold run out, ${pct(o.doublePayShare)} pay twice at once with one key, ` +
      `the rest charge their balance and pay; each holds 1–4 seats and retries a SEAT_UNAVAILABLE with other seats (4 tries, then leaves). ` +
      `${n(o.signIns)} of them sign in for real (scrypt); the others get minted tokens. ` +
      `Policy: maxActiveUsers ${o.maxActive}, admitPerSecond ${o.admitPerSecond}, activeSessionSeconds ${o.sessionSeconds}; HOLD_SECONDS ${o.holdSeconds}, ` +
      `RATE_LIMIT_USER_PER_SECOND 0, DATABASE_POOL_SIZE ${o.poolSize} per instance. Fresh database and flushed Redis DB per topology.` +
      (o.openingSeconds > 0
        ? ` Scheduled opening (--opening-seconds=${o.openingSeconds}): saleOpensAt ${o.openingSeconds} s after the crowd starts, so the whole crowd arrives in the pre-queue (WAITING, place 0) ` +
          `and watches its ticket until the draw; give-ups count their wait from the opening; LOG_LEVEL info (for the draw's log line); no seat-map ceiling (its probe would only get a pre-queue ticket).`
        : ""),
    "",
  );

  const ceiling = (t: TopologyResult, prefix: string) => t.ceilings.find((c) => c.what.startsWith(prefix));
  row("ceiling: `{ __typename }`, 100 clients in all", (t) => {
    const c = ceiling(t, "{ __typename }");
    return c ? `${n(c.rps)}/s, p99 ${c.p99} ms` : "";
  });
  row("ceiling: Redis PING, 50 connections", (t) => {
    const c = ceiling(t, "Redis");
    return c ? `${n(c.rps)}/s, p99 ${c.p99} ms` : "";
  });
  row("ceiling: PostgreSQL 1-row INSERT, 20 connections", (t) => {
    const c = ceiling(t, "PostgreSQL");
    return c ? `${n(c.rps)}/s, p99 ${c.p99} ms` : "";
  });
  if (ts.some((t) => ceiling(t, "seat map")))
    row("ceiling: one seat map read (`seats { number status }`, this date), 4 clients, 1 instance: reads/s, p99; server CPU per read", (t) => {
      const c = ceiling(t, "seat map") as (ReturnType<typeof ceiling> & { cpuMsPerCall?: number }) | undefined;
      return c ? `${n(c.rps)}/s, p99 ${c.p99} ms; ${c.cpuMsPerCall} ms` : "";
    });
  row(
    "arrivals: peak rate; launch lateness p99 / max",
    (t) => `${n(t.arrivals.peakPerSecond)}/s; ${t.arrivals.lateP99Ms} / ${t.arrivals.lateMaxMs} ms`,
  );
  const opNames = [...new Set(ts.flatMap((t) => t.ops.map((x) => x.op)))];
  for (const op of opNames) {
    const goal = op === "reserveSeats" || op === "pay" ? `p99 < ${GOALS.holdPayP99Ms} ms` : "";
    row(`\`${op}\`: answers/s mean (peak); p50 / p95 / p99 / max ms; errors`, (t) => opCell(t.ops.find((x) => x.op === op)), goal);
  }
  for (const op of opNames) {
    if (!ts.some((t) => t.ops.find((x) => x.op === op)?.connectionWait)) continue;
    row(`\`${op}\`, where its time went, p50 / p99 ms: waiting in the generator for a free connection; inside the server (/metrics)`, (t) =>
      splitCell(
        t.ops.find((x) => x.op === op),
        t.serverTimings?.operations[op],
      ),
    );
  }
  if (ts.some((t) => t.serverTimings && Object.keys(t.serverTimings.pools).length > 0)) {
    row("PostgreSQL pools, p50 / p99 ms (/metrics): the wait for a connection; a query, send to result", (t) =>
      Object.entries(t.serverTimings?.pools ?? {})
        .map(([name, p]) => `${name}: ${bucketCell(p.wait)}; ${bucketCell(p.query)}`)
        .join("<br>"),
    );
  }
  row(
    "admission → ACTIVE push: p50 / p95 / p99 / max ms (subscribers)",
    (t) =>
      `${t.push.p50} / ${t.push.p95} / **${t.push.p99}** / ${t.push.max} (${n(t.push.count)}; ${n(t.push.alreadyActiveAtSubscribe)} already ACTIVE at subscribe)`,
    `p99 < ${GOALS.pushP99Ms} ms`,
  );
  if (ts.some((t) => t.secondAct)) {
    row(
      "second act: refund → next admission push, p50 / p95 / p99 / max ms (refunds; waiting)",
      (t) =>
        t.secondAct
          ? `${t.secondAct.refundToPush.p50} / ${t.secondAct.refundToPush.p95} / **${t.secondAct.refundToPush.p99}** / ${t.secondAct.refundToPush.max} (${n(t.secondAct.refunds)}; ${n(t.secondAct.waiters)})`
          : "—",
      `p99 < ${GOALS.pushP99Ms} ms`,
    );
    row("second act: refundReservation p50 / p99 ms", (t) => (t.secondAct ? `${t.secondAct.refundMs.p50} / ${t.secondAct.refundMs.p99}` : "—"));
  }
  if (ts.some((t) => t.opening)) {
    row("opening: saleOpensAt after the crowd starts; entered before it (pre-queue tickets); entered after it; pre-queue subscribers", (t) =>
      t.opening
        ? `${t.opening.openingSeconds} s; ${n(t.opening.enteredBefore)} (${n(t.opening.preQueue)}); ${n(t.opening.enteredAfter)}; ${n(t.opening.subscribers)}`
        : "—",
    );
    row(
      'opening: the draw step on the server ("opening draw done"), ms (tokens ordered); saleOpensAt → seed on `concert { openingDrawSeed }` (50 ms polls: after the last poll without it was sent, by the first answer with it)',
      (t) =>
        t.opening
          ? `${t.opening.drawMs ?? "–"} ms (${n(t.opening.drawOrdered ?? NaN)}); ${t.opening.seedNotYetMs ?? "–"} … ${t.opening.seedSeenMs ?? "never"} ms`
          : "—",
    );
    row(
      "opening: saleOpensAt → place pushed to each pre-queue subscriber, p50 / p95 / p99 / max ms (placed; never placed; first told WAITING / ACTIVE)",
      (t) =>
        t.opening
          ? `${t.opening.placePush.p50} / ${t.opening.placePush.p95} / **${t.opening.placePush.p99}** / **${t.opening.placePush.max}** (${n(t.opening.placePush.count)}; ${n(t.opening.placePush.never)}; ${n(t.opening.placedWaiting)} / ${n(t.opening.placedActive)})`
          : "—",
      `every place ≤ ${n(GOALS.openingPlacesMs)} ms (18,000 subscribers)`,
    );
  }
  row(
    "tickets sold per second: peak (1 s buckets; sliding 1 s); mean from opening",
    (t) => `**${n(t.tickets.peakPerSecond)}** (${n(t.tickets.peakSlidingSecond)}); ${n(t.tickets.meanPerSecond)}`,
    `≥ ${n(GOALS.ticketsPeak)} at the peak`,
  );
  row(
    "tickets sold; payments; first sale, 50% and 90% of the tickets sold, last sale (s after opening)",
    (t) =>
      `${n(t.tickets.total)}; ${n(t.tickets.payments)}; ${t.tickets.firstSaleSeconds}, ${t.tickets.halfSoldSeconds}, ${t.tickets.ninetyPctSoldSeconds}, ${t.tickets.lastSaleSeconds} s`,
  );
  row(
    "opening → sold out (last seat paid); first SOLD_OUT a client saw",
    (t) => `${t.soldOut ? `**${t.soldOutSeconds} s**` : "not sold out"}; ${t.firstSoldOutSeenSeconds ?? "–"} s`,
  );
  row(
    "queueStatusChanged messages received: in all; busiest second",
    (t) => `${n(t.series.pushes.reduce((a, b) => a + b, 0))}; ${n(Math.max(0, ...t.series.pushes))}/s`,
  );
  row(
    "TCP during the crowd: accept-queue overflows (ListenOverflows); SYN retransmissions",
    (t) => `${n(t.tcp?.ListenOverflows ?? NaN)}; ${n(t.tcp?.TCPSynRetrans ?? NaN)}`,
  );
  row(
    "subscribers' sockets: reconnects; closed before the end, by code",
    (t) =>
      `${n(t.sockets?.reconnects ?? NaN)}; ${
        Object.entries(t.sockets?.closesByCode ?? {})
          .map(([k, v]) => `${k}: ${n(v)}`)
          .join(", ") || "none"
      }`,
  );
  row("GET /healthz every 250 ms per instance (event-loop wait): p50 / p99 / max ms; unanswered in 10 s", (t) =>
    (t.healthz ?? []).map((h) => `${h.p50} / ${h.p99} / ${h.max}; ${h.unanswered}`).join(" · "),
  );
  row(
    "queue: most WAITING; most ACTIVE (samples; queueStats p99)",
    (t) => `${n(t.queue.maxWaiting)}; ${n(t.queue.maxActive)} (${n(t.queue.samples)}; ${t.queue.statsP99Ms} ms)`,
  );
  row("endings of the users", (t) =>
    Object.entries(t.outcomes)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${n(v)}`)
      .join(", "),
  );
  row(
    "why users ended in error or were still going when stopped",
    (t) =>
      Object.entries(t.notes ?? {})
        .slice(0, 4)
        .map(([k, v]) => `${k.replace(/\|/g, "/")} (${n(v)})`)
        .join("; ") || "–",
  );
  row(
    "errors by code (all operations)",
    (t) =>
      Object.entries(t.errors)
        .map(([k, v]) => `${k} ${n(v)}`)
        .join(", ") || "none",
  );
  /** Each server's `cell` (false where not measured: results before it) while the crowd arrives, then over the sale; "" when none was measured. */
  const mainThreadCells = (t: TopologyResult, cell: (p: CpuShare) => string | false) => {
    const cells = (c: TopologyResult["cpu"]) =>
      c.processes
        .filter((p) => p.group === "server")
        .map(cell)
        .filter((x): x is string => x !== false);
    const arriving = t.cpuArrivals ? cells(t.cpuArrivals) : [];
    return arriving.length > 0 ? `${arriving.join(", ")}; ${cells(t.cpu).join(", ")}` : "";
  };
  /** A group's CPU over a window (the sale's `t.cpu` or the arrivals'), % of one core. */
  const cpuOf = (c: TopologyResult["cpu"], g: string) => c.processes.filter((p) => p.group === g).reduce((a, p) => a + p.cpuPct, 0);
  const memOf = (t: TopologyResult, g: string) => t.cpu.processes.filter((p) => p.group === g).map((p) => p.memMaxMiB);
  row(
    "CPU from the opening to the sell-out (or the end of the crowd; seconds in brackets), % of one core: servers (each); PostgreSQL; Redis; load generators; orchestrator; anything else; whole machine",
    (t) =>
      `${cpuOf(t.cpu, "server")} (${t.cpu.processes
        .filter((p) => p.group === "server")
        .map((p) => p.cpuPct)
        .join(" + ")}); ${cpuOf(t.cpu, "postgres")}; ${cpuOf(t.cpu, "redis")}; ` +
      `${cpuOf(t.cpu, "loadgen")}; ${cpuOf(t.cpu, "orchestrator")}; ${t.cpu.otherPct}; **${t.cpu.machinePct}** of ${t.cpu.cores * 100} (${t.cpu.seconds} s)`,
  );
  row(
    `CPU while the crowd arrives (its first ${o.arrivalSeconds} s), % of one core: servers (each); PostgreSQL; Redis; load generators; whole machine`,
    (t) => {
      const c = t.cpuArrivals;
      if (!c) return "";
      const servers = c.processes.filter((p) => p.group === "server").map((p) => p.cpuPct);
      return `${cpuOf(c, "server")} (${servers.join(" + ")}); ${cpuOf(c, "postgres")}; ${cpuOf(c, "redis")}; ${cpuOf(c, "loadgen")}; **${c.machinePct}** of ${c.cores * 100}`;
    },
  );
  row(
    "each server's threads, % of one core: its main thread (the event loop) + the others (V8's garbage collector and compiler, libuv's pool: scrypt), while the crowd arrives; from the opening to the sell-out",
    (t) => mainThreadCells(t, (p) => p.mainThreadPct !== undefined && `${p.mainThreadPct} + ${p.cpuPct - p.mainThreadPct}`),
  );
  row(
    "each server's main thread, % of the time: on a core; runnable but waiting for one (the run queue), while the crowd arrives; from the opening to the sell-out",
    (t) => mainThreadCells(t, (p) => p.mainThreadWaitPct !== undefined && `${p.mainThreadPct} / ${p.mainThreadWaitPct}`),
  );
  row(
    "memory, max MiB: servers (RSS each); PostgreSQL (PSS); Redis; load generators",
    (t) => `${memOf(t, "server").join(" + ")}; ${memOf(t, "postgres").join()}; ${memOf(t, "redis").join()}; ${memOf(t, "loadgen").join(" + ")}`,
  );
  row("ratios: all answers at the peak second ÷ `{ __typename }` ceiling", (t) => {
    const c = ceiling(t, "{ __typename }");
    const totals = sumRows(Object.values(t.series.perSecond));
    const peak = Math.max(0, ...totals);
    return c ? `${n(peak)}/s ÷ ${n(c.rps)}/s = ${(peak / c.rps).toFixed(2)}` : "";
  });
  row("ratios: pays + holds + charges at their peak second ÷ PostgreSQL INSERT ceiling", (t) => {
    const c = ceiling(t, "PostgreSQL");
    const writes = sumRows(["reserveSeats", "chargeBalance", "pay"].map((op) => t.series.perSecond[op] ?? []));
    const peak = Math.max(0, ...writes);
    return c ? `${n(peak)}/s ÷ ${n(c.rps)}/s = ${(peak / c.rps).toFixed(2)}` : "";
  });
  row("ratios: server CPU-ms per user served; per ticket sold", (t) => {
    const serverSeconds = t.cpu.processes.filter((p) => p.group === "server").reduce((a, p) => a + p.cpuSeconds, 0);
    const allSeconds = t.cpu.processes.reduce((a, p) => a + p.cpuSeconds, 0);
    return `${((serverSeconds * 1000) / Math.max(1, o.users)).toFixed(1)}; ${((serverSeconds * 1000) / Math.max(1, t.tickets.total)).toFixed(1)} (all processes: ${((allSeconds * 1000) / Math.max(1, t.tickets.total)).toFixed(1)})`;
  });
  row("crowd run; whole topology incl. set-up and checks", (t) => `${t.crowdSeconds} s; ${t.runSeconds} s`);
  L.push(table(head, rows), "");
  for (const t of ts) {
    if (t.cpu.otherPct > 10) {
      L.push(
        `Note: during the ${t.instances}-instance rush, processes outside the bench used ${t.cpu.otherPct}% of a core on average: its figures are lower than a quiet machine would give.`,
        "",
      );
    }
  }

  // Checks.
  L.push("Checks (any failure makes the bench exit non-zero):", "");
  const checkNames = [...new Set(ts.flatMap((t) => t.checks.map((c) => c.name)))];
  L.push(
    table(
      ["check", ...ts.map((t) => `${t.instances} instance${t.instances > 1 ? "s" : ""}`)],
      checkNames.map((name) => [
        name,
        ...ts.map((t) => {
          const c = t.checks.find((x) => x.name === name);
          return c ? `${c.ok ? "**ok**" : "**FAILED**"}: ${c.detail}` : "";
        }),
      ]),
    ),
    "",
  );

  // Goals.
  const goalRows: string[][] = [];
  const hp = (t: TopologyResult) => Math.max(...["reserveSeats", "pay"].map((op) => t.ops.find((x) => x.op === op)?.p99 ?? NaN));
  const invariants = (t: TopologyResult) => t.checks.filter((c) => !c.name.startsWith("every user reached"));
  goalRows.push([
    `${n(o.users)} users, zero invariant violations`,
    ...ts.map((t) =>
      yes(
        invariants(t).every((c) => c.ok),
        `${invariants(t).filter((c) => !c.ok).length} of ${invariants(t).length} invariant checks failed`,
      ),
    ),
  ]);
  goalRows.push([
    "every user served to an expected ending",
    ...ts.map((t) => {
      const c = t.checks.find((x) => x.name.startsWith("every user reached"));
      return c
        ? yes(
            c.ok,
            c.ok
              ? "all"
              : `${n(
                  Object.entries(t.outcomes)
                    .filter(([k]) => k === "error" || k === "timeout")
                    .reduce((a, [, v]) => a + v, 0),
                )} not`,
          )
        : "";
    }),
  ]);
  goalRows.push([
    `≥ ${n(GOALS.ticketsPeak)} tickets sold per second at the peak`,
    ...ts.map((t) => yes(t.tickets.peakPerSecond >= GOALS.ticketsPeak, `${n(t.tickets.peakPerSecond)}/s`)),
  ]);
  goalRows.push([`holds and pays p99 < ${GOALS.holdPayP99Ms} ms`, ...ts.map((t) => yes(hp(t) < GOALS.holdPayP99Ms, `${hp(t)} ms`))]);
  goalRows.push([`admission → push p99 < ${n(GOALS.pushP99Ms)} ms`, ...ts.map((t) => yes(t.push.p99 < GOALS.pushP99Ms, `${t.push.p99} ms`))]);
  if (ts.some((t) => t.opening)) {
    goalRows.push([
      `opening: every pre-queue subscriber placed within ${n(GOALS.openingPlacesMs)} ms of saleOpensAt (issue 12: with 18,000 subscribers)`,
      ...ts.map((t) => {
        if (!t.opening) return "—";
        const p = t.opening.placePush;
        return yes(p.never === 0 && p.max <= GOALS.openingPlacesMs, `${n(p.count)} subscribers, max ${p.max} ms, ${n(p.never)} never`);
      }),
    ]);
  }
  L.push("Goals (issues 5 and 12):", "", table(["goal", ...ts.map((t) => `${t.instances} instance${t.instances > 1 ? "s" : ""}`)], goalRows), "");
  return L.join("\n");
}

function opCell(f: OpFigure | undefined): string {
  if (!f) return "–";
  const errors = Object.entries(f.errors)
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(", ");
  return `${n(f.meanPerSecond)} (${n(f.peakPerSecond)}); ${f.p50} / ${f.p95} / **${f.p99}** / ${f.max}; ${n(f.count)} calls${errors ? `, ${errors}` : ""}`;
}

function splitCell(f: OpFigure | undefined, server: BucketQuantiles | undefined): string {
  const wait = f?.connectionWait ? `${f.connectionWait.p50} / ${f.connectionWait.p99}` : "–";
  return `${wait}; ${bucketCell(server ?? null)}`;
}

/** A quantile from /metrics buckets: `~` for its estimate within a bucket, `> bound` past the last one. */
function bucketCell(b: BucketQuantiles | null): string {
  if (!b || b.count === 0) return "–";
  const q = (v: number | null) => (v === null ? `> ${n(b.over)}` : `~${v}`);
  return `${q(b.p50)} / ${q(b.p99)}`;
}

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => " --- ").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

function sumRows(rows: number[][]): number[] {
  const len = Math.max(0, ...rows.map((r) => r.length));
  return Array.from({ length: len }, (_, k) => rows.reduce((a, r) => a + (r[k] ?? 0), 0));
}

function fmtSettings(s: Record<string, string> | undefined): string {
  if (!s) return "";
  return Object.entries(s)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
}

const yes = (ok: boolean, detail: string) => `${ok ? "met" : "**not met**"} (${detail})`;
const n = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en") : "–");
const pct = (x: number) => `${Math.round(x * 100)}%`;
