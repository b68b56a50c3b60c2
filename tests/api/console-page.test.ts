// GET /console: the operator's console page and its assets, served by the server itself under
// a CSP that allows only this origin; and the one thing the API does for it: an admin reads and
// watches a date's seats without a queue token (a fan still needs an ACTIVE one).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDeployment } from "../support/server";
import { codeOf, gql, signUp, subscribe, wsClient, type TestUser } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { OPEN_QUEUE, PAY, RESERVE, SEATS, newShopper } from "../support/booking";

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
  it("an admin reads a date's seats and watches them change without a queue token; a fan still needs one", async () => {
    const { server } = deployment;
    const concert = await newConcert(server, admin, { dates: [{ seatCount: 5, price: 100 }] });
    const date = concert.dates[0].id;

    const read = await gql(server.url, SEATS, { d: date }, admin.headers);
    expect(read.errors).toBeUndefined();
    expect(read.data.seats.map((s: { number: number; status: string }) => `${s.number}:${s.status}`)).toEqual(["1:AVAILABLE", "2:AVAILABLE", "3:AVAILABLE", "4:AVAILABLE", "5:AVAILABLE"]);

    const fan = await signUp(server.url, "fan");
    expect(codeOf(await gql(server.url, SEATS, { d: date }, fan.headers))).toBe("QUEUE_TOKEN_REQUIRED");
    // A token the admin sends is checked as for anyone.
    expect(codeOf(await gql(server.url, SEATS, { d: date }, { ...admin.headers, "x-queue-token": "qt_nonsense" }))).toBe("QUEUE_TOKEN_INVALID");

    const client = wsClient(server.wsUrl, { authorization: `Bearer ${admin.token}` });
    const fanClient = wsClient(server.wsUrl, { authorization: `Bearer ${fan.token}` });
    try {
      const watchDoc = `subscription($d:ID!){ seatStatusChanged(concertDateId:$d){ number status } }`;
      const refused = subscribe(fanClient, watchDoc, { d: date });
      await refused.ended(5_000);
      const refusal = refused.events[0]?.errors ?? (refused.failure as { extensions?: { code?: string } }[] | undefined);
      expect(refusal?.[0]?.extensions?.code).toBe("QUEUE_TOKEN_REQUIRED");

      const sub = subscribe(client, watchDoc, { d: date });
      // The stream is open once the server has subscribed; a hold made before then would be missed.
      await new Promise((r) => setTimeout(r, 500));
      const buyer = await newShopper(server.url, concert.id, 1_000);
      const held = await gql(server.url, RESERVE, { d: date, n: [2] }, buyer.q);
      expect(held.errors).toBeUndefined();
      expect((await sub.next(10_000)).data).toEqual({ seatStatusChanged: { number: 2, status: "HELD" } });
      expect((await gql(server.url, PAY, { r: held.data.reserveSeats.id }, buyer.q)).data.pay.status).toBe("COMPLETED");
      expect((await sub.next(10_000)).data).toEqual({ seatStatusChanged: { number: 2, status: "SOLD" } });
      expect(sub.done).toBe(false); // the buyer's token ended (PAID); the operator's watch goes on
      sub.stop();
    } finally {
      await client.dispose();
      await fanClient.dispose();
    }
  });
});
