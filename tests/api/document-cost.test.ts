// The document cost: list fields cost what they return (a date's seats by its
// seat count, concerts by their number, pages by their size), so a small
// document that fans out is refused with BAD_USER_INPUT before it runs, and
// WebSocket operations pass the same cost, rate limits and metrics as HTTP.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "graphql-ws";
import { buildAppSchema } from "../../src/graphql/build-schema";
import { costOf, MAX_COST } from "../../src/graphql/complexity";
import { CatalogueListSizes } from "../../src/graphql/list-sizes";
import { parse } from "graphql";
import { startDeployment } from "../support/server";
import { codeOf, gql, signUp, wsClient, type GqlResult } from "../support/client";
import { newAdmin, newConcert, type TestConcert } from "../support/factories";
import { newShopper, OPEN_QUEUE, type Shopper } from "../support/booking";
import { inOneSecond } from "../support/timing";
import { sql } from "../support/sql";
import type { TestUser } from "../support/client";

const SEATS_OF_DATE = 10_000;
const SEAT_FIELDS = "id concertDateId number price status";
/** `n` aliases of one date's full seat map. */
const seatMaps = (n: number) =>
  `query Fanout($d: ID!) { ${Array.from({ length: n }, (_, i) => `s${i}: seats(concertDateId: $d) { ${SEAT_FIELDS} }`).join(" ")} }`;
// One seat map costs 1 + 10,000 × 5; twenty of them pass MAX_COST.
const FANOUT = 20;

/** Runs one operation over graphql-ws and resolves with its result (or its refusal as errors). */
function wsOnce(client: Client, query: string, variables: Record<string, unknown> = {}, operationName?: string): Promise<GqlResult> {
  return new Promise((resolve) => {
    let result: GqlResult = { status: 0 };
    client.subscribe(
      { query, variables, operationName },
      {
        next: (value) => (result = value as GqlResult),
        error: (errors) => resolve({ status: 0, errors: errors as GqlResult["errors"] }),
        complete: () => resolve(result),
      },
    );
  });
}

describe("the document cost", () => {
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  let url: string;
  let concert: TestConcert;
  let shopper: Shopper;
  let admin: TestUser;
  const clients: Client[] = [];

  beforeAll(async () => {
    deployment = await startDeployment({ settings: OPEN_QUEUE });
    url = deployment.server.url;
    admin = await newAdmin(deployment.server);
    concert = await newConcert(deployment.server, admin, { dates: [{ seatCount: SEATS_OF_DATE }] });
    shopper = await newShopper(url, concert.id);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await deployment.close();
  });

  it("serves one full seat map of a large date", async () => {
    const r = await gql(url, seatMaps(1), { d: concert.dates[0].id }, shopper.q);
    expect(r.errors).toBeUndefined();
    expect(r.data.s0).toHaveLength(SEATS_OF_DATE);
  });

  it("refuses a small document that asks for that seat map twenty times, over HTTP, with BAD_USER_INPUT", async () => {
    const r = await gql(url, seatMaps(FANOUT), { d: concert.dates[0].id }, shopper.q);
    expect(r.status).toBe(400);
    expect(codeOf(r)).toBe("BAD_USER_INPUT");
    expect(r.errors?.[0].message).toMatch(/costs \d+.*at most 1000000/);
    expect(r.data).toBeUndefined();
  });

  it("refuses the same document over WebSocket", async () => {
    const client = wsClient(deployment.server.wsUrl, { authorization: `Bearer ${shopper.token}`, queueToken: shopper.queueToken });
    clients.push(client);
    const refused = await wsOnce(client, seatMaps(FANOUT), { d: concert.dates[0].id });
    expect(refused.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(refused.errors?.[0].message).toMatch(/costs \d+/);
    const served = await wsOnce(client, seatMaps(1), { d: concert.dates[0].id });
    expect(served.errors).toBeUndefined();
    expect((served.data as { s0: unknown[] }).s0).toHaveLength(SEATS_OF_DATE);
  });

  it("costs concerts by their number and dates by the dates a concert has", async () => {
    const sizes = new CatalogueListSizes(deployment.server.app.db.pool, 4);
    const schema = buildAppSchema();
    const document = parse(`{ concerts { id dates { id startsAt } } }`);
    const counts = async () =>
      (
        await sql<{ concerts: number; most: number }>(
          deployment.db.url,
          `SELECT (SELECT count(*) FROM concerts)::int AS concerts,
                  (SELECT max(n) FROM (SELECT count(*)::int AS n FROM concert_dates GROUP BY concert_id) x) AS most`,
        )
      )[0];
    const before = await counts();
    // concerts: 1 + concerts × (id + dates), dates: 1 + most dates × (id + startsAt).
    const expected = (c: { concerts: number; most: number }) => 1 + c.concerts * (1 + 1 + c.most * 2);
    expect(await costOf(schema, document, undefined, {}, sizes)).toBe(expected(before));
    await newConcert(deployment.server, admin, { dates: [{}, {}, {}, {}, {}] });
    const after = await counts();
    expect(after.concerts).toBe(before.concerts + 1);
    // The catalogue's numbers are read again at most once a second.
    await new Promise((r) => setTimeout(r, 1_100));
    await costOf(schema, document, undefined, {}, sizes); // starts the read
    const deadline = Date.now() + 10_000;
    let cost = 0;
    while (Date.now() < deadline && (cost = await costOf(schema, document, undefined, {}, sizes)) !== expected(after)) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(cost).toBe(expected(after));
    expect(cost).toBeLessThan(MAX_COST);
  });

  it("costs a page by its size", async () => {
    const sizes = new CatalogueListSizes(deployment.server.app.db.pool, 4);
    const schema = buildAppSchema();
    const document = parse(`query($f: Int) { ledger(first: $f) { id amount } }`);
    expect(await costOf(schema, document, undefined, { f: 10 }, sizes)).toBe(1 + 10 * 2);
    expect(await costOf(schema, document, undefined, { f: 200 }, sizes)).toBe(1 + 200 * 2);
    expect(await costOf(schema, document, undefined, {}, sizes)).toBe(1 + 50 * 2);
  });
});

describe("WebSocket operations and the rate limits and metrics of HTTP", () => {
  const LIMIT = 5;
  let deployment: Awaited<ReturnType<typeof startDeployment>>;
  let url: string;
  const clients: Client[] = [];
  beforeAll(async () => {
    deployment = await startDeployment({ settings: { RATE_LIMIT_USER_PER_SECOND: String(LIMIT) } });
    url = deployment.server.url;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await deployment.close();
  });

  it("counts a user's WebSocket operations with their HTTP requests against one limit", async () => {
    const user = await signUp(url, "ws-busy");
    const client = wsClient(deployment.server.wsUrl, { authorization: `Bearer ${user.token}` });
    clients.push(client);
    await wsOnce(client, `{ __typename }`); // connected before the burst
    const { http, ws } = await inOneSecond(async () => {
      const http = await Promise.all(Array.from({ length: 3 }, () => gql(url, `{ me { id } }`, {}, user.headers)));
      const ws = await Promise.all(Array.from({ length: 6 }, () => wsOnce(client, `query WsBusy { me { id } }`)));
      return { http, ws };
    });
    const served = [...http, ...ws].filter((r) => !r.errors).length;
    const limited = [...http, ...ws].filter((r) => r.errors?.[0].extensions?.code === "RATE_LIMITED").length;
    expect({ served, limited }).toEqual({ served: LIMIT, limited: 9 - LIMIT });
    expect(http.every((r) => !r.errors)).toBe(true);
  });

  it("records WebSocket operations and their errors in /metrics, as HTTP's", async () => {
    const user = await signUp(url, "ws-metrics");
    const client = wsClient(deployment.server.wsUrl, { authorization: `Bearer ${user.token}` });
    clients.push(client);
    expect((await wsOnce(client, `query WsMetricsProbe { me { id } }`)).errors).toBeUndefined();
    expect((await wsOnce(client, `query WsMetricsProbe { me { id } }`)).errors).toBeUndefined();
    const bad = await wsOnce(client, `query WsMetricsBad($n: Int!) { ledger(first: $n) { id } }`, { n: "many" });
    expect(bad.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toContain(`graphql_operation_duration_seconds_count{operation="WsMetricsProbe"} 2`);
    expect(text).toContain(`graphql_operation_duration_seconds_count{operation="WsMetricsBad"} 1`);
    expect(text).toMatch(/graphql_errors_total\{code="BAD_USER_INPUT"\} [1-9]/);
  });
});
