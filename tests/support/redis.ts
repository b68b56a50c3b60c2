// Redis variants of the tests run whenever REDIS_URL is set, and fail (never
// skip) when it is set but Redis does not answer.
import Redis from "ioredis";

export const redisUrl = process.env.REDIS_URL;

/** Throws a clear error unless the Redis at REDIS_URL answers PING. */
export async function assertRedisAnswers(): Promise<void> {
  if (!redisUrl) throw new Error("REDIS_URL is not set");
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2_000, retryStrategy: () => null });
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    if ((await redis.ping()) !== "PONG") throw new Error("no PONG");
  } catch (error) {
    throw new Error(`REDIS_URL=${redisUrl} is set but Redis does not answer: ${String(error)}`);
  } finally {
    redis.disconnect();
  }
}

/** Throws a clear error unless the Redis Cluster at REDIS_CLUSTER_NODES reports itself whole. */
export async function assertClusterAnswers(): Promise<void> {
  const spec = process.env.REDIS_CLUSTER_NODES;
  if (!spec) throw new Error("REDIS_CLUSTER_NODES is not set");
  const nodes = spec.split(",").map((n) => ({ host: n.slice(0, n.lastIndexOf(":")), port: Number(n.slice(n.lastIndexOf(":") + 1)) }));
  const cluster = new Redis.Cluster(nodes, {
    lazyConnect: true,
    enableOfflineQueue: true,
    clusterRetryStrategy: () => null,
    redisOptions: { connectTimeout: 2_000 },
  });
  cluster.on("error", () => undefined);
  try {
    await cluster.connect();
    const info = String(await cluster.cluster("INFO"));
    if (!/cluster_state:ok/.test(info)) throw new Error(info.split("\n")[0]);
  } catch (error) {
    throw new Error(`REDIS_CLUSTER_NODES=${spec} is set but the cluster does not answer: ${String(error)}`);
  } finally {
    cluster.disconnect();
  }
}
