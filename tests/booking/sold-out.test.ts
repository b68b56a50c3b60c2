// The sale of a concert's last seat: the payer's token ends PAID, every other
// token of the concert (WAITING ones too) SOLD_OUT, and enterQueue answers SOLD_OUT.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queueStores } from "../support/stores";
import { startDeployment } from "../support/server";
import { codeOf, gql, signUp, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { OPEN_QUEUE, PAY, RESERVE, STATUS, newShopper } from "../support/booking";

const ENTER = `mutation($c:ID!){ enterQueue(concertId:$c){ token status } }`;

describe.each(queueStores("sold-out"))("sold out ($name)", ({ instances, redis }) => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  let admin: TestUser;
  const url = (i: number) => deployment.servers[i % deployment.servers.length].url;

  beforeAll(async () => {
    deployment = await startDeployment({ instances, redis, settings: OPEN_QUEUE });
    admin = await newAdmin(deployment.server);
  });
  afterAll(() => deployment?.close());

  describe("selling the last seat", () => {
    it("ends every other token SOLD_OUT, the payer's PAID, and closes the queue", async () => {
      const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 2 }, { seatCount: 1, startsInSeconds: 200_000 }] });
      const [first, last, bystander] = [
        await newShopper(url(0), concert.id, 5000),
        await newShopper(url(1), concert.id, 5000),
        await newShopper(url(0), concert.id),
      ];
      await gql(
        url(0),
        `mutation($c:ID!){ updateQueuePolicy(concertId:$c, input:{maxActiveUsers:3}){ maxActiveUsers } }`,
        { c: concert.id },
        admin.headers,
      );
      // Every instance's policy cache has seen it (the change is announced; the deadline is generous).
      for (const s of deployment.servers) {
        await expect
          .poll(
            async () =>
              (await gql(s.url, `query($c:ID!){ queuePolicy(concertId:$c){ maxActiveUsers } }`, { c: concert.id }, admin.headers)).data.queuePolicy,
            { timeout: 10_000 },
          )
          .toEqual({ maxActiveUsers: 3 });
      }
      const waiter = await signUp(url(1));
      const waiting = (await gql(url(1), ENTER, { c: concert.id }, waiter.headers)).data.enterQueue;
      expect(waiting.status).toBe("WAITING");

      const a = (await gql(url(0), RESERVE, { d: concert.dates[0].id, n: [1, 2] }, first.q)).data.reserveSeats;
      await gql(url(0), PAY, { r: a.id }, first.q);
      // One date sold out is not the concert sold out.
      expect((await gql(url(0), STATUS, { t: bystander.queueToken }, bystander.headers)).data.queueStatus.status).toBe("ACTIVE");
      const dates = (await gql(url(0), `query($c:ID!){ availableDates(concertId:$c){ id } }`, { c: concert.id }, bystander.q)).data.availableDates;
      expect(dates).toEqual([{ id: concert.dates[1].id }]);

      const b = (await gql(url(1), RESERVE, { d: concert.dates[1].id, n: [1] }, last.q)).data.reserveSeats;
      expect((await gql(url(1), PAY, { r: b.id }, last.q)).errors).toBeUndefined();
      const status = (u: TestUser, t: string) => gql(url(1), STATUS, { t }, u.headers).then((r) => r.data.queueStatus);
      // The rule gives the sell-out a second to reach every token; wait for it with a generous deadline.
      await expect
        .poll(() => status(waiter, waiting.token), { timeout: 10_000, interval: 100 })
        .toEqual({ status: "EXPIRED", expiredReason: "SOLD_OUT" });
      expect(await status(last, last.queueToken)).toEqual({ status: "EXPIRED", expiredReason: "PAID" });
      expect(await status(bystander, bystander.queueToken)).toEqual({ status: "EXPIRED", expiredReason: "SOLD_OUT" });
      expect(codeOf(await gql(url(0), ENTER, { c: concert.id }, (await signUp(url(0))).headers))).toBe("SOLD_OUT");
      const listed = (await gql(url(0), `query($c:ID!){ concert(id:$c){ dates { soldOut availableSeats } } }`, { c: concert.id })).data.concert;
      expect(listed.dates).toEqual([
        { soldOut: true, availableSeats: 0 },
        { soldOut: true, availableSeats: 0 },
      ]);
    });

    it("is heard before the last of overlapping last pays answers", async () => {
      // Each of the pays sees the others' seats HELD and none AVAILABLE, so each asks after its
      // commit, before it answers: the last to commit hears the sell-out.
      const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 4 }] });
      const buyers = await Promise.all([0, 1, 2, 3].map((i) => newShopper(url(i), concert.id, 5000)));
      const bystander = await newShopper(url(0), concert.id);
      const holds = await Promise.all(buyers.map((b, i) => gql(url(i), RESERVE, { d: concert.dates[0].id, n: [i + 1] }, b.q)));
      const paid = await Promise.all(buyers.map((b, i) => gql(url(i + 1), PAY, { r: holds[i].data.reserveSeats.id }, b.q)));
      expect(paid.map((r) => r.errors)).toEqual(paid.map(() => undefined));
      // No waiting: the sell-out was announced before the last answer.
      expect(codeOf(await gql(url(0), ENTER, { c: concert.id }, (await signUp(url(0))).headers))).toBe("SOLD_OUT");
      const status = await gql(url(1), STATUS, { t: bystander.queueToken }, bystander.headers);
      expect(status.data.queueStatus).toEqual({ status: "EXPIRED", expiredReason: "SOLD_OUT" });
    });

    it("is heard when the seat a pay saw AVAILABLE is held and paid before that pay's commit", async () => {
      // The other pay holds and pays the last seat in a transaction that the test commits only
      // after the API's pay has answered: to that pay the seat was still AVAILABLE, so it left the
      // question for later (SoldOutLater), and the other pay, run straight in SQL, asks nothing.
      const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 2 }] });
      const [payer, racer, bystander] = [
        await newShopper(url(0), concert.id, 5000),
        await newShopper(url(1), concert.id, 5000),
        await newShopper(url(0), concert.id),
      ];
      const mine = (await gql(url(0), RESERVE, { d: concert.dates[0].id, n: [1] }, payer.q)).data.reserveSeats;
      const other = new Client({ connectionString: deployment.db.url });
      await other.connect();
      try {
        await other.query("BEGIN");
        await other.query("SELECT ticket_hold($1, $2, $3, $4, $5, 60, ARRAY[2])", [
          randomUUID(),
          racer.id,
          concert.id,
          concert.dates[0].id,
          racer.queueToken,
        ]);
        const [theirs] = (await other.query("SELECT id FROM reservations WHERE user_id = $1", [racer.id])).rows;
        await other.query("SELECT * FROM ticket_pay($1, $2, NULL, NULL, NULL)", [theirs.id, racer.id]);
        expect((await gql(url(0), PAY, { r: mine.id }, payer.q)).errors).toBeUndefined();
        await other.query("COMMIT");
      } finally {
        await other.end();
      }
      const status = (u: TestUser, t: string) => gql(url(1), STATUS, { t }, u.headers).then((r) => r.data.queueStatus);
      // Rule 6: within a second (a generous deadline for a loaded machine; without the later
      // question the bystander's token would stay ACTIVE for its whole session).
      await expect
        .poll(() => status(bystander, bystander.queueToken), { timeout: 5_000, interval: 100 })
        .toEqual({ status: "EXPIRED", expiredReason: "SOLD_OUT" });
      expect(await status(payer, payer.queueToken)).toEqual({ status: "EXPIRED", expiredReason: "PAID" });
      expect(codeOf(await gql(url(0), ENTER, { c: concert.id }, (await signUp(url(0))).headers))).toBe("SOLD_OUT");
    });
  });
});
