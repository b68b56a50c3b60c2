// The queue reads a concert's facts (exists, sold out, opening, seats left) from
// PostgreSQL at most about once a second per instance, however many requests ask
// at the moment its copy expires: one read in flight, the others served by it or
// by the expiring copy. Before, a hundred requests at the expiry sent a hundred
// seat counts (11 ms each on a 30,000-seat date: the buyers' PostgreSQL CPU).
// Proven by counting the SQL this process sends (the server runs in-process).
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startDeployment } from "../support/server";
import { gql, signUp, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { sql } from "../support/sql";

const ENTER = `mutation($c:ID!){ enterQueue(concertId:$c){ token } }`;
const STATUS = `query($t:String!){ queueStatus(token:$t){ status seatsLeft } }`;
let deployment: Awaited<ReturnType<typeof startDeployment>>;
let admin: TestUser;
beforeAll(async () => {
  deployment = await startDeployment();
  admin = await newAdmin(deployment.server);
});
afterAll(() => deployment.close());

const factsReads = (calls: unknown[][]) =>
  calls.filter(([q]) => (typeof q === "string" ? q : ((q as { text?: string })?.text ?? "")).includes("the concert's facts")).length;

describe("the concert's facts", () => {
  it("are read once, not once per request, when many requests find the copy expired", async () => {
    const url = deployment.server.url;
    const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 50 }] });
    const users = await Promise.all(Array.from({ length: 40 }, () => signUp(url, "facts")));
    const tokens: string[] = [];
    for (const u of users) tokens.push((await gql(url, ENTER, { c: concert.id }, u.headers)).data.enterQueue.token);
    // PostgreSQL is held up by a lock on concerts: the ticker's next read of the facts (it keeps
    // the copy fresh) waits on it, the copy expires meanwhile, and then forty requests ask at once.
    const lock = new Client({ connectionString: deployment.db.url });
    await lock.connect();
    const spy = vi.spyOn(Client.prototype, "query");
    try {
      await lock.query("BEGIN");
      await lock.query("LOCK TABLE concerts IN ACCESS EXCLUSIVE MODE");
      // Read on a connection of its own: inside `lock`'s transaction pg_stat_activity keeps the
      // sessions and their queries as its first read found them, so `waitingThen` could not differ.
      const waiting = async () =>
        (
          await sql<{ n: number }>(
            deployment.db.url,
            `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%the concert''s facts%' AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
          )
        )[0].n;
      await new Promise((r) => setTimeout(r, 1_500)); // longer than the copy lives (1 s)
      await expect.poll(waiting, { timeout: 10_000 }).toBe(1);
      const asking = Promise.all(users.map((u, i) => gql(url, STATUS, { t: tokens[i] }, u.headers)));
      await new Promise((r) => setTimeout(r, 500)); // every request has arrived and asked
      const waitingThen = await waiting();
      await lock.query("COMMIT");
      const answers = await asking;
      expect(answers.map((a) => a.data?.queueStatus.seatsLeft)).toEqual(users.map(() => 50));
      // The requests were served by the expiring copy: the reads in flight are the instance's own
      // loops' (the ticker's; a second once seen in a fresh-clone CI run), not forty (41 before).
      expect(waitingThen).toBeLessThanOrEqual(2);
      expect(factsReads(spy.mock.calls)).toBeLessThanOrEqual(2);
    } finally {
      spy.mockRestore();
      await lock.end();
    }
  });
});
