// The event bus behind subscriptions: with Redis, an event one instance publishes
// reaches listeners on every instance; without it, listeners in the same process.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { assertRedisAnswers, redisUrl } from "../support/redis";
import { notRun } from "../support/stores";
import type { EventBus } from "../../src/pubsub/event-bus";

/** Listens on `channel` and resolves with the first `count` payloads. */
async function collect(bus: EventBus, channel: string, count = 1, timeoutMs = 5_000) {
  const got: unknown[] = [];
  let done!: () => void;
  const enough = new Promise<void>((resolve) => (done = resolve));
  const stop = await bus.listen(channel, (payload) => {
    got.push(payload);
    if (got.length >= count) done();
  });
  return {
    got,
    async wait() {
      const timer = setTimeout(done, timeoutMs);
      await enough;
      clearTimeout(timer);
      stop();
      return got;
    },
  };
}

if (!redisUrl) notRun("with Redis, across two instances", "REDIS_URL is not set");
describe.runIf(redisUrl)("with Redis, across two instances", () => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  beforeAll(async () => {
    await assertRedisAnswers();
    deployment = await startDeployment({ instances: 2, redis: true });
  });
  afterAll(() => deployment?.close());

  it("delivers an event published on instance A to a listener on instance B, and to A's own", async () => {
    const [a, b] = deployment.servers;
    const channel = `test.${randomUUID()}`;
    const onB = await collect(b.app.bus, channel);
    const onA = await collect(a.app.bus, channel);
    const payload = { seatId: randomUUID(), status: "HELD", at: new Date().toISOString() };
    await a.app.bus.publish(channel, payload);
    expect(await onB.wait()).toEqual([payload]);
    expect(await onA.wait()).toEqual([payload]);
  });

  it("delivers a channel's events only to that channel's listeners, in order", async () => {
    const [a, b] = deployment.servers;
    const [mine, other] = [`test.${randomUUID()}`, `test.${randomUUID()}`];
    const onB = await collect(b.app.bus, mine, 3);
    const elsewhere = await collect(b.app.bus, other, 1, 300);
    for (const n of [1, 2, 3]) await a.app.bus.publish(mine, { n });
    expect(await onB.wait()).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(await elsewhere.wait()).toEqual([]);
  });
});

describe("without Redis", () => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  beforeAll(async () => {
    deployment = await startDeployment();
  });
  afterAll(() => deployment.close());

  it("delivers an event to listeners in the same instance", async () => {
    const { bus } = deployment.server.app;
    const channel = `test.${randomUUID()}`;
    const listener = await collect(bus, channel);
    await bus.publish(channel, { hello: "there" });
    expect(await listener.wait()).toEqual([{ hello: "there" }]);
  });
});
