// seatStatusChanged: gated by the queue token at the start, delivers every seat
// change of the date made by any instance (hold, cancel, sale, expiry), and
// completes when the subscriber's token ends.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queueStores } from "../support/stores";
import { startDeployment } from "../support/server";
import { gql, subscribe, wsClient, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { CANCEL, OPEN_QUEUE, PAY, RESERVE, newShopper, type Shopper } from "../support/booking";

const WATCH = `subscription($d:ID!){ seatStatusChanged(concertDateId:$d){ id concertDateId number price status } }`;

describe.each(queueStores("seat-updates"))("seat updates ($name)", ({ instances, redis }) => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  let admin: TestUser;
  const server = (i: number) => deployment.servers[i % deployment.servers.length];
  const clients: { dispose(): void | Promise<void> }[] = [];

  beforeAll(async () => {
    deployment = await startDeployment({ instances, redis, settings: { ...OPEN_QUEUE, HOLD_SECONDS: "2" } });
    admin = await newAdmin(deployment.server);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await deployment?.close();
  });
  const where = instances > 1 ? "on another instance" : "on the same instance";

  function watch(user: Shopper | TestUser, dateId: string, queueToken?: string, instance = 1) {
    const client = wsClient(server(instance).wsUrl, { authorization: `Bearer ${user.token}`, ...(queueToken ? { queueToken } : {}) });
    clients.push(client);
    return subscribe(client, WATCH, { d: dateId });
  }

  /**
   * A seatStatusChanged subscription that is listening: its seat listener is in
   * place before its gate is checked, and the gate passed once it watches its
   * token (the instance's queue watchers count it).
   */
  async function listening(user: Shopper, dateId: string, instance: number) {
    const watchers = server(instance).app.services.queueUpdates;
    const before = watchers.count;
    const sub = watch(user, dateId, user.queueToken, instance);
    await expect.poll(() => watchers.count, { timeout: 10_000, interval: 20 }).toBe(before + 1);
    return sub;
  }

  /** The subscription completed (not failed) with no error event, and the token's status says why. */
  async function completedBecause(sub: ReturnType<typeof watch>, user: Shopper, expiredReason: string) {
    await sub.ended(5_000);
    expect(sub.failure).toBeUndefined();
    expect(sub.events.filter((e) => e.errors)).toEqual([]);
    const status = await gql(
      server(0).url,
      `query($t:String!){ queueStatus(token:$t){ status expiredReason } }`,
      { t: user.queueToken },
      user.headers,
    );
    expect(status.data.queueStatus).toEqual({ status: "EXPIRED", expiredReason });
  }

  /** The next `n` events as "number:status". */
  async function changes(sub: ReturnType<typeof watch>, n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const e = await sub.next();
      expect(e.errors).toBeUndefined();
      out.push(`${e.data.seatStatusChanged.number}:${e.data.seatStatusChanged.status}`);
    }
    return out.sort();
  }

  describe("seatStatusChanged", () => {
    it(`pushes holds, cancels, sales and expiries made ${where}, then completes when the token ends`, async () => {
      const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 10, price: 700 }] });
      const date = concert.dates[0].id;
      const watcher = await newShopper(server(1).url, concert.id, 10_000);
      const buyer = await newShopper(server(0).url, concert.id, 10_000);
      const sub = await listening(watcher, date, 1);

      const held = (await gql(server(0).url, RESERVE, { d: date, n: [4, 5] }, buyer.q)).data.reserveSeats;
      expect(await changes(sub, 2)).toEqual(["4:HELD", "5:HELD"]);
      const first = sub.events[0].data.seatStatusChanged;
      expect(first).toMatchObject({ concertDateId: date, price: 700 });
      await gql(server(0).url, CANCEL, { r: held.id }, buyer.headers);
      expect(await changes(sub, 2)).toEqual(["4:AVAILABLE", "5:AVAILABLE"]);

      const sold = (await gql(server(0).url, RESERVE, { d: date, n: [1] }, buyer.q)).data.reserveSeats;
      expect(await changes(sub, 1)).toEqual(["1:HELD"]);
      await gql(server(0).url, PAY, { r: sold.id }, buyer.q);
      expect(await changes(sub, 1)).toEqual(["1:SOLD"]);

      // The watcher's own hold runs out (HOLD_SECONDS=2): seats freed, then its token ends HOLD_TIMEOUT.
      await gql(server(1).url, RESERVE, { d: date, n: [9] }, watcher.q);
      expect(await changes(sub, 1)).toEqual(["9:HELD"]);
      expect(await changes(sub, 1)).toEqual(["9:AVAILABLE"]);
      await completedBecause(sub, watcher, "HOLD_TIMEOUT");
    });

    it("checks the queue token when it starts", async () => {
      const concert = await newConcert(deployment.server, admin);
      const date = concert.dates[0].id;
      const user = await newShopper(server(0).url, concert.id);
      const codeOfFirst = async (sub: ReturnType<typeof watch>) => {
        const e = await sub.next().catch(() => undefined);
        if (e) return e.errors?.[0]?.extensions?.code;
        return (sub.failure as { extensions?: { code?: string } }[] | undefined)?.[0]?.extensions?.code;
      };
      expect(await codeOfFirst(watch(user, date))).toBe("QUEUE_TOKEN_REQUIRED");
      expect(await codeOfFirst(watch(user, date, "qt_nonsense"))).toBe("QUEUE_TOKEN_INVALID");
      expect(await codeOfFirst(watch(user, "00000000-0000-4000-8000-000000000000", user.queueToken))).toBe("NOT_FOUND");
    });

    it("completes when the token ends by leaving the queue", async () => {
      const concert = await newConcert(deployment.server, admin);
      const user = await newShopper(server(0).url, concert.id);
      const sub = await listening(user, concert.dates[0].id, 0);
      await gql(server(1).url, `mutation($t:String!){ leaveQueue(token:$t){ status } }`, { t: user.queueToken }, user.headers);
      await completedBecause(sub, user, "LEFT");
      expect(sub.events).toEqual([]);
    });
  });
});
