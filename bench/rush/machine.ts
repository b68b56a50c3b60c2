// The machine the rush runs on: what it is (and which service code ran),
// taking turns with other benchmarks and waiting for quiet, the kernel's TCP
// counters, and the log line format.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type Redis from "ioredis";
import { sleep } from "../lib/server";
export { describeMachine, sourceState } from "../lib/machine";
import { waitForQuiet } from "../lib/stats";
import type { RushOptions } from "./options";

/** Machine busy % (of all cores) under which it counts as quiet. */
const QUIET_BUSY_PCT = 20;

export const log = (line: string) => process.stdout.write(`[rush ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

/** Waits (bounded) for any other benchmark of this project to finish. */
export async function waitForOthers(o: RushOptions): Promise<number> {
  const t = Date.now();
  let said = false;
  while (othersRunning() && Date.now() - t < o.quietMaxSeconds * 1000) {
    if (!said) log("another benchmark (npm run bench or bench:rush) is running: waiting for it to finish");
    said = true;
    await sleep(5_000);
  }
  if (othersRunning()) log(`another benchmark still runs after ${o.quietMaxSeconds} s: measuring anyway (figures may be low)`);
  return Math.round((Date.now() - t) / 1000);
}

/** Waits for any other benchmark to finish, then for the machine to be quiet (both bounded). */
export async function waitTurn(o: RushOptions) {
  const waitedForOthersSeconds = await waitForOthers(o);
  // Quiet: three seconds in a row under QUIET_BUSY_PCT (a test run in progress is not).
  const q0 = Date.now();
  let quietSeconds = 0;
  let busyPct = 100;
  while (quietSeconds < 3 && Date.now() - q0 < Math.max(60, o.quietMaxSeconds) * 1000) {
    busyPct = (await waitForQuiet(101, 1_000)).busyPct;
    quietSeconds = busyPct < QUIET_BUSY_PCT ? quietSeconds + 1 : 0;
    if (quietSeconds === 0 && Date.now() - q0 > 5_000 && Date.now() - q0 < 6_200)
      log(`the machine is ${busyPct}% busy (other processes): waiting for it to calm down`);
  }
  if (quietSeconds < 3) log(`the machine is still ${busyPct}% busy: figures may be low`);
  return { waitedForOthersSeconds, waitedForQuietSeconds: Math.round((Date.now() - q0) / 1000), busyPct };
}

/** Another benchmark of this project running on the machine: the waiting-room bench, or another rush. */
export function othersRunning(): boolean {
  for (const pattern of ["dist/bench/queue.bench", "dist/bench/rush/rush.bench"]) {
    try {
      const pids = execFileSync("pgrep", ["-f", pattern], { stdio: ["ignore", "pipe", "ignore"] })
        .toString()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
      if (pids.some((pid) => pid !== process.pid && pid !== process.ppid)) return true;
    } catch {
      // pgrep exits 1 when nothing matches
    }
  }
  return false;
}

/** TcpExt counters of /proc/net/netstat that tell a full accept queue (dropped connection attempts). */
export function tcpCounters(): Record<string, number> {
  const keep = ["ListenOverflows", "ListenDrops", "TCPSynRetrans", "TCPTimeouts", "TCPReqQFullDoCookies"];
  try {
    const lines = readFileSync("/proc/net/netstat", "utf8")
      .split("\n")
      .filter((l) => l.startsWith("TcpExt:"));
    const names = lines[0].split(/\s+/);
    const values = lines[1].split(/\s+/);
    return Object.fromEntries(keep.map((k) => [k, Number(values[names.indexOf(k)] ?? NaN)]));
  } catch {
    return {};
  }
}

export async function redisPid(redis: Redis): Promise<number> {
  return Number(/process_id:(\d+)/.exec(await redis.info("server"))?.[1] ?? NaN);
}
