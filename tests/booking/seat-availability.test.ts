// `seatAvailability`: the compact, versioned seat map. Decoded as its schema
// description says (not with the service's own decoder), it gives exactly what
// `seats` gives on the same instance, after holds, cancels, sales and expiries
// fired at once from both instances; its version grows with every change; and
// its gate and errors are those of `seats`, in the same order.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { queueStores } from "../support/stores";
import { startDeployment } from "../support/server";
import { bearer, gql, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { sql } from "../support/sql";
import { CANCEL, OPEN_QUEUE, PAY, RESERVE, expectSeatInvariants, newShopper, type Shopper } from "../support/booking";

type Deployment = Awaited<ReturnType<typeof startDeployment>>;

const AVAILABILITY = `query($d:ID!){ seatAvailability(concertDateId:$d){ concertDateId version seatCount statuses gradeRuns { grade fromSeat toSeat } } }`;
const SEATS = `query($d:ID!){ seats(concertDateId:$d){ number status grade } }`;
const GRADES = `mutation($d:ID!,$g:[SeatGradeInput!]!){ setSeatGrades(concertDateId:$d, grades:$g){ id } }`;

/** The schema's description: seat n at i = n − 1, 2 bits at 2·(i mod 4) of byte ⌊i/4⌋; 0 AVAILABLE, 1 HELD, 2 SOLD. */
function decode(statuses: string, seatCount: number): string[] {
  const bytes = Buffer.from(statuses, "base64");
  expect(bytes.length).toBe(Math.ceil(seatCount / 4));
  const names = ["AVAILABLE", "HELD", "SOLD"];
  return Array.from({ length: seatCount }, (_, i) => `${i + 1}:${names[(bytes[i >> 2] >> ((i & 3) * 2)) & 3]}`);
}

describe.each(queueStores("seat-availability"))("seatAvailability ($name)", ({ instances, redis }) => {
  // Maps never read again on their own: only the seat events (and the holds' ends) move them.
  let d: Deployment;
  let admin: TestUser;

  beforeAll(async () => {
    d = await startDeployment({ instances, redis, settings: { ...OPEN_QUEUE, HOLD_SECONDS: "8", SEAT_MAP_MAX_AGE_MS: "3600000" } });
    admin = await newAdmin(d.server);
  });
  afterAll(async () => {
    await d?.close();
  });

  const url = (i: number) => d.servers[i % d.servers.length].url;

  async function truth(dateId: string): Promise<string[]> {
    const rows = await sql<{ s: string }>(
      d.db.url,
      `SELECT number || ':' || CASE WHEN status = 'HELD' AND held_until <= now() THEN 'AVAILABLE' ELSE status::text END AS s
         FROM seats WHERE concert_date_id = $1 ORDER BY number`,
      [dateId],
    );
    return rows.map((r) => r.s);
  }

  /** One instance's `seats` and `seatAvailability`, read at once. */
  async function readBoth(i: number, dateId: string, viewer: Shopper) {
    const [s, a] = await Promise.all([gql(url(i), SEATS, { d: dateId }, viewer.q), gql(url(i), AVAILABILITY, { d: dateId }, viewer.q)]);
    expect(s.errors).toBeUndefined();
    expect(a.errors).toBeUndefined();
    const availability = a.data.seatAvailability as {
      concertDateId: string;
      version: number;
      seatCount: number;
      statuses: string;
      gradeRuns: { grade: string; fromSeat: number; toSeat: number }[];
    };
    expect(availability.concertDateId).toBe(dateId);
    // The grade runs, expanded, are the grades `seats` gives, seat by seat.
    const grades = availability.gradeRuns.flatMap((r) => Array.from({ length: r.toSeat - r.fromSeat + 1 }, (_, k) => `${r.fromSeat + k}:${r.grade}`));
    expect(grades).toEqual(s.data.seats.map((x: { number: number; grade: string }) => `${x.number}:${x.grade}`));
    return {
      seats: s.data.seats.map((x: { number: number; status: string }) => `${x.number}:${x.status}`) as string[],
      decoded: decode(availability.statuses, availability.seatCount),
      version: availability.version,
    };
  }

  /**
   * Polls until every instance's compact map decodes to the database's statuses
   * and to its own `seats` answer; returns each instance's version then.
   */
  async function expectAllToMatch(dateId: string, viewers: Shopper[], ms = 10_000): Promise<number[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const want = await truth(dateId);
      const reads = await Promise.all(d.servers.map((_, i) => readBoth(i, dateId, viewers[i])));
      const stable = JSON.stringify(await truth(dateId)) === JSON.stringify(want);
      if (stable && reads.every((r) => JSON.stringify(r.decoded) === JSON.stringify(want) && JSON.stringify(r.seats) === JSON.stringify(want))) {
        return reads.map((r) => r.version);
      }
      if (Date.now() > deadline) {
        for (const r of reads) {
          expect(r.decoded).toEqual(want);
          expect(r.seats).toEqual(want);
        }
        throw new Error("the maps never matched the database");
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it("decodes to what seats says after holds, cancels, sales and expiries fired at once from every instance; versions grow", async () => {
    // 30 seats: not a multiple of 4, so the last byte is partial.
    const concert = await newConcert(d.server, admin, { dates: [{ seatCount: 30, price: 100 }] });
    const date = concert.dates[0].id;
    // Three grades, one in two pieces (seats outside the ranges stay GENERAL).
    const graded = await gql(
      d.server.url,
      GRADES,
      {
        d: date,
        g: [
          { name: "VIP", price: 300, fromSeat: 1, toSeat: 6 },
          { name: "R", price: 200, fromSeat: 7, toSeat: 20 },
          { name: "VIP", price: 300, fromSeat: 25, toSeat: 30 },
        ],
      },
      admin.headers,
    );
    expect(graded.errors).toBeUndefined();
    const viewers = await Promise.all(d.servers.map((_, i) => newShopper(url(i), concert.id)));
    const shoppers = await Promise.all(Array.from({ length: 16 }, (_, i) => newShopper(url(i), concert.id, 1_000)));
    const versions: number[][] = [await expectAllToMatch(date, viewers)];
    // Unchanged map, same instance: the same version.
    const again = await Promise.all(d.servers.map((_, i) => readBoth(i, date, viewers[i])));
    expect(again.map((r) => r.version)).toEqual(versions[0]);

    const holds = await Promise.all(
      shoppers.map((s, i) => gql(url(i + 1), RESERVE, { d: date, n: [((i * 2) % 30) + 1, ((i * 2 + 1) % 30) + 1, ((i * 5) % 30) + 1] }, s.q)),
    );
    const won = holds.flatMap((h, i) => (h.data ? [{ shopper: shoppers[i], id: h.data.reserveSeats.id as string, i }] : []));
    expect(won.length).toBeGreaterThan(2);
    versions.push(await expectAllToMatch(date, viewers));

    // At once again: a third cancel, a third pay, the rest are left to run out.
    const outcomes = await Promise.all(
      won.map(({ shopper, id, i }) =>
        i % 3 === 0 ? gql(url(i), CANCEL, { r: id }, shopper.headers) : i % 3 === 1 ? gql(url(i), PAY, { r: id }, shopper.q) : null,
      ),
    );
    for (const o of outcomes) if (o) expect(o.errors).toBeUndefined();
    versions.push(await expectAllToMatch(date, viewers));

    // The holds left run out (HOLD_SECONDS 8: long enough for a pay on a loaded machine), read as AVAILABLE even before the sweeper ends them.
    await expect
      .poll(() => sql(d.db.url, `SELECT count(*)::int AS n FROM reservations WHERE concert_date_id = $1 AND status = 'HELD'`, [date]), {
        timeout: 40_000,
        interval: 100,
      })
      .toEqual([{ n: 0 }]);
    versions.push(await expectAllToMatch(date, viewers));
    expect(new Set((await truth(date)).map((s) => s.split(":")[1]))).toEqual(new Set(["AVAILABLE", "SOLD"]));

    // Every step changed the map, on every instance: each instance's version grew at each step.
    for (let step = 1; step < versions.length; step++) {
      for (let i = 0; i < d.servers.length; i++) expect(versions[step][i]).toBeGreaterThan(versions[step - 1][i]);
    }
    await expectSeatInvariants(d.db.url);
  });

  it("has the gate and the errors of seats, in the same order", async () => {
    const concert = await newConcert(d.server, admin, { dates: [{ seatCount: 4, price: 100 }] });
    const date = concert.dates[0].id;
    const user = await newShopper(url(0), concert.id);
    const other = await newConcert(d.server, admin, { dates: [{ seatCount: 4, price: 100 }] });
    const elsewhere = await newShopper(url(0), other.id);

    const codesOf = async (variables: Record<string, unknown>, headers: Record<string, string>) => {
      const [s, a] = await Promise.all([SEATS, AVAILABILITY].map((q) => gql(url(0), q, variables, headers)));
      const codes = (r: typeof s) => r.errors?.map((e: { extensions?: { code?: string } }) => e.extensions?.code);
      expect(a.data?.seatAvailability ?? null).toBeNull();
      expect(codes(a)).toEqual(codes(s));
      return codes(a);
    };
    expect(await codesOf({ d: date }, {})).toEqual(["UNAUTHENTICATED"]);
    expect(await codesOf({ d: date }, { authorization: "Bearer forged" })).toEqual(["UNAUTHENTICATED"]);
    // NOT_FOUND comes before the gate: no token at all, and still NOT_FOUND.
    expect(await codesOf({ d: randomUUID() }, user.headers)).toEqual(["NOT_FOUND"]);
    expect(await codesOf({ d: "not-an-id" }, user.q)).toEqual(["NOT_FOUND"]);
    expect(await codesOf({ d: date }, user.headers)).toEqual(["QUEUE_TOKEN_REQUIRED"]);
    expect(await codesOf({ d: date }, bearer(user.token, "unknown-token"))).toEqual(["QUEUE_TOKEN_INVALID"]);
    // An ACTIVE token, but for another concert.
    const [s, a] = await Promise.all([SEATS, AVAILABILITY].map((q) => gql(url(0), q, { d: date }, elsewhere.q)));
    expect(a.errors?.map((e: { extensions?: { code?: string } }) => e.extensions?.code)).toEqual(
      s.errors?.map((e: { extensions?: { code?: string } }) => e.extensions?.code),
    );
    expect(a.errors).toHaveLength(1);
    // Someone else's token.
    const [s2, a2] = await Promise.all([SEATS, AVAILABILITY].map((q) => gql(url(0), q, { d: date }, bearer(elsewhere.token, user.queueToken))));
    expect(a2.errors?.map((e: { extensions?: { code?: string } }) => e.extensions?.code)).toEqual(
      s2.errors?.map((e: { extensions?: { code?: string } }) => e.extensions?.code),
    );
    expect(a2.errors).toHaveLength(1);
    // The token ended: refused, like seats.
    await gql(url(0), `mutation($t:String!){ leaveQueue(token:$t){ status } }`, { t: user.queueToken }, user.headers);
    const ended = await codesOf({ d: date }, user.q);
    expect(ended).toHaveLength(1);
    expect(ended![0]).toMatch(/^QUEUE_TOKEN/);
    // An admin is a user like any other without asOperator, and the operator with it.
    expect(await codesOf({ d: date }, admin.headers)).toEqual(["QUEUE_TOKEN_REQUIRED"]);
    const asOperator = (q: string) => q.replace("(concertDateId:$d)", "(concertDateId:$d, asOperator:true)");
    const [so, ao] = await Promise.all([SEATS, AVAILABILITY].map((q) => gql(url(0), asOperator(q), { d: date }, admin.headers)));
    expect(so.errors).toBeUndefined();
    expect(ao.errors).toBeUndefined();
    expect(ao.data.seatAvailability.seatCount).toBe(so.data.seats.length);
    const [sf, af] = await Promise.all([SEATS, AVAILABILITY].map((q) => gql(url(0), asOperator(q), { d: date }, user.headers)));
    expect(sf.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(af.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});
