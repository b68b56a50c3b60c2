// The pre-queue and the opening draw in both queue stores (rules 5, 16, 17, 25):
// the in-process one always, the Redis one whenever REDIS_URL is set.
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import Redis from "ioredis";
import { MemoryQueueStore } from "../../src/services/queue/memory-queue-store";
import { RedisQueueStore } from "../../src/services/queue/redis-queue-store";
import type { QueuePolicyValues, QueueStore, TokenState } from "../../src/services/queue/queue-store";
import { newQueueToken } from "../../src/services/queue/queue-token";
import { commitmentOf, drawKey, drawOrder, newSeed } from "../../src/services/opening-draw";

const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : undefined;
afterAll(() => redis?.disconnect());

const stores: [string, () => QueueStore][] = [["in-process", () => new MemoryQueueStore()]];
if (redis) stores.push(["Redis", () => new RedisQueueStore(redis)]);

const policy: QueuePolicyValues = { maxActiveUsers: 2, admitPerSecond: 1000, activeSessionSeconds: 600 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(stores)("pre-queue (%s)", (_name, makeStore) => {
  const store = makeStore();

  async function preQueue(users: string[], opensAt: number, idle = 120) {
    const concertId = randomUUID();
    const seed = newSeed();
    const states: TokenState[] = [];
    for (const u of users) {
      const r = await store.enter(concertId, u, newQueueToken(concertId), policy, idle, { opensAt, drawKey: drawKey(seed, u) });
      if (r.soldOut) throw new Error("sold out");
      states.push(r.state);
    }
    return { concertId, seed, states };
  }

  it("admits nobody before the draw, then the drawn order first and later entries behind", async () => {
    const users = Array.from({ length: 6 }, () => randomUUID());
    const opensAt = Date.now() + 1_500;
    const { concertId, seed, states } = await preQueue(users, opensAt);
    expect(states.map((s) => [s.status, s.position])).toEqual(Array(6).fill(["WAITING", 0]));
    expect(await store.draw(concertId, commitmentOf(seed), opensAt)).toBeNull(); // too early
    const tick = await store.tick(concertId, policy, 120, { opensAt });
    expect(tick.admitted).toEqual([]);
    expect(await store.stats(concertId)).toMatchObject({ waiting: 6, active: 0, preQueue: 6 });
    await sleep(Math.max(0, opensAt - Date.now()) + 50);
    // An entry after the opening but before the draw lines up behind the pre-queue, and nobody is admitted yet.
    const late = await store.enter(concertId, "late", newQueueToken(concertId), policy, 120, { opensAt, drawKey: drawKey(seed, "late") });
    expect(late.soldOut || late.state.position).toBe(7);
    expect(late.soldOut || late.admitted).toEqual([]);
    expect(await store.draw(concertId, commitmentOf(seed), opensAt)).toEqual({ done: true, ordered: 6 });
    expect(await store.draw(concertId, commitmentOf(seed), opensAt)).toEqual({ done: false, ordered: 0 });
    const order = drawOrder(seed, users);
    const read = await store.readMany(
      concertId,
      states.map((s) => s.token),
      120,
    );
    const placeOf = new Map(read.map((s) => [s!.userId, s!.position]));
    expect(order.map((u) => placeOf.get(u))).toEqual([1, 2, 3, 4, 5, 6]);
    const admitted = await store.tick(concertId, policy, 120, { opensAt });
    expect(admitted.admitted.map((s) => s.userId)).toEqual(order.slice(0, 2));
    const after = await store.read(concertId, late.soldOut ? "" : late.state.token, 120, false);
    expect(after?.position).toBe(5);
    expect(await store.stats(concertId)).toMatchObject({ waiting: 5, active: 2, preQueue: 0, admittedLastMinute: 2 });
  });

  it("drops a pre-queue token nobody saw (rule 5), and a pause admits nobody", async () => {
    const opensAt = Date.now() + 1_000;
    const { concertId, seed, states } = await preQueue(["a", "b"], opensAt, 1);
    await sleep(1_300);
    await store.read(concertId, states[1].token, 1, true); // b is seen, a is not
    await sleep(400);
    const tick = await store.tick(concertId, { ...policy, admissionOpen: false }, 1, { opensAt });
    expect(tick.expired.map((s) => [s.userId, s.expiredReason])).toEqual([["a", "ABANDONED"]]);
    await store.draw(concertId, commitmentOf(seed), opensAt);
    expect((await store.tick(concertId, { ...policy, admissionOpen: false }, 120, { opensAt })).admitted).toEqual([]);
    expect((await store.tick(concertId, policy, 120, { opensAt })).admitted.map((s) => s.userId)).toEqual(["b"]);
  });
});
