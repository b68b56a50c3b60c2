// Phase 3: the queue store alone, on Redis, with 100,000 waiting users in one
// concert: Redis memory per waiting user, the time of one admission step
// (RedisQueueStore.tick) and of a status read of the last token in line.
import { randomUUID } from "node:crypto";
import type Redis from "ioredis";
import { RedisQueueStore } from "../../src/services/queue/redis-queue-store";
import { newQueueToken } from "../../src/services/queue/queue-token";
import { summarize, type Summary } from "./stats";

const BATCH = 1_000;
const IDLE_SECONDS = 3_600;

export interface RedisLineResult {
  waiting: number;
  enterPerSecond: number;
  usedMemoryBefore: number;
  usedMemoryAfter: number;
  bytesPerWaitingUser: number;
  /** Cross-check: MEMORY USAGE of the concert's sets plus a sample of token hashes, per user. */
  keyBytesPerWaitingUser: number;
  readLastMs: Summary;
  tickMs: Summary & { admittedPerTick: number; waitingAfter: number };
  idleTickMs: Summary;
}

export async function measureRedisLine(redis: Redis, users: number, ticks: number): Promise<RedisLineResult> {
  const store = new RedisQueueStore(redis);
  const concertId = randomUUID();
  const p = `q:{${concertId}}:`;
  const waitingPolicy = { maxActiveUsers: 1, admitPerSecond: 1_000, activeSessionSeconds: 600 };
  // One enter first, so the line's keys and the registry entry exist before the "before" reading.
  await store.enter(concertId, randomUUID(), newQueueToken(concertId), waitingPolicy, IDLE_SECONDS);
  const before = await usedMemory(redis);
  const tokens: string[] = [];
  const t0 = performance.now();
  for (let i = 0; i < users; i += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, users - i) }, () => newQueueToken(concertId));
    // Issued together: ioredis pipelines them into one write.
    await Promise.all(batch.map((token) => store.enter(concertId, randomUUID(), token, waitingPolicy, IDLE_SECONDS)));
    tokens.push(...batch);
  }
  const enterSeconds = (performance.now() - t0) / 1000;
  const after = await usedMemory(redis);
  const counts = await store.counts(concertId);
  if (counts.waiting !== users) throw new Error(`expected ${users} waiting, found ${counts.waiting}`);

  // Cross-check by key: the concert's sets plus a sample of token hashes scaled up.
  let keyBytes = 0;
  for (const k of ["waiting", "seen", "users"]) keyBytes += Number(await redis.call("MEMORY", "USAGE", p + k, "SAMPLES", "0"));
  const sample = tokens.filter((_, i) => i % 100 === 0);
  const sampleBytes = await Promise.all(sample.map((t) => redis.call("MEMORY", "USAGE", `${p}t:${t}`) as Promise<number>));
  keyBytes += (sampleBytes.reduce((a, b) => a + Number(b), 0) / sample.length) * users;

  // A queueStatus-style read (touching it) of the last token in line.
  const last = tokens[tokens.length - 1];
  const reads: number[] = [];
  await store.read(concertId, last, IDLE_SECONDS, true); // loads the script into Redis: not timed
  for (let i = 0; i < 200; i++) {
    const r0 = performance.now();
    const state = await store.read(concertId, last, IDLE_SECONDS, true);
    reads.push(performance.now() - r0);
    if (state?.position !== users) throw new Error(`last token at place ${state?.position}, expected ${users}`);
  }

  // Admission steps. Every admission in one step shares one timestamp, so after
  // a step admits admitPerSecond the one-second window lets no one in until a
  // second has passed; the window (admlog) is cleared between steps, outside the
  // timing, so each of the steps admits a full admitPerSecond batch.
  const admitPolicy = { maxActiveUsers: 10_000_000, admitPerSecond: 1_000, activeSessionSeconds: 600 };
  const tickTimes: number[] = [];
  let admitted = 0;
  let waitingAfter = users;
  await store.tick(concertId, admitPolicy, IDLE_SECONDS); // loads the script into Redis: not timed
  for (let i = 0; i < ticks; i++) {
    await redis.del(`${p}admlog`);
    const r0 = performance.now();
    const result = await store.tick(concertId, admitPolicy, IDLE_SECONDS);
    tickTimes.push(performance.now() - r0);
    admitted += result.admitted.length;
    waitingAfter = result.waiting;
  }
  // And steps with nothing to admit (the window is full): the common case between admissions.
  const idleTimes: number[] = [];
  for (let i = 0; i < ticks; i++) {
    const r0 = performance.now();
    await store.tick(concertId, admitPolicy, IDLE_SECONDS);
    idleTimes.push(performance.now() - r0);
  }

  await deleteConcertKeys(redis, [concertId]);
  return {
    waiting: users,
    enterPerSecond: Math.round(users / enterSeconds),
    usedMemoryBefore: before,
    usedMemoryAfter: after,
    bytesPerWaitingUser: Math.round((after - before) / users),
    keyBytesPerWaitingUser: Math.round(keyBytes / users),
    readLastMs: summarize(reads),
    tickMs: { ...summarize(tickTimes), admittedPerTick: Math.round(admitted / ticks), waitingAfter },
    idleTickMs: summarize(idleTimes),
  };
}

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

/** Removes every queue key of these concerts (and their registry entries). */
export async function deleteConcertKeys(redis: Redis, concertIds: string[]): Promise<number> {
  const ours = new Set(concertIds);
  let cursor = "0";
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", "q:{*", "COUNT", 10_000);
    cursor = next;
    const mine = keys.filter((k) => ours.has(k.slice(3, k.indexOf("}"))));
    if (mine.length > 0) deleted += await redis.unlink(...mine);
  } while (cursor !== "0");
  if (concertIds.length > 0) await redis.zrem("q:concerts", ...concertIds);
  return deleted;
}
