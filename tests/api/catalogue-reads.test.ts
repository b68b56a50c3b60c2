// What the public catalogue shows: which concerts are listed, and how
// availableSeats and soldOut follow the seats' states.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { gql, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { sql } from "../support/sql";
import { AddConcertDateDocument, ConcertDocument, ConcertsDocument, CreateConcertDocument } from "../generated/graphql";

let deployment: Awaited<ReturnType<typeof startDeployment>>;
let url: string;
let admin: TestUser;
beforeAll(async () => {
  deployment = await startDeployment();
  url = deployment.server.url;
  admin = await newAdmin(deployment.server);
});
afterAll(() => deployment.close());

const listedIds = async () => (await gql(url, ConcertsDocument)).data!.concerts.map((c) => c.id);

/** Moves a date into the past: the API refuses to create one there. */
const moveToPast = (dateId: string) =>
  sql(deployment.db.url, "UPDATE concert_dates SET starts_at = now() - interval '1 day' WHERE id = $1", [dateId]);

/** Puts seats in a state the reservation feature would, behind one reservation row. */
async function setSeats(dateId: string, numbers: number[], status: "HELD" | "SOLD", heldUntil: string | null) {
  const [date] = await sql<{ concert_id: string }>(deployment.db.url, "SELECT concert_id FROM concert_dates WHERE id = $1", [dateId]);
  // A user of its own: one user may hold only one reservation per concert.
  const [owner] = await sql<{ id: string }>(deployment.db.url, "INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id", [
    `${randomUUID()}@example.com`,
  ]);
  const [reservation] = await sql<{ id: string }>(
    deployment.db.url,
    `INSERT INTO reservations (user_id, concert_id, concert_date_id, queue_token, total_price, status, held_until)
     VALUES ($1, $2, $3, $4, 1, $5, coalesce($6::timestamptz, now())) RETURNING id`,
    [owner.id, date.concert_id, dateId, randomUUID(), status === "SOLD" ? "CONFIRMED" : "HELD", heldUntil],
  );
  await sql(
    deployment.db.url,
    "UPDATE seats SET status = $1, held_until = $2, reservation_id = $3 WHERE concert_date_id = $4 AND number = ANY($5::int[])",
    [status, heldUntil, reservation.id, dateId, numbers],
  );
}

describe("concerts", () => {
  it("lists concerts with no date yet or a date to come, and leaves out those whose dates have all passed", async () => {
    const noDate = await newConcert(deployment.server, admin, { title: "No date yet", dates: [] });
    const upcoming = await newConcert(deployment.server, admin, { title: "Upcoming" });
    const past = await newConcert(deployment.server, admin, { title: "Over", dates: [{}, {}] });
    const mixed = await newConcert(deployment.server, admin, { title: "One past, one to come", dates: [{}, {}] });
    await Promise.all([...past.dates.map((d) => moveToPast(d.id)), moveToPast(mixed.dates[0].id)]);

    const ids = await listedIds();
    expect(ids).toEqual(expect.arrayContaining([noDate.id, upcoming.id, mixed.id]));
    expect(ids).not.toContain(past.id);
  });

  it("lists a sold-out concert too, with soldOut true", async () => {
    const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 2 }] });
    await setSeats(concert.dates[0].id, [1, 2], "SOLD", null);
    const listed = (await gql(url, ConcertsDocument)).data!.concerts.find((c) => c.id === concert.id);
    expect(listed?.dates).toMatchObject([{ availableSeats: 0, soldOut: true }]);
  });
});

describe("concert(id)", () => {
  it("answers the concert with its dates, earliest first", async () => {
    const concert = await newConcert(deployment.server, admin, {
      title: "Two nights",
      dates: [
        { startsInSeconds: 7 * 86_400, seatCount: 3 },
        { startsInSeconds: 86_400, seatCount: 4 },
      ],
    });
    const r = await gql(url, ConcertDocument, { id: concert.id });
    expect(r.data!.concert).toMatchObject({ id: concert.id, title: "Two nights" });
    expect(r.data!.concert!.dates.map((d) => d.totalSeats)).toEqual([4, 3]);
  });

  it.each([
    ["an unknown ID", randomUUID()],
    ["a malformed ID", "not-a-uuid"],
    ["an empty ID", ""],
  ])("answers null for %s, without an error", async (_, id) => {
    const r = await gql(url, ConcertDocument, { id });
    expect(r.errors).toBeUndefined();
    expect(r.data).toEqual({ concert: null });
  });
});

describe("creating the catalogue", () => {
  it("trims a concert's title", async () => {
    const r = await gql(url, CreateConcertDocument, { input: { title: "  Night Shift  " } }, admin.headers);
    expect(r.data!.createConcert).toEqual({ id: expect.any(String), title: "Night Shift", dates: [] });
  });

  it("creates a date with seats 1..seatCount at its price, all AVAILABLE, and answers its time in UTC", async () => {
    const concert = await newConcert(deployment.server, admin, { dates: [] });
    const r = await gql(
      url,
      AddConcertDateDocument,
      { input: { concertId: concert.id, startsAt: "2031-06-01T22:30:00+02:00", seatCount: 7, price: 4500 } },
      admin.headers,
    );
    expect(r.data!.addConcertDate).toMatchObject({
      concertId: concert.id,
      startsAt: "2031-06-01T20:30:00.000Z",
      totalSeats: 7,
      availableSeats: 7,
      soldOut: false,
    });
    const seats = await sql<{ number: number; price: number; status: string }>(
      deployment.db.url,
      "SELECT number, price, status FROM seats WHERE concert_date_id = $1 ORDER BY number",
      [r.data!.addConcertDate.id],
    );
    expect(seats).toEqual([1, 2, 3, 4, 5, 6, 7].map((number) => ({ number, price: 4500, status: "AVAILABLE" })));
  });
});

describe("availableSeats and soldOut", () => {
  it("count seats AVAILABLE now, a hold that ran out among them, and are soldOut only when every seat is SOLD", async () => {
    const concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: 5 }, { seatCount: 2 }, { seatCount: 2 }] });
    const [mixed, allHeld, allSold] = concert.dates.map((d) => d.id);
    const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
    const aMinuteAgo = new Date(Date.now() - 60_000).toISOString();
    await setSeats(mixed, [1, 2], "HELD", inAnHour);
    await setSeats(mixed, [3], "SOLD", null);
    // Held until a minute ago and not yet swept: it is available all the same.
    await setSeats(mixed, [4], "HELD", aMinuteAgo);
    await setSeats(allHeld, [1, 2], "HELD", inAnHour);
    await setSeats(allSold, [1, 2], "SOLD", null);

    const dates = (await gql(url, ConcertDocument, { id: concert.id })).data!.concert!.dates;
    const byId = new Map(dates.map((d) => [d.id, d]));
    expect(byId.get(mixed)).toMatchObject({ totalSeats: 5, availableSeats: 2, soldOut: false });
    expect(byId.get(allHeld)).toMatchObject({ totalSeats: 2, availableSeats: 0, soldOut: false });
    expect(byId.get(allSold)).toMatchObject({ totalSeats: 2, availableSeats: 0, soldOut: true });
  });
});
