// Latency summaries and the /proc readings the benchmark reports.
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import type Redis from "ioredis";

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** p50/p99/max of `values` (milliseconds), rounded to 0.1 ms. */
export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]);
  const r = (x: number) => Math.round(x * 10) / 10;
  return { count: sorted.length, p50: r(at(0.5)), p99: r(at(0.99)), max: r(sorted.length ? sorted[sorted.length - 1] : NaN) };
}

/** Clock ticks per second of /proc/<pid>/stat times (100 on Linux x86-64). */
const CLK_TCK = 100;

/** CPU seconds (user + system) of a /proc stat file: a process's, or one of its threads'. */
function statCpuSeconds(file: string): number {
  const stat = readFileSync(file, "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
}

/** CPU seconds (user + system) a process has used so far. */
export const processCpuSeconds = (pid: number): number => statCpuSeconds(`/proc/${pid}/stat`);

/** CPU seconds (user + system) one thread of a process has used so far. */
export const threadCpuSeconds = (pid: number, tid: number): number => statCpuSeconds(`/proc/${pid}/task/${tid}/stat`);

/** Seconds one thread of a process has spent runnable but waiting for a core (schedstat's run_delay). */
export function threadRunQueueSeconds(pid: number, tid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[1]) / 1e9;
}

/** Resident memory of a process in MiB. */
export function processRssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : NaN;
}

/** Busy and total jiffies of the whole machine (every core). */
export function machineJiffies(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const total = line.reduce((a, b) => a + b, 0);
  const idle = line[3] + line[4]; // idle + iowait
  return { busy: total - idle, total };
}

/** CPU seconds (user + system) Redis has used so far (INFO cpu): every client's work, ours and anyone else's. */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const read = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
  return read("used_cpu_user") + read("used_cpu_sys");
}

/**
 * Measures CPU over a window, as % of one core (the machine has
 * availableParallelism() × 100%): the server child's, this process's (the load
 * generator), Redis's, the whole machine's, and what is left of the machine's
 * for everything else (PostgreSQL and any other process on the machine).
 */
export async function cpuWindow(serverPid: number | undefined, redis?: Redis) {
  const t0 = performance.now();
  const self0 = process.cpuUsage();
  const server0 = serverPid ? processCpuSeconds(serverPid) : 0;
  const redis0 = redis ? await redisCpuSeconds(redis) : 0;
  const m0 = machineJiffies();
  return async () => {
    const wall = (performance.now() - t0) / 1000;
    const self = process.cpuUsage(self0);
    const server = serverPid ? processCpuSeconds(serverPid) - server0 : 0;
    const m1 = machineJiffies();
    const redisUsed = redis ? (await redisCpuSeconds(redis)) - redis0 : 0;
    const pct = (cpuSeconds: number) => Math.round((cpuSeconds / wall) * 100);
    const machine = Math.round(((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * 100 * availableParallelism());
    const loadgen = pct((self.user + self.system) / 1e6);
    return {
      seconds: Math.round(wall * 10) / 10,
      serverCpuPct: serverPid ? pct(server) : null,
      loadgenCpuPct: loadgen,
      redisCpuPct: redis ? pct(redisUsed) : null,
      machineCpuPct: machine,
      otherCpuPct: Math.max(0, machine - (serverPid ? pct(server) : 0) - loadgen - (redis ? pct(redisUsed) : 0)),
    };
  };
}

export type CpuReading = Awaited<ReturnType<Awaited<ReturnType<typeof cpuWindow>>>>;

/** Waits (at most `maxMs`) until the machine is quiet: under `busyPct` of all cores for a second. Returns the last reading. */
export async function waitForQuiet(busyPct: number, maxMs: number): Promise<{ busyPct: number; waitedSeconds: number }> {
  const t0 = Date.now();
  for (;;) {
    const m0 = machineJiffies();
    await new Promise((r) => setTimeout(r, 1_000));
    const m1 = machineJiffies();
    const busy = Math.round(((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) * 100);
    if (busy < busyPct || Date.now() - t0 >= maxMs) return { busyPct: busy, waitedSeconds: Math.round((Date.now() - t0) / 1000) };
  }
}
