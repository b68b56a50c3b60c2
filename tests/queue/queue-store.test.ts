// One suite for both queue stores: the in-process one always, the Redis one
// whenever REDIS_URL is set. Each test uses a fresh concert ID, so tests never
// share a line. The tests of simultaneous calls prove atomicity only on Redis:
// the in-process store's steps have no await inside, so each runs to completion
// on the event loop and "simultaneous" calls there cannot interleave at all.
import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import Redis from "ioredis";
import { MemoryQueueStore } from "../../src/services/queue/memory-queue-store";
import { RedisQueueStore } from "../../src/services/queue/redis-queue-store";
import type { QueuePolicyValues, QueueStore, TokenState } from "../../src/services/queue/queue-store";
import { newQueueToken } from "../../src/services/queue/queue-token";
import { notRun } from "../support/stores";
import { isolatedRedisUrl } from "../support/server";

// A key prefix of this file's own: the tickers of test servers running meanwhile on the
// same Redis must not tick these lines (they read every registered concert).
const redis = process.env.REDIS_URL ? new Redis(isolatedRedisUrl(process.env.REDIS_URL)) : undefined;
afterAll(() => redis?.disconnect());

const stores: [string, () => QueueStore][] = [["in-process", () => new MemoryQueueStore()]];
if (redis) stores.push(["Redis", () => new RedisQueueStore(redis)]);
else notRun("queue store (Redis)", "REDIS_URL is not set");

/** What a test of simultaneous calls proves on this store. */
const interleaving = (name: string) =>
  name === "Redis" ? "interleaved over the network" : "sequential: in-process steps cannot interleave, the Redis variant is the proof";

const policy = (p: Partial<QueuePolicyValues> = {}): QueuePolicyValues => ({
  maxActiveUsers: 2,
  admitPerSecond: 1000,
  activeSessionSeconds: 600,
  ...p,
});
const IDLE = 120;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(stores)("queue store (%s)", (name, makeStore) => {
  const store = makeStore();

  async function enter(concertId: string, userId: string, p = policy()): Promise<TokenState> {
    const r = await store.enter(concertId, userId, newQueueToken(concertId), p, IDLE);
    if (r.soldOut) throw new Error("sold out");
    return r.state;
  }

  async function line(concertId: string, users: number, p = policy()) {
    const states: TokenState[] = [];
    for (let i = 0; i < users; i++) states.push(await enter(concertId, `user-${i}`, p));
    return states;
  }

  const positions = async (concertId: string, states: TokenState[]) =>
    (
      await store.readMany(
        concertId,
        states.map((s) => s.token),
        IDLE,
      )
    ).map((s) => (s!.status === "WAITING" ? s!.position : s!.status));

  it("admits at once while there is room and lines up the rest in the order they entered", async () => {
    const c = randomUUID();
    const states = await line(c, 5);
    expect(states.map((s) => s.status)).toEqual(["ACTIVE", "ACTIVE", "WAITING", "WAITING", "WAITING"]);
    expect(await positions(c, states)).toEqual(["ACTIVE", "ACTIVE", 1, 2, 3]);
  });

  it(`gives one token to a hundred simultaneous entries of one user (${interleaving(name)})`, async () => {
    // In-process, each enter runs to completion before the next starts: this checks the answers,
    // and only the Redis variant, where the hundred scripts really race, proves the one-token rule.
    const c = randomUUID();
    const results = await Promise.all(Array.from({ length: 100 }, () => store.enter(c, "same-user", newQueueToken(c), policy(), IDLE)));
    const tokens = new Set(results.map((r) => (r.soldOut ? "sold out" : r.state.token)));
    expect(tokens.size).toBe(1);
    expect(results.filter((r) => !r.soldOut && r.created)).toHaveLength(1);
  });

  it("keeps positions exact after leaves, admissions and session ends", async () => {
    const c = randomUUID();
    const states = await line(c, 6);
    await store.expire(c, states[3].token, "LEFT", IDLE); // second in line leaves
    expect(await positions(c, states)).toEqual(["ACTIVE", "ACTIVE", 1, "EXPIRED", 2, 3]);
    await store.expire(c, states[0].token, "PAID", IDLE); // a place comes free
    await store.tick(c, policy(), IDLE);
    expect(await positions(c, states)).toEqual(["EXPIRED", "ACTIVE", "ACTIVE", "EXPIRED", 1, 2]);
    const left = await store.read(c, states[3].token, IDLE, false);
    expect(left).toMatchObject({ status: "EXPIRED", expiredReason: "LEFT", position: 0 });
  });

  it(`never has more ACTIVE than maxActiveUsers while many admission steps run at once (${interleaving(name)})`, async () => {
    // As above: in-process the twenty ticks run one after another; the Redis variant is the proof.
    const c = randomUUID();
    const p = policy({ maxActiveUsers: 7 });
    await Promise.all(Array.from({ length: 40 }, (_, i) => enter(c, `u${i}`, policy({ maxActiveUsers: 0 }))));
    await Promise.all(Array.from({ length: 20 }, () => store.tick(c, p, IDLE)));
    expect(await store.counts(c)).toEqual({ waiting: 33, active: 7 });
  });

  it("follows the policy an admin set over the policy a step is passed (another instance's copy may be old)", async () => {
    // What the CI run of 2026-12-01 caught on two instances: a pause (or a lower
    // maxActiveUsers) set through one instance, and the other, whose cached copy
    // was not dropped yet, admitting on the old policy.
    const c = randomUUID();
    const old = policy({ maxActiveUsers: 1000 });
    await store.setPolicy(c, policy({ maxActiveUsers: 1000, admissionOpen: false }));
    const paused = await Promise.all(Array.from({ length: 3 }, (_, i) => enter(c, `u${i}`, old)));
    expect(paused.map((s) => s.status)).toEqual(["WAITING", "WAITING", "WAITING"]);
    expect((await store.tick(c, old, IDLE)).admitted).toEqual([]);

    await store.setPolicy(c, policy({ maxActiveUsers: 1, admitPerSecond: 1000, activeSessionSeconds: 60 }));
    const admitted = (await store.tick(c, old, IDLE)).admitted;
    expect(admitted.map((s) => s.token)).toEqual([paused[0].token]);
    // The session is the set policy's too: 60 s, not the 600 s passed.
    expect(admitted[0].expiresAt - admitted[0].now).toBeLessThanOrEqual(60_000);
    expect(await store.counts(c)).toEqual({ waiting: 2, active: 1 });
  });

  it("admits no more than admitPerSecond in any second", async () => {
    const c = randomUUID();
    const p = policy({ maxActiveUsers: 1000, admitPerSecond: 4 });
    const states = await Promise.all(Array.from({ length: 30 }, (_, i) => enter(c, `u${i}`, policy({ maxActiveUsers: 0 }))));
    // Each admission at its step's time on the store's clock (Redis's, for the Redis store):
    // the time this process got the answer would count a late answer's admissions in the
    // next second (a loaded CI machine saw 8 in one client-side second).
    const admittedAt: number[] = [];
    const started = Date.now();
    while (Date.now() - started < 2_600) {
      const r = await store.tick(c, p, IDLE);
      for (const s of r.admitted) admittedAt.push(s.now);
      await sleep(50);
    }
    expect(admittedAt.length).toBeGreaterThanOrEqual(8);
    expect(admittedAt.every((t) => Number.isFinite(t) && Math.abs(t - started) < 10_000)).toBe(true);
    for (const t of admittedAt) expect(admittedAt.filter((u) => u >= t && u < t + 1000).length).toBeLessThanOrEqual(4);
    // Admitted in the order they entered.
    const active = (
      await store.readMany(
        c,
        states.map((s) => s.token),
        IDLE,
      )
    ).map((s) => s!.status === "ACTIVE");
    expect(active.indexOf(false)).toBe(admittedAt.length);
  });

  it("ends a session when its time is up, and not before a hold it has ends", async () => {
    const c = randomUUID();
    const p = policy({ activeSessionSeconds: 1 });
    const [a, b] = [await enter(c, "a", p), await enter(c, "b", p)];
    await store.setHold(c, b.token, Date.now() + 3_000);
    await sleep(1_300);
    await store.tick(c, p, IDLE);
    expect(await store.read(c, a.token, IDLE, false)).toMatchObject({ status: "EXPIRED", expiredReason: "SESSION_TIMEOUT" });
    const held = await store.read(c, b.token, IDLE, false);
    expect(held?.status).toBe("ACTIVE");
    expect(held!.expiresAt - held!.now).toBeGreaterThan(1_000);
    await store.setHold(c, b.token, null); // cancelled: back to its own time, long past
    await store.tick(c, p, IDLE);
    expect(await store.read(c, b.token, IDLE, false)).toMatchObject({ status: "EXPIRED", expiredReason: "SESSION_TIMEOUT" });
  });

  it("drops a WAITING token nobody asked about, and keeps one that is seen", async () => {
    const c = randomUUID();
    const p = policy({ maxActiveUsers: 0 });
    const quiet = await store.enter(c, "quiet", newQueueToken(c), p, 1);
    const watched = await store.enter(c, "watched", newQueueToken(c), p, 1);
    const last = await store.enter(c, "last", newQueueToken(c), p, 1);
    if (quiet.soldOut || watched.soldOut || last.soldOut) throw new Error("sold out");
    for (let i = 0; i < 4; i++) {
      await sleep(350);
      await store.readMany(c, [watched.state.token, last.state.token], 1);
      await store.tick(c, p, 1);
    }
    expect(await store.read(c, quiet.state.token, 1, false)).toMatchObject({ status: "EXPIRED", expiredReason: "ABANDONED" });
    expect(await store.read(c, watched.state.token, 1, false)).toMatchObject({ status: "WAITING", position: 1 });
    expect(await store.read(c, last.state.token, 1, false)).toMatchObject({ status: "WAITING", position: 2 });
  });

  it("ends every token SOLD_OUT at once, refuses entry until reopened, keeps a PAID ending", async () => {
    const c = randomUUID();
    const states = await line(c, 5);
    await store.expire(c, states[0].token, "PAID", IDLE);
    await store.soldOut(c);
    const after = await store.readMany(
      c,
      states.map((s) => s.token),
      IDLE,
    );
    expect(after.map((s) => s!.expiredReason)).toEqual(["PAID", "SOLD_OUT", "SOLD_OUT", "SOLD_OUT", "SOLD_OUT"]);
    expect((await store.enter(c, "late", newQueueToken(c), policy(), IDLE)).soldOut).toBe(true);
    expect(await store.counts(c)).toEqual({ waiting: 0, active: 0 });
    await store.reopen(c);
    const again = await enter(c, "user-1");
    expect(again.token).not.toBe(states[1].token);
    expect(again.status).toBe("ACTIVE");
  });

  it("issues a new token at the back of the line once the old one expired", async () => {
    const c = randomUUID();
    const states = await line(c, 4);
    await store.expire(c, states[2].token, "LEFT", IDLE);
    const again = await enter(c, "user-2");
    expect(again.token).not.toBe(states[2].token);
    expect(again).toMatchObject({ status: "WAITING", position: 2 });
  });

  it("estimates the wait from the admission rate it observed, and has none before", async () => {
    const c = randomUUID();
    const p = policy({ maxActiveUsers: 1000, admitPerSecond: 5 });
    const first = await enter(c, "first", policy({ maxActiveUsers: 0 }));
    await store.tick(c, policy({ maxActiveUsers: 0 }), IDLE);
    expect((await store.read(c, first.token, IDLE, false))?.admissionRate).toBeNull();
    await Promise.all(Array.from({ length: 30 }, (_, i) => enter(c, `u${i}`, policy({ maxActiveUsers: 0 }))));
    const started = Date.now();
    while (Date.now() - started < 2_300) {
      await store.tick(c, p, IDLE);
      await sleep(100);
    }
    const rate = (await store.read(c, first.token, IDLE, false))!.admissionRate!;
    expect(rate).toBeGreaterThan(0.3);
    // A 2-second sample can count the admissions at both ends of a second.
    expect(rate).toBeLessThanOrEqual(5 * 1.5);
  });
});
