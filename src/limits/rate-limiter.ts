// Fixed-window counters for rate limits. With Redis they hold across every
// instance; in process they hold for this instance alone (the embedded default).
import type { RedisClient } from "../redis/redis-client";

export interface RateLimiter {
  /** Counts one hit on `key`; false when this hit goes over `limit` in the current window. */
  hit(key: string, limit: number, windowSeconds: number): Promise<boolean>;
  /** Hits counted on `key` in the current window, without counting one. */
  peek(key: string, windowSeconds: number): Promise<number>;
}

const windowOf = (windowSeconds: number) => Math.floor(Date.now() / 1000 / windowSeconds);

// Each counter is one key (INCR, EXPIRE): no script, so on a Redis Cluster any
// key may live on any slot.
export function createRedisRateLimiter(redis: RedisClient, prefix = "rl"): RateLimiter {
  const name = (key: string, windowSeconds: number) => `${prefix}:${key}:${windowSeconds}:${windowOf(windowSeconds)}`;
  return {
    async hit(key, limit, windowSeconds) {
      const k = name(key, windowSeconds);
      // Two plain commands, not MULTI: with auto-pipelining they share one write
      // with whatever else this instance sends in the same tick, where a MULTI
      // block goes out on its own (it was a tenth of enterQueue's CPU). The
      // count needs no transaction; the expiry only bounds memory, and NX keeps
      // the window's first expiry.
      const [count] = await Promise.all([redis.incr(k), redis.expire(k, windowSeconds + 1, "NX")]);
      return count <= limit;
    },
    async peek(key, windowSeconds) {
      return Number((await redis.get(name(key, windowSeconds))) ?? 0);
    },
  };
}

export function createMemoryRateLimiter(): RateLimiter {
  const counts = new Map<string, { window: number; count: number }>();
  let lastSweep = 0;
  const entry = (key: string, windowSeconds: number) => {
    const window = windowOf(windowSeconds);
    const k = `${key}:${windowSeconds}`;
    let e = counts.get(k);
    if (!e || e.window !== window) {
      e = { window, count: 0 };
      counts.set(k, e);
    }
    return e;
  };
  const sweep = () => {
    const now = Date.now();
    if (now - lastSweep < 60_000) return;
    lastSweep = now;
    for (const [k, e] of counts) {
      const windowSeconds = Number(k.slice(k.lastIndexOf(":") + 1));
      if (e.window !== windowOf(windowSeconds)) counts.delete(k);
    }
  };
  return {
    async hit(key, limit, windowSeconds) {
      sweep();
      const e = entry(key, windowSeconds);
      e.count++;
      return e.count <= limit;
    },
    async peek(key, windowSeconds) {
      return entry(key, windowSeconds).count;
    },
  };
}
