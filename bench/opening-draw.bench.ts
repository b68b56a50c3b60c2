// The opening draw (contract rule 17) for a pre-queue of 100,000 tokens:
//  - the draw keys, HMAC-SHA256(seed, userId), computed in Node at entry (one per
//    enterQueue, so at the opening nothing is left to hash);
//  - the draw itself: the Redis script that hands the pre-queue's entry numbers
//    out again in key order (one atomic step), and the in-process store's;
//  - a check that the line's order afterwards is the order anyone recomputes.
// Runs against its own Redis (BENCH_REDIS_URL, default redis://127.0.0.1:7300):
// the draw blocks Redis while it runs, so not on a shared one.
//   npm run bench:draw [-- --tokens=100000 --runs=3]
import { randomUUID } from "node:crypto";
import Redis from "ioredis";
import { RedisQueueStore } from "../src/services/queue/redis-queue-store";
import { MemoryQueueStore } from "../src/services/queue/memory-queue-store";
import type { QueueStore } from "../src/services/queue/queue-store";
import { commitmentOf, drawKey, drawOrder, newSeed } from "../src/services/opening-draw";
import { describeMachine } from "./lib/machine";

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const TOKENS = arg("tokens", 100_000);
const RUNS = arg("runs", 3);
const POLICY = { maxActiveUsers: 100, admitPerSecond: 50, activeSessionSeconds: 600, admissionOpen: true };

async function fill(store: QueueStore, concertId: string, seed: Buffer, users: string[], opensAt: number) {
  const keyed: number[] = [];
  for (let i = 0; i < users.length; i += 2_000) {
    const slice = users.slice(i, i + 2_000);
    const t = performance.now();
    const keys = slice.map((u) => drawKey(seed, u));
    keyed.push(performance.now() - t);
    await Promise.all(slice.map((u, j) => store.enter(concertId, u, `${concertId}.${i + j}`, POLICY, 3_600, { opensAt, drawKey: keys[j] })));
  }
  return keyed.reduce((a, b) => a + b, 0);
}

async function run(name: string, store: QueueStore, lineOf: (concertId: string) => Promise<string[]>) {
  const out = [];
  for (let r = 0; r < RUNS; r++) {
    const concertId = randomUUID();
    const seed = newSeed();
    const users = Array.from({ length: TOKENS }, () => randomUUID());
    const opensAt = Date.now() + 3_600_000;
    const keysMs = await fill(store, concertId, seed, users, opensAt);
    const t = performance.now();
    const result = await store.draw(concertId, commitmentOf(seed), null);
    const drawMs = performance.now() - t;
    const again = await store.draw(concertId, commitmentOf(seed), null);
    const line = await lineOf(concertId);
    const expected = drawOrder(seed, users);
    const byToken = new Map(users.map((u, i) => [`${concertId}.${i}`, u]));
    const ok = line.length === expected.length && line.every((token, i) => byToken.get(token) === expected[i]);
    out.push({
      run: r + 1,
      tokens: TOKENS,
      drawKeysMsTotal: +keysMs.toFixed(1),
      drawKeyUsEach: +((keysMs * 1000) / TOKENS).toFixed(2),
      drawMs: +drawMs.toFixed(1),
      ordered: result?.ordered,
      secondCallDone: again?.done,
      orderMatchesRecomputed: ok,
    });
    console.log(name, JSON.stringify(out.at(-1)));
  }
  return out;
}

async function main() {
  const redis = new Redis(process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:7300", { enableAutoPipelining: true });
  const machine = await describeMachine(redis);
  // Ceilings measured in the same run (the machine is shared: quote ratios to these):
  // one Redis round trip, and a Node sort of 100,000 random 64-hex keys (what any draw that orders in Node pays).
  const rt: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t = performance.now();
    await redis.ping();
    rt.push(performance.now() - t);
  }
  const hex = Array.from({ length: TOKENS }, () => drawKey(newSeed(), randomUUID()));
  const ts = performance.now();
  hex.sort();
  const ceilings = { redisRoundTripMsMedian: +rt.sort((a, b) => a - b)[10].toFixed(2), nodeSortKeysMs: +(performance.now() - ts).toFixed(1) };
  console.log("ceilings", JSON.stringify(ceilings));
  const redisStore = new RedisQueueStore(redis);
  // The line after the draw: the drawn pre-queue ("<key>:<token>", in key order), then the later entries.
  const redisRuns = await run("redis", redisStore, async (c) => [
    ...(await redis.zrange(`q:{${c}}:pqdraw`, 0, -1)).map((m) => m.slice(65)),
    ...(await redis.zrange(`q:{${c}}:waiting`, 0, -1)),
  ]);
  const memory = new MemoryQueueStore();
  const memoryRuns = await run("memory", memory, async (c) => {
    const tokens = Array.from({ length: TOKENS }, (_, i) => `${c}.${i}`);
    const states = await memory.readMany(c, tokens, 3_600);
    return states
      .map((s, i) => [s!.position, tokens[i]] as const)
      .sort((a, b) => a[0] - b[0])
      .map(([, t]) => t);
  });
  console.log(
    JSON.stringify(
      {
        date: new Date().toISOString(),
        command: `npm run bench:draw -- --tokens=${TOKENS} --runs=${RUNS}`,
        machine,
        ceilings,
        redisRuns,
        memoryRuns,
      },
      null,
      2,
    ),
  );
  redis.disconnect();
}

void main();
