// GET /console: the operator's console page and its assets, served by the server itself under
// a CSP that allows only this origin; and the one thing the API adds for it: with
// `asOperator: true` an admin reads and watches a date's seats without a queue token (anyone
// else: FORBIDDEN); without it the queue's rules hold for everyone, admins included.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { codeOf, gql, signUp, subscribe, wsClient, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { CANCEL, OPEN_QUEUE, PAY, RESERVE, SEATS, newShopper } from "../support/booking";

const OPERATOR_SEATS = `query($d:ID!){ seats(concertDateId:$d, asOperator:true){ id number price status concertDateId } }`;

let deployment: Awaited<ReturnType<typeof startDeployment>>;
let admin: TestUser;

beforeAll(async () => {
  deployment = await startDeployment({ settings: OPEN_QUEUE });
  admin = await newAdmin(deployment.server);
}, 60_000);

afterAll(async () => {
  await deployment?.close();
});

describe("GET /console", () => {
  it("serves the page under a strict CSP, and its versioned assets", async () => {
    const res = await fetch(`${deployment.server.url}/console`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self';"); // no 'unsafe-inline'
    expect(csp).toContain("connect-src 'self'");
    const html = await res.text();
    const script = html.match(/<script src="(\/console\/console\.js\?v=[0-9a-f]{12})"><\/script>/)?.[1];
    const style = html.match(/href="(\/console\/console\.css\?v=[0-9a-f]{12})"/)?.[1];
    expect(script).toBeDefined();
    expect(style).toBeDefined();
    expect(html).not.toMatch(/https?:\/\//);
    const js = await fetch(`${deployment.server.url}${script}`, { headers: { "accept-encoding": "gzip" } });
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(js.headers.get("cache-control")).toContain("immutable");
    expect((await js.text()).length).toBeGreaterThan(10_000);
    expect((await fetch(`${deployment.server.url}${style}`)).headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect((await fetch(`${deployment.server.url}/console/nothing.js`)).status).toBe(404);
    expect((await fetch(`${deployment.server.url}/console`, { method: "HEAD" })).status).toBe(200);
  });
});

describe("seats for the operator", () => {
  it("an admin reads a date's seats and watches them change as the operator without a queue token; a fan may not, and a plain read keeps the queue's rules", async () => {
    const { server } = deployment;
    const concert = await newConcert(server, admin, { dates: [{ seatCount: 5, price: 100 }] });
    const date = concert.dates[0].id;

    const read = await gql(server.url, OPERATOR_SEATS, { d: date }, admin.headers);
    expect(read.errors).toBeUndefined();
    expect(read.data.seats.map((s: { number: number; status: string }) => `${s.number}:${s.status}`)).toEqual([
      "1:AVAILABLE",
      "2:AVAILABLE",
      "3:AVAILABLE",
      "4:AVAILABLE",
      "5:AVAILABLE",
    ]);

    const fan = await signUp(server.url, "fan");
    expect(codeOf(await gql(server.url, SEATS, { d: date }, fan.headers))).toBe("QUEUE_TOKEN_REQUIRED");
    expect(codeOf(await gql(server.url, OPERATOR_SEATS, { d: date }, fan.headers))).toBe("FORBIDDEN");
    // Without asOperator an admin is a user like any other: the contract's gate, in its order.
    expect(codeOf(await gql(server.url, SEATS, { d: date }, admin.headers))).toBe("QUEUE_TOKEN_REQUIRED");
    expect(codeOf(await gql(server.url, SEATS, { d: date }, { ...admin.headers, "x-queue-token": "qt_nonsense" }))).toBe("QUEUE_TOKEN_INVALID");
    // An unknown date is NOT_FOUND before FORBIDDEN, as everywhere.
    expect(codeOf(await gql(server.url, OPERATOR_SEATS, { d: "00000000-0000-4000-8000-000000000000" }, fan.headers))).toBe("NOT_FOUND");

    const client = wsClient(server.wsUrl, { authorization: `Bearer ${admin.token}` });
    const fanClient = wsClient(server.wsUrl, { authorization: `Bearer ${fan.token}` });
    try {
      const watchDoc = `subscription($d:ID!){ seatStatusChanged(concertDateId:$d, asOperator:true){ number status } }`;
      const plainDoc = `subscription($d:ID!){ seatStatusChanged(concertDateId:$d){ number status } }`;
      const refusalOf = async (c: typeof client, doc: string) => {
        const refused = subscribe(c, doc, { d: date });
        await refused.ended(5_000);
        const refusal = refused.events[0]?.errors ?? (refused.failure as { extensions?: { code?: string } }[] | undefined);
        return refusal?.[0]?.extensions?.code;
      };
      expect(await refusalOf(fanClient, plainDoc)).toBe("QUEUE_TOKEN_REQUIRED");
      expect(await refusalOf(fanClient, watchDoc)).toBe("FORBIDDEN");
      expect(await refusalOf(client, plainDoc)).toBe("QUEUE_TOKEN_REQUIRED");

      const sub = subscribe(client, watchDoc, { d: date });
      // Listening once a probe change arrives: hold and cancel seat 5 until the stream shows it.
      const buyer = await newShopper(server.url, concert.id, 1_000);
      const seen = () => sub.events.map((e) => `${e.data?.seatStatusChanged.number}:${e.data?.seatStatusChanged.status}`);
      await expect
        .poll(
          async () => {
            if (seen().includes("5:AVAILABLE")) return true;
            const probe = await gql(server.url, RESERVE, { d: date, n: [5] }, buyer.q);
            await gql(server.url, CANCEL, { r: probe.data.reserveSeats.id }, buyer.headers);
            return seen().includes("5:AVAILABLE");
          },
          { timeout: 15_000, interval: 200 },
        )
        .toBe(true);
      const held = await gql(server.url, RESERVE, { d: date, n: [2] }, buyer.q);
      expect(held.errors).toBeUndefined();
      await expect.poll(seen, { timeout: 10_000 }).toContain("2:HELD");
      expect((await gql(server.url, PAY, { r: held.data.reserveSeats.id }, buyer.q)).data.pay.status).toBe("COMPLETED");
      await expect.poll(seen, { timeout: 10_000 }).toContain("2:SOLD");
      expect(seen().filter((e) => e.startsWith("2:"))).toEqual(["2:HELD", "2:SOLD"]);
      expect(sub.events.filter((e) => e.errors)).toEqual([]);
      expect(sub.done).toBe(false); // the buyer's token ended (PAID); the operator's watch goes on
      sub.stop();
    } finally {
      await client.dispose();
      await fanClient.dispose();
    }
  });
});
