// What machine a benchmark ran on, and which service code: recorded with
// every run so figures can be compared across runs and commits.
import { createHash } from "node:crypto";
import { execSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism, loadavg, totalmem } from "node:os";
import { resolve } from "node:path";
import type Redis from "ioredis";
import { Client } from "pg";

const ROOT = resolve(__dirname, "../../..");

export async function describeMachine(redis: Redis) {
  const pg = new Client({ connectionString: process.env.BENCH_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/test" });
  await pg.connect();
  const postgres = (await pg.query<{ server_version: string }>("SHOW server_version")).rows[0].server_version;
  const pgSettings = (
    await pg.query<{ name: string; setting: string }>(
      "SELECT name, setting FROM pg_settings WHERE name IN ('max_connections', 'shared_buffers', 'synchronous_commit', 'fsync')",
    )
  ).rows;
  await pg.end();
  return {
    nproc: availableParallelism(),
    cpuModel: /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? "?",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    postgres,
    postgresSettings: Object.fromEntries(pgSettings.map((s) => [s.name, s.setting])),
    redis: /redis_version:(\S+)/.exec(await redis.info("server"))?.[1] ?? "?",
    kernel: execSync("uname -r").toString().trim(),
    loadAverage: loadavg()
      .map((x) => x.toFixed(2))
      .join(" "),
    source: sourceState(),
  };
}

/** Which service code ran: the commit, and whether src/ had changes not yet committed (and a digest of them). */
export function sourceState(): { commit: string; uncommittedSrcFiles: number; srcDiffDigest: string } {
  try {
    const quiet = { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] as ("ignore" | "pipe")[], maxBuffer: 64 * 1024 * 1024 };
    const commit = execSync("git rev-parse --short HEAD", quiet).toString().trim();
    const files = execSync("git status --porcelain -- src", quiet).toString().split("\n").filter(Boolean).length;
    const diff = execSync("git diff HEAD -- src", quiet);
    return { commit, uncommittedSrcFiles: files, srcDiffDigest: createHash("sha256").update(diff).digest("hex").slice(0, 12) };
  } catch {
    return { commit: "?", uncommittedSrcFiles: -1, srcDiffDigest: "?" };
  }
}
