// The Redis connections of one instance: a plain Redis (REDIS_URL) or a Redis
// Cluster (REDIS_CLUSTER_NODES, rule 28), both set to fail fast (rule 27). A
// command never waits in an offline queue and is never sent again after a
// reconnect: while Redis does not answer, it fails at once (or after
// COMMAND_TIMEOUT_MS), the caller answers SERVICE_UNAVAILABLE, and nothing is
// done later behind the client's back. The clients reconnect by themselves.
import Redis, { Cluster, type ClusterNode, type RedisOptions } from "ioredis";

/**
 * A command that has had no answer for this long fails (a Redis that hangs, a
 * network that drops packets). A Redis that is stopped or restarting fails a
 * command at once (no offline queue), so this is only the hung case; it is not
 * shorter because on a CPU-starved machine the timer fires before the reply
 * already waiting in the socket is read (`npm run bench` at 500 clients on a
 * machine at load 20 answered a share of enterQueue SERVICE_UNAVAILABLE at 800 ms).
 */
export const COMMAND_TIMEOUT_MS = 2_000;
/** A cluster command's deadline across all its retries (a failover): under the second. */
export const CLUSTER_DEADLINE_MS = 500;
const CONNECT_TIMEOUT_MS = 1_000;

export type RedisClient = Redis | Cluster;

export interface RedisTarget {
  url?: string;
  clusterNodes?: ClusterNode[];
}

const failFast: RedisOptions = {
  enableOfflineQueue: false,
  // 0: a connection that closes rejects what it had in flight at once
  // (ioredis's MaxRetriesPerRequestError) instead of resending it later.
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  commandTimeout: COMMAND_TIMEOUT_MS,
  connectTimeout: CONNECT_TIMEOUT_MS,
  // Reconnect quickly and for ever: the outage ends when Redis answers again.
  retryStrategy: (attempt) => Math.min(50 * attempt, 500),
};

/** A subscriber waits for its reconnection instead: (re)subscribing is not an operation a client waits on. */
const patient: RedisOptions = {
  maxRetriesPerRequest: null,
  // No INFO ready check: a SUBSCRIBE sent while the connection starts puts it in subscriber
  // mode before the check's INFO goes out, and ioredis then fails it ("Connection in
  // subscriber mode"), which CI saw once in cross-instance-pubsub.
  enableReadyCheck: false,
  connectTimeout: CONNECT_TIMEOUT_MS,
  retryStrategy: (attempt) => Math.min(50 * attempt, 500),
};

/** "host:port,host:port" into cluster nodes (throws on a malformed entry). */
export function parseClusterNodes(text: string): { host: string; port: number }[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(entry);
      if (!m) throw new Error(`"${entry}" is not host:port`);
      return { host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) };
    });
}

/**
 * A new connection (each subscriber needs its own). `role` "subscriber" makes
 * one that waits for its reconnection; on a cluster it subscribes per shard
 * (SSUBSCRIBE) to the master that owns each channel's slot.
 */
export function connectRedis(target: RedisTarget, role: "commands" | "subscriber" = "commands"): RedisClient {
  const options = role === "commands" ? { ...failFast, enableAutoPipelining: true } : patient;
  const client: RedisClient = target.clusterNodes
    ? new Cluster(target.clusterNodes, {
        redisOptions: options,
        enableOfflineQueue: role !== "commands",
        // Off on a cluster: a command must carry one deadline across the
        // cluster's own retries (below), which a pipeline's commands do not.
        enableAutoPipelining: false,
        scaleReads: "master",
        // A failover (cluster-node-timeout plus an election) answers CLUSTERDOWN or
        // refuses connections for a moment: retry briefly, then fail fast.
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        retryDelayOnTryAgain: 100,
        maxRedirections: role === "commands" ? 6 : 16,
        clusterRetryStrategy: (attempt) => Math.min(100 * attempt, 1_000),
        slotsRefreshTimeout: CONNECT_TIMEOUT_MS,
        shardedSubscribers: role === "subscriber",
      })
    : new Redis(target.url!, options);
  if (client instanceof Cluster && role === "commands") withDeadline(client);
  // Failures reach the callers of each command; the connection's own "error"
  // events (refused, reset) must not end the process. Readiness reports them.
  client.on("error", () => undefined);
  client.on("node error", () => undefined);
  return client;
}

/**
 * During a failover the cluster client retries a command (CLUSTERDOWN, a closed
 * connection, MOVED) until the replica has taken over: seconds. Each node's
 * commandTimeout restarts with every retry; this one deadline, set before the
 * first try (ioredis keeps the first timer a command gets), bounds them all, so
 * the caller answers SERVICE_UNAVAILABLE within a second.
 */
function withDeadline(cluster: Cluster): void {
  type Send = (command: { setTimeout?: (ms: number) => void }, ...rest: unknown[]) => unknown;
  const target = cluster as unknown as { sendCommand: Send };
  const send = target.sendCommand.bind(cluster);
  target.sendCommand = (command, ...rest) => {
    command.setTimeout?.(CLUSTER_DEADLINE_MS);
    return send(command, ...rest);
  };
}

/** Resolves once the client is ready, or after `ms` (the service starts anyway and answers SERVICE_UNAVAILABLE meanwhile). */
export function waitUntilReady(client: RedisClient, ms: number): Promise<boolean> {
  if (client.status === "ready") return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      client.off("ready", onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    client.once("ready", onReady);
  });
}

/** Whether Redis answers now (a cluster: whether it reports itself whole), within the command timeout. */
export async function redisAnswers(client: RedisClient): Promise<boolean> {
  try {
    if (client instanceof Cluster) {
      const info = await client.cluster("INFO");
      return /cluster_state:ok/.test(String(info));
    }
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  }
}
