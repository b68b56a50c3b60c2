// Rule 15 for availableDates, on both queue stores: it gives the dates to come
// that are not sold out, and leaves out a date once it has started, whether it
// started while the user was in (time passing) or long ago.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queueStores } from "../support/stores";
import { startDeployment } from "../support/server";
import { gql, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { sql } from "../support/sql";
import { OPEN_QUEUE, newShopper } from "../support/booking";

const DATES = `query($c:ID!){ availableDates(concertId:$c){ id startsAt } }`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(queueStores("available-dates"))("availableDates ($name)", ({ instances, redis }) => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  let admin: TestUser;
  const url = (i: number) => deployment.servers[i % deployment.servers.length].url;

  beforeAll(async () => {
    deployment = await startDeployment({ instances, redis, settings: OPEN_QUEUE });
    admin = await newAdmin(deployment.server);
  });
  afterAll(() => deployment?.close());

  it("leaves out a date that started long ago", async () => {
    const concert = await newConcert(deployment.server, admin, { dates: [{}, { startsInSeconds: 172_800 }] });
    await sql(deployment.db.url, "UPDATE concert_dates SET starts_at = now() - interval '1 day' WHERE id = $1", [concert.dates[0].id]);
    const user = await newShopper(url(0), concert.id);
    for (const i of [0, 1]) {
      const r = await gql(url(i), DATES, { c: concert.id }, user.q);
      expect(r.errors).toBeUndefined();
      expect(r.data.availableDates.map((d: { id: string }) => d.id)).toEqual([concert.dates[1].id]);
    }
  });

  it("leaves out a date from the moment it starts, while the user is in", { timeout: 60_000 }, async () => {
    // A date a few seconds ahead (the API takes no date in the past) and one tomorrow.
    const concert = await newConcert(deployment.server, admin, { dates: [{ startsInSeconds: 10 }, {}] });
    const [soon, later] = concert.dates;
    const user = await newShopper(url(0), concert.id);
    const ids = async (i: number) => {
      const r = await gql(url(i), DATES, { c: concert.id }, user.q);
      expect(r.errors).toBeUndefined();
      return r.data.availableDates.map((d: { id: string }) => d.id);
    };
    const startsAt = Date.parse(soon.startsAt);
    // Before it starts (10 s is ample time to get here, loaded machine or not), it is there.
    const sent = Date.now();
    expect(await ids(1)).toEqual([soon.id, later.id]);
    expect(sent).toBeLessThan(startsAt);
    await sleep(Math.max(0, startsAt - Date.now()) + 50);
    // Every read sent after the start leaves it out, on every instance.
    for (let i = 0; i < 6; i++) {
      expect(Date.now()).toBeGreaterThan(startsAt);
      expect(await ids(i)).toEqual([later.id]);
    }
  });
});
