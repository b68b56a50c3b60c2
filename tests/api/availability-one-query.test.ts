// availableSeats and soldOut of every date in a response come from ONE aggregate
// query, however many concerts and dates it shows: a query per date would make
// the busiest page (the concert list) the slowest. Proven by counting the SQL
// this process sends while a request is served (the server runs in-process).
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Client } from "pg";
import { startDeployment } from "../support/server";
import { gql, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { ConcertDocument, ConcertsDocument } from "../generated/graphql";

let deployment: Awaited<ReturnType<typeof startDeployment>>;
let url: string;
let admin: TestUser;
beforeAll(async () => {
  deployment = await startDeployment();
  url = deployment.server.url;
  admin = await newAdmin(deployment.server);
});
afterAll(() => deployment.close());

/** The SQL text of every statement sent on any pg connection while `fn` runs. */
async function statementsDuring(fn: () => Promise<unknown>): Promise<string[]> {
  // Every pool connection, Prisma's adapter included, is a pg Client.
  const spy = vi.spyOn(Client.prototype, "query");
  try {
    await fn();
    return spy.mock.calls.map(([q]) => (typeof q === "string" ? q : (q as { text: string }).text));
  } finally {
    spy.mockRestore();
  }
}

// The instance's background work (the hold sweeper, the queue ticker) sends SQL
// of its own meanwhile; only reads of the catalogue's tables are the request's.
const catalogueReads = (statements: string[]) =>
  statements.filter((s) => /^\s*SELECT\b/i.test(s) && /\b(concerts|concert_dates|seats)\b/.test(s) && !/reservations|payments|queue/.test(s));
const seatCounts = (statements: string[]) => catalogueReads(statements).filter((s) => /\bFROM\s+"?seats"?/i.test(s));

/**
 * The fewest catalogue reads of three tries: the instance's background SQL can only add
 * statements to a window, so the least of three is the request's own (a request that
 * read per date would show it in every try).
 */
async function fewestDuring(fn: () => Promise<unknown>): Promise<string[]> {
  let fewest: string[] | undefined;
  for (let i = 0; i < 3; i++) {
    const reads = catalogueReads(await statementsDuring(fn));
    if (!fewest || reads.length < fewest.length) fewest = reads;
  }
  return fewest!;
}

describe("availability", () => {
  it("is read with one aggregate query for the whole concert list, whatever its size", async () => {
    await newConcert(deployment.server, admin, { dates: [{}] });
    const small = await fewestDuring(() => gql(url, ConcertsDocument));

    for (let i = 0; i < 4; i++) await newConcert(deployment.server, admin, { dates: [{}, {}, {}] });
    let shown = 0;
    const large = await fewestDuring(async () => {
      const r = await gql(url, ConcertsDocument);
      shown = r.data!.concerts.flatMap((c) => c.dates).length;
    });

    expect(shown).toBe(13);
    expect(seatCounts(large)).toHaveLength(1);
    // Nothing else grows with the list either: concerts, dates and seats, one query each.
    expect(large).toHaveLength(small.length);
  });

  it("is read with one aggregate query for one concert's dates", async () => {
    const concert = await newConcert(deployment.server, admin, { dates: [{}, {}, {}, {}] });
    const statements = await fewestDuring(() => gql(url, ConcertDocument, { id: concert.id }));
    expect(seatCounts(statements)).toHaveLength(1);
  });
});
