// The two queue stores every booking suite runs on: the in-process one (one
// instance: it cannot be shared) always, and Redis (two instances sharing it,
// clients alternating between them) whenever REDIS_URL is set. Without
// REDIS_URL the Redis variant does not run, and the run says so at its end
// (see notRun); with REDIS_URL set but unreachable it fails, never skips.
import { expect, inject } from "vitest";
import { appendFileSync } from "node:fs";
import { join } from "node:path";

export interface StoreVariant {
  /** Shown in the suite's name: which store, and how many instances. */
  name: string;
  /** true: the Redis at REDIS_URL; "cluster": the Redis Cluster at REDIS_CLUSTER_NODES. */
  redis: boolean | "cluster";
  instances: number;
}

export const IN_PROCESS: StoreVariant = { name: "in-process store, one instance", redis: false, instances: 1 };
export const REDIS: StoreVariant = { name: "Redis store, two instances", redis: true, instances: 2 };
export const CLUSTER: StoreVariant = { name: "Redis Cluster store, two instances", redis: "cluster", instances: 2 };

/**
 * The variants a suite runs on. `suite` names it in the end-of-run notice when
 * the Redis variant cannot run. `needsTwoInstances`: the suite proves something
 * across instances, so it has no in-process variant at all.
 */
export function queueStores(suite: string, options: { needsTwoInstances?: boolean } = {}): StoreVariant[] {
  const variants = options.needsTwoInstances ? [] : [IN_PROCESS];
  if (process.env.REDIS_URL) variants.push(REDIS);
  else notRun(`${suite} (${REDIS.name})`, "REDIS_URL is not set: two instances need a shared Redis");
  return variants;
}

/** Records that a suite of this file did not run, and why; the global teardown prints it. */
export function notRun(suite: string, why: string): void {
  const dir = inject("notRunDir");
  appendFileSync(join(dir, `${process.pid}.txt`), `${JSON.stringify({ file: currentFile(), suite, why })}\n`);
}

function currentFile(): string {
  const path = expect.getState().testPath ?? "";
  const at = path.lastIndexOf("tests/");
  return at >= 0 ? path.slice(at) : path;
}

/**
 * The queue suites also run on a Redis Cluster (rule 28) whenever
 * REDIS_CLUSTER_NODES is set (CI starts one); set but unreachable, they fail.
 */
export function withCluster(suite: string, variants: StoreVariant[]): StoreVariant[] {
  if (process.env.REDIS_CLUSTER_NODES) return [...variants, CLUSTER];
  notRun(`${suite} (${CLUSTER.name})`, "REDIS_CLUSTER_NODES is not set");
  return variants;
}
