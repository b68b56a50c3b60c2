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
