// Where the CPU and memory went, read from /proc once a second: each server
// instance, each load-generator process, this orchestrator, Redis, PostgreSQL
// (all its processes: the postmaster, its helpers and the backends of every
// pool, each counted as it runs), and the whole machine. Cumulative readings;
// rates are differences between samples.
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { machineJiffies, processCpuSeconds, processRssMiB, threadCpuSeconds, threadRunQueueSeconds } from "../lib/stats";

export type Group = "server" | "loadgen" | "orchestrator" | "redis" | "postgres";

export interface Watched {
  label: string;
  group: Group;
  pid: number;
  /** Read the process's main thread on its own too (a Node server's event loop; its other threads are V8's helpers and libuv's pool). */
  mainThread?: boolean;
}

export interface ProcessSeries {
  labels: { label: string; group: Group }[];
  /** ms after the opening, one per sample. */
  t: number[];
  /** Cumulative CPU seconds per label (NaN once a process is gone). */
  cpu: number[][];
  /** Cumulative CPU seconds of the main thread per label (NaN when not watched or gone); absent in results before it was read. */
  main?: number[][];
  /** Cumulative seconds the main thread waited, runnable, for a core (NaN when not watched); absent before it was read. */
  mainWait?: number[][];
  /** Memory per label, MiB: RSS, or for PostgreSQL the sum of every process's PSS (shared buffers counted once). */
  mem: number[][];
  /** Machine busy jiffies (all cores) and total jiffies. */
  busy: number[];
  total: number[];
}

const CLK_TCK = 100;

/** A reading of a process that may have ended meanwhile: NaN then. */
function safe(read: () => number): number {
  try {
    return read();
  } catch {
    return NaN;
  }
}

/**
 * CPU seconds each PostgreSQL process (pid and start time) had at its last
 * reading. A process that exits keeps its last reading, so the sum only grows.
 * (The postmaster's cutime was used before: it adds an exited backend's whole
 * lifetime at the moment it is reaped, so a pool closed at the end of one phase
 * showed up as a burst of PostgreSQL CPU in the next — 50–120% of a core in the
 * first seconds of a crowd, while `top` showed the backends idle.)
 */
const pgSeen = new Map<string, number>();

/** Every PostgreSQL process: CPU seconds used so far (up to each exited one's last reading) and PSS MiB of the live ones. */
export function postgresReading(): { cpu: number; pssMiB: number; processes: number } {
  let pss = 0;
  let n = 0;
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "postgres") continue;
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      pgSeen.set(`${pid}:${f[19]}`, (Number(f[11]) + Number(f[12])) / CLK_TCK); // utime + stime; f[19] is the start time
      const m = /Pss:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
      if (m) pss += Number(m[1]) / 1024;
      n++;
    } catch {
      // the process ended while being read
    }
  }
  let cpu = 0;
  for (const seconds of pgSeen.values()) cpu += seconds;
  return { cpu, pssMiB: Math.round(pss), processes: n };
}

export class ProcessSampler {
  private timer: NodeJS.Timeout | undefined;
  readonly series: ProcessSeries;

  constructor(
    private readonly watched: Watched[],
    private readonly t0: () => number,
    private readonly intervalMs = 1_000,
  ) {
    this.series = {
      labels: [...watched.map((w) => ({ label: w.label, group: w.group })), { label: "PostgreSQL", group: "postgres" }],
      t: [],
      cpu: [],
      main: [],
      mainWait: [],
      mem: [],
      busy: [],
      total: [],
    };
  }

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  stop(): ProcessSeries {
    if (this.timer === undefined) return this.series;
    clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    return this.series;
  }

  private sample(): void {
    const s = this.series;
    const pg = postgresReading();
    s.t.push(Date.now() - this.t0());
    s.cpu.push([...this.watched.map((w) => safe(() => processCpuSeconds(w.pid))), pg.cpu]);
    s.main?.push([...this.watched.map((w) => (w.mainThread ? safe(() => threadCpuSeconds(w.pid, w.pid)) : NaN)), NaN]);
    s.mainWait?.push([...this.watched.map((w) => (w.mainThread ? safe(() => threadRunQueueSeconds(w.pid, w.pid)) : NaN)), NaN]);
    s.mem.push([...this.watched.map((w) => safe(() => processRssMiB(w.pid))), pg.pssMiB]);
    const m = machineJiffies();
    s.busy.push(m.busy);
    s.total.push(m.total);
  }
}

export interface CpuShare {
  label: string;
  group: Group;
  /** % of one core, averaged over the window. */
  cpuPct: number;
  cpuSeconds: number;
  /** Of cpuPct, the main thread's (a server's event loop), when it was read. */
  mainThreadPct?: number;
  /** The time the main thread waited, runnable, for a core, % of the window. */
  mainThreadWaitPct?: number;
  memMaxMiB: number;
}

/** CPU of each process between the samples nearest to [from, to] (ms after the opening), and the machine's. */
export function cpuOver(
  s: ProcessSeries,
  from: number,
  to: number,
): { processes: CpuShare[]; machinePct: number; otherPct: number; seconds: number; cores: number } {
  const a = Math.max(
    0,
    s.t.findIndex((t) => t >= from),
  );
  let b = s.t.length - 1;
  while (b > a && s.t[b] > to + 500) b--;
  const seconds = (s.t[b] - s.t[a]) / 1000;
  const processes = s.labels.map((l, k) => {
    // A process that left before the last sample (a load generator that reported and exited): its last reading.
    let end = b;
    while (end > a && !Number.isFinite(s.cpu[end][k])) end--;
    const used = s.cpu[end][k] - s.cpu[a][k];
    const mainUsed = s.main ? s.main[end][k] - s.main[a][k] : NaN;
    const mainWaited = s.mainWait ? s.mainWait[end][k] - s.mainWait[a][k] : NaN;
    let memMax = 0;
    for (let i = a; i <= b; i++) if (s.mem[i][k] > memMax) memMax = s.mem[i][k];
    return {
      ...l,
      cpuSeconds: Math.round(used * 10) / 10,
      cpuPct: Math.round((used / Math.max(0.001, seconds)) * 100),
      ...(Number.isFinite(mainUsed) ? { mainThreadPct: Math.round((mainUsed / Math.max(0.001, seconds)) * 100) } : {}),
      ...(Number.isFinite(mainWaited) ? { mainThreadWaitPct: Math.round((mainWaited / Math.max(0.001, seconds)) * 100) } : {}),
      memMaxMiB: Math.round(memMax),
    };
  });
  const cores = availableParallelism();
  const machinePct = Math.round(((s.busy[b] - s.busy[a]) / Math.max(1, s.total[b] - s.total[a])) * 100 * cores);
  // Whatever the machine did besides the processes watched (other programs, the kernel's own work).
  const otherPct = Math.max(0, machinePct - processes.reduce((a, p) => a + p.cpuPct, 0));
  return { processes, machinePct, otherPct, seconds: Math.round(seconds * 10) / 10, cores };
}
