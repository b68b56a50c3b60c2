// Rule 12's push cadence, both queue stores (Redis whenever REDIS_URL is set):
// a subscriber near the front hears each change within about a second, one
// far back within 15 s (and is not read every second), an admission is pushed
// at once whatever the cadence, and a change of estimate alone is pushed too.
// The admission steps and refresh rounds are driven here on the ticker's own
// periods, for this test's concerts only.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import Redis from "ioredis";
import { Pool } from "pg";
import { createMemoryEventBus } from "../../src/pubsub/event-bus";
import { createLogger } from "../../src/observability/logger";
import { MemoryQueueStore } from "../../src/services/queue/memory-queue-store";
import { RedisQueueStore } from "../../src/services/queue/redis-queue-store";
import { QueueService } from "../../src/services/queue/queue.service";
import type { QueuePolicies } from "../../src/services/queue/queue-policy";
import type { QueuePolicyValues, QueueStore } from "../../src/services/queue/queue-store";
import { toTicket } from "../../src/services/queue/queue-ticket";
import { newQueueToken } from "../../src/services/queue/queue-token";
import { QueueWatchers, REFRESH_SLOT_MS } from "../../src/services/queue/queue-watchers";
import type { QueueTicketView } from "../../src/services/queue/queue.types";
import { assertRedisAnswers } from "../support/redis";
import { createTestDatabase, type TestDatabase } from "../support/database";

// A database of its own: servers on the shared Redis run admission steps for every
// concert registered in theirs, which would admit this test's lines on their policy.
const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL, { db: 12 }) : undefined;
// The queue service reads the concert's facts (seats left, the opening) from PostgreSQL:
// these concerts have no date, so it says 0 seats left.
let db: TestDatabase;
let pool: Pool;
beforeAll(async () => {
  db = await createTestDatabase();
  pool = new Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  redis?.disconnect();
  await pool?.end();
  await db?.drop();
});

const stores: [string, () => Promise<QueueStore>][] = [["in-process", async () => new MemoryQueueStore()]];
if (redis)
  stores.push([
    "Redis",
    async () => {
      await assertRedisAnswers();
      return new RedisQueueStore(redis);
    },
  ]);

const IDLE = 120;
const TICK_MS = 250;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Heard {
  at: number;
  ticket: QueueTicketView;
}

describe.each(stores)("queueStatusChanged cadence (%s)", (_name, makeStore) => {
  /** A waiting room with one concert's admission loop and this instance's refresh running. */
  async function room(waiting: number) {
    const store = await makeStore();
    const bus = createMemoryEventBus();
    const concertId = randomUUID();
    // The admission step skips concerts its database does not have (another deployment's).
    await pool.query(`INSERT INTO concerts (id, title) VALUES ($1, 'Cadence')`, [concertId]);
    const policy: QueuePolicyValues = { maxActiveUsers: 0, admitPerSecond: 1, activeSessionSeconds: 600 };
    const policies = { get: async () => ({ ...policy }) } as unknown as QueuePolicies;
    const queue = new QueueService({ store, policies, pool, bus, limiter: undefined as never, idleSeconds: IDLE, enterPerSecond: 1000 });
    const watchers = new QueueWatchers(queue, bus, createLogger("silent"), { idleSeconds: IDLE });
    const tokens: string[] = [];
    for (let i = 0; i < waiting; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(100, waiting - i) }, (_, j) => store.enter(concertId, `user-${i + j}`, newQueueToken(concertId), policy, IDLE)),
      );
      for (const r of batch) {
        if (r.soldOut || r.state.status !== "WAITING") throw new Error("expected a WAITING entry");
      }
      // entries of one batch race each other: order the tokens by their place
      const states = await store.readMany(
        concertId,
        batch.map((r) => (r.soldOut ? "" : r.state.token)),
        IDLE,
      );
      tokens.push(...states.sort((a, b) => a!.position - b!.position).map((s) => s!.token));
    }
    const ticks = setInterval(() => void queue.tick(concertId), TICK_MS);
    const rounds = setInterval(() => void watchers.refresh(), REFRESH_SLOT_MS);
    const listen = async (place: number) => {
      const heard: Heard[] = [];
      const token = tokens[place - 1];
      const state = await queue.read(concertId, token, true);
      expect(state).toMatchObject({ status: "WAITING", position: place });
      const unwatch = watchers.watch(concertId, token, toTicket(state!), (ticket) => heard.push({ at: Date.now(), ticket }));
      return { token, heard, unwatch };
    };
    const stop = () => {
      clearInterval(ticks);
      clearInterval(rounds);
      watchers.close();
    };
    return { policy, queue, watchers, listen, stop, tokens };
  }

  const waitFor = async (what: string, ok: () => boolean, ms: number) => {
    const until = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > until) throw new Error(`not within ${ms} ms: ${what}`);
      await sleep(50);
    }
  };
  const gaps = (heard: Heard[]) => heard.slice(1).map((h, i) => h.at - heard[i].at);

  it("pushes near the front about every second, far back within 15 s (not every second), and admissions at once", async () => {
    const r = await room(600);
    try {
      const near = await r.listen(200);
      const far = await r.listen(595);
      // 4 admissions a second: place 200 is expected within 50 s (near), place 595 in about 150 s (far)
      Object.assign(r.policy, { maxActiveUsers: 1_000_000, admitPerSecond: 4 });
      await waitFor("an estimate for the far subscriber", () => far.heard.some((h) => h.ticket.estimatedWaitSeconds !== null), 15_000);
      const from = far.heard.findIndex((h) => h.ticket.estimatedWaitSeconds !== null);
      const start = far.heard[from].at;
      expect(far.heard[from].ticket.estimatedWaitSeconds).toBeGreaterThan(60);
      await waitFor("two more far pushes", () => far.heard.length >= from + 3, 40_000);

      const farSince = far.heard.slice(from);
      const nearSince = near.heard.filter((h) => h.at >= start && h.at <= farSince[2].at);
      // far back: each change within 15 s, but not every second (the line moves every quarter second)
      expect(Math.max(...gaps(farSince.slice(0, 3)))).toBeLessThanOrEqual(15_500);
      expect(Math.min(...gaps(farSince.slice(0, 3)))).toBeGreaterThan(5_000);
      // near the front: about every second, each with a new place, never more often than about once a second
      expect(nearSince.length).toBeGreaterThanOrEqual(10);
      expect(Math.max(...gaps(nearSince))).toBeLessThanOrEqual(3_000); // 1 s, a 500 ms slot, and a loaded machine's timer lateness
      expect(Math.min(...gaps(nearSince))).toBeGreaterThanOrEqual(700);
      for (const list of [near.heard, far.heard]) {
        const places = list.map((h) => h.ticket.queuePosition);
        for (let i = 1; i < places.length; i++) expect(places[i]).toBeLessThanOrEqual(places[i - 1]);
        expect(list.every((h) => h.ticket.status === "WAITING")).toBe(true);
      }

      // The far subscriber was just pushed: its next read is over ten seconds away. Admit everyone now.
      await waitFor("a far push", () => far.heard.length >= from + 4, 20_000);
      const admittedFrom = Date.now();
      Object.assign(r.policy, { admitPerSecond: 100_000 });
      await waitFor("the far subscriber's admission", () => far.heard.some((h) => h.ticket.status === "ACTIVE"), 10_000);
      const active = far.heard.find((h) => h.ticket.status === "ACTIVE")!;
      expect(active.at - admittedFrom).toBeLessThan(2_000);
      expect(active.ticket).toMatchObject({ queuePosition: 0, estimatedWaitSeconds: 0 });
    } finally {
      r.stop();
    }
  }, 90_000);

  it("pushes to every subscription of one token, and to the others once one of them ends", async () => {
    const r = await room(50);
    try {
      const a = await r.listen(40);
      const b = await r.listen(40);
      const c = await r.listen(40);
      expect(r.watchers.count).toBe(3);
      Object.assign(r.policy, { maxActiveUsers: 1_000_000, admitPerSecond: 4 });
      await waitFor("a push to all three", () => a.heard.length > 0 && b.heard.length > 0 && c.heard.length > 0, 10_000);
      b.unwatch();
      expect(r.watchers.count).toBe(2);
      const heardB = b.heard.length;
      const heardA = a.heard.length;
      await waitFor("the next push to the two left", () => a.heard.length > heardA && c.heard.length > heardA, 10_000);
      expect(b.heard.length).toBe(heardB);
      expect(a.heard.map((h) => h.ticket.queuePosition)).toEqual(c.heard.map((h) => h.ticket.queuePosition).slice(0, a.heard.length));
      a.unwatch();
      c.unwatch();
      expect(r.watchers.count).toBe(0);
    } finally {
      r.stop();
    }
  }, 30_000);

  it("pushes a change of estimate when the line stops moving, with the place unchanged", async () => {
    const r = await room(200);
    try {
      const sub = await r.listen(150);
      Object.assign(r.policy, { maxActiveUsers: 1_000_000, admitPerSecond: 8 });
      await waitFor("an estimate", () => sub.heard.some((h) => h.ticket.estimatedWaitSeconds !== null), 15_000);
      // stop admitting: the observed rate decays every 2 s, and with it the estimate grows
      Object.assign(r.policy, { maxActiveUsers: 0 });
      await sleep(1_500);
      const stoppedAt = Date.now();
      const last = sub.heard[sub.heard.length - 1].ticket;
      await waitFor(
        "a new estimate at the same place",
        () =>
          sub.heard.some(
            (h) => h.at > stoppedAt && h.ticket.queuePosition === last.queuePosition && h.ticket.estimatedWaitSeconds !== last.estimatedWaitSeconds,
          ),
        20_000,
      );
      const changed = sub.heard.find((h) => h.at > stoppedAt && h.ticket.estimatedWaitSeconds !== last.estimatedWaitSeconds)!;
      expect(changed.ticket.estimatedWaitSeconds!).toBeGreaterThan(last.estimatedWaitSeconds!);
    } finally {
      r.stop();
    }
  }, 60_000);
});
