// Phase "room": the waiting room's per-second work for a very long line, with
// no sockets. Every waiting user is an in-process subscriber (QueueWatchers.watch
// with a listener that counts), the line moves (the admission step four times a
// second at `admitPerSecond`), and the refresh runs on the ticker's period. It
// measures this process's CPU per second of waiting-room work (the refresh, the
// admission steps, the events and the pushes), Redis's CPU, pushes and reads per
// second, and heap per subscriber. Store: in-process or Redis.
import { randomUUID } from "node:crypto";
import type Redis from "ioredis";
import type { Pool } from "pg";
import { createMemoryEventBus } from "../../src/pubsub/event-bus";
import { createLogger } from "../../src/observability/logger";
import { MemoryQueueStore } from "../../src/services/queue/memory-queue-store";
import { RedisQueueStore } from "../../src/services/queue/redis-queue-store";
import { QueueService } from "../../src/services/queue/queue.service";
import type { QueuePolicies } from "../../src/services/queue/queue-policy";
import type { QueuePolicyValues, QueueStore } from "../../src/services/queue/queue-store";
import { toTicket } from "../../src/services/queue/queue-ticket";
import { newQueueToken } from "../../src/services/queue/queue-token";
import { QueueWatchers } from "../../src/services/queue/queue-watchers";
import { redisCpuSeconds } from "./stats";

const IDLE_SECONDS = 3_600;
const TICK_MS = 250;
const REFRESH_MS = 500;
const BATCH = 2_000;

export interface RoomResult {
  store: "memory" | "redis";
  waiting: number;
  admitPerSecond: number;
  fillSeconds: number;
  windowSeconds: number;
  /** This process's CPU per wall second of the window, ms (the goal: ≤ 50 ms at 100,000). */
  cpuMsPerSecond: number;
  /** The same, per 1,000 waiting users. */
  cpuMsPerSecondPer1000Waiting: number;
  redisCpuMsPerSecond: number | null;
  pushesPerSecond: number;
  readsPerSecond: number | null;
  admittedPerSecond: number;
  heapBytesPerSubscriber: number;
  /** The event loop's longest stall in the window (ms): what a request would have waited behind this work. */
  maxLoopStallMs: number;
}

export async function measureRoom(o: {
  store: "memory" | "redis";
  redis?: Redis;
  /** The queue service reads each concert's facts (seats left, the opening) from here. */
  pool: Pool;
  waiting: number;
  admitPerSecond: number;
  warmupMs: number;
  windowMs: number;
}): Promise<RoomResult> {
  const store: QueueStore = o.store === "redis" ? new RedisQueueStore(o.redis!) : new MemoryQueueStore();
  const bus = createMemoryEventBus();
  const concertId = randomUUID();
  // The admission step skips concerts its database does not have (another deployment's).
  await o.pool.query(`INSERT INTO concerts (id, title) VALUES ($1, 'Waiting room bench')`, [concertId]);
  const policy: QueuePolicyValues = { maxActiveUsers: 0, admitPerSecond: o.admitPerSecond, activeSessionSeconds: 3_600 };
  const policies = { get: async () => ({ ...policy }) } as unknown as QueuePolicies;
  const queue = new QueueService({
    store,
    policies,
    pool: o.pool,
    bus,
    limiter: undefined as never,
    idleSeconds: IDLE_SECONDS,
    enterPerSecond: 1_000_000,
  });
  const watchers = new QueueWatchers(queue, bus, createLogger("silent"), { idleSeconds: IDLE_SECONDS });
  let pushes = 0;
  const listener = () => {
    pushes++;
  };

  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (let i = 0; i < o.waiting; i += BATCH) {
    const n = Math.min(BATCH, o.waiting - i);
    const results = await Promise.all(
      Array.from({ length: n }, () => store.enter(concertId, randomUUID(), newQueueToken(concertId), policy, IDLE_SECONDS)),
    );
    for (const r of results) {
      if (r.soldOut) throw new Error("sold out");
      watchers.watch(concertId, r.state.token, toTicket(r.state), listener);
    }
  }
  const fillSeconds = (performance.now() - t0) / 1000;
  global.gc?.();
  const heapBytesPerSubscriber = Math.round((process.memoryUsage().heapUsed - heap0) / o.waiting);

  // The line moves: admission steps and refresh rounds on the server's own periods.
  policy.maxActiveUsers = 100_000_000;
  let admitted = 0;
  const ticks = setInterval(() => void queue.tick(concertId).then((r) => (admitted += r?.admitted ?? 0)), TICK_MS);
  let refreshing = false;
  const rounds = setInterval(() => {
    if (refreshing) return;
    refreshing = true;
    void watchers.refresh().finally(() => (refreshing = false));
  }, REFRESH_MS);
  let maxStall = 0;
  let last = performance.now();
  const probe = setInterval(() => {
    const now = performance.now();
    maxStall = Math.max(maxStall, now - last - 10);
    last = now;
  }, 10);
  try {
    await sleep(o.warmupMs);
    maxStall = 0;
    const stats = (watchers as { stats?: { reads: number } }).stats;
    const reads0 = stats?.reads ?? 0;
    const pushes0 = pushes;
    const admitted0 = admitted;
    const cpu0 = process.cpuUsage();
    const redis0 = o.store === "redis" ? await redisCpuSeconds(o.redis!) : 0;
    const w0 = performance.now();
    await sleep(o.windowMs);
    const wall = (performance.now() - w0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const redisCpu = o.store === "redis" ? (await redisCpuSeconds(o.redis!)) - redis0 : null;
    const cpuMsPerSecond = (cpu.user + cpu.system) / 1000 / wall;
    return {
      store: o.store,
      waiting: o.waiting,
      admitPerSecond: o.admitPerSecond,
      fillSeconds: round1(fillSeconds),
      windowSeconds: round1(wall),
      cpuMsPerSecond: round1(cpuMsPerSecond),
      cpuMsPerSecondPer1000Waiting: Math.round((cpuMsPerSecond / (o.waiting / 1000)) * 1000) / 1000,
      redisCpuMsPerSecond: redisCpu === null ? null : round1((redisCpu * 1000) / wall),
      pushesPerSecond: Math.round((pushes - pushes0) / wall),
      readsPerSecond: stats ? Math.round((stats.reads - reads0) / wall) : null,
      admittedPerSecond: round1((admitted - admitted0) / wall),
      heapBytesPerSubscriber,
      maxLoopStallMs: Math.round(maxStall),
    };
  } finally {
    clearInterval(ticks);
    clearInterval(rounds);
    clearInterval(probe);
    watchers.close();
    if (o.store === "redis") await dropConcert(o.redis!, concertId);
  }
}

/** The concert's keys (its token hashes by SCAN, in batches). */
async function dropConcert(redis: Redis, concertId: string): Promise<void> {
  const stream = redis.scanStream({ match: `q:{${concertId}}:*`, count: 10_000 });
  for await (const keys of stream as AsyncIterable<string[]>) if (keys.length) await redis.unlink(...keys);
  await redis.zrem("q:concerts", concertId);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round1 = (x: number) => Math.round(x * 10) / 10;
