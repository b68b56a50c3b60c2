// The log of a real session, at debug: pino JSON lines, a request id on every
// request's lines over HTTP and WebSocket, the operation and code of every
// failed operation, and no access token, queue token, password or JWT secret
// anywhere in it — though the session sent all of them in headers, connection
// parameters, variables and (for the unexpected error) an error message.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, testSettings, type TestServer } from "../support/server";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { bearer, codeOf, gql, signUp, subscribe, wsClient } from "../support/client";
import { newAdmin, newConcert } from "../support/factories";
import { createLogger } from "../../src/observability/logger";

const JWT_SECRET = "log-test-secret-that-is-long-enough-for-hs256-signing";
const lines: string[] = [];
let db: TestDatabase;
let server: TestServer;

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startTestServer({
    databaseUrl: db.url,
    settings: testSettings({ LOG_LEVEL: "debug", JWT_SECRET }),
    logger: createLogger("debug", (line) => lines.push(line)),
  });
}, 60_000);
afterAll(async () => {
  await server?.close();
  await db?.drop();
});

type Line = Record<string, any>;
const parsed = (): Line[] => lines.map((l) => JSON.parse(l));

describe("logs", () => {
  it("are JSON with request ids and failure codes, and never hold a secret", async () => {
    const admin = await newAdmin(server);
    const concert = await newConcert(server, admin);
    lines.length = 0;

    // Sign up (the password travels in variables) and enter the line.
    const fan = await signUp(server.url, "logs");
    const entered = await gql(server.url, `mutation EnterLine($c:ID!){ enterQueue(concertId:$c){ token status } }`, { c: concert.id }, fan.headers);
    const queueToken: string = entered.data.enterQueue.token;
    expect(queueToken).toMatch(/^qt_/);

    // A failure over HTTP with a request id of the client's: no queue token sent.
    const res = await fetch(`${server.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "client-req-1", ...fan.headers },
      body: JSON.stringify({
        query: `mutation Hold($d:ID!){ reserveSeats(concertDateId:$d, seatNumbers:[1]){ id } }`,
        variables: { d: concert.dates[0].id },
      }),
    });
    expect(res.headers.get("x-request-id")).toBe("client-req-1");
    expect(((await res.json()) as any).errors[0].extensions.code).toBe("QUEUE_TOKEN_REQUIRED");

    // Subscribe over WebSocket, the tokens in connectionParams; then a failing subscription (not the token's owner).
    const client = wsClient(server.wsUrl, { authorization: `Bearer ${fan.token}`, queueToken });
    const watch = subscribe(client, `subscription Watch($t:String!){ queueStatusChanged(token:$t){ status } }`, { t: queueToken });
    await expect.poll(() => watch.events.length, { timeout: 15_000 }).toBeGreaterThan(0);
    const other = await signUp(server.url, "logs-other");
    const otherClient = wsClient(server.wsUrl, { authorization: `Bearer ${other.token}` });
    const refused = subscribe(otherClient, `subscription Snoop($t:String!){ queueStatusChanged(token:$t){ status } }`, { t: queueToken });
    await expect.poll(() => parsed().some((l) => l.msg === "operation failed" && l.operation === "Snoop"), { timeout: 15_000 }).toBe(true);

    // An unexpected failure whose message holds both tokens.
    const queue = server.app.services.queue;
    const original = queue.queueStatus;
    queue.queueStatus = async () => {
      throw new Error(`store broke reading ${queueToken} for Bearer ${fan.token}`);
    };
    try {
      const broken = await gql(
        server.url,
        `query Where($t:String!){ queueStatus(token:$t){ status } }`,
        { t: queueToken },
        bearer(fan.token, queueToken),
      );
      expect(codeOf(broken)).toBe("INTERNAL_SERVER_ERROR");
    } finally {
      queue.queueStatus = original;
    }
    await client.dispose();
    await otherClient.dispose();
    void refused;

    const log = parsed();
    const text = lines.join("");
    // pino's JSON: ISO time, the level as a word, msg.
    for (const l of log) {
      expect(l).toMatchObject({
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        level: expect.stringMatching(/^(debug|info|warn|error)$/),
        msg: expect.any(String),
      });
    }

    // Every HTTP request has its id, ours or the client's, and the failure names its operation and code.
    const httpRequests = log.filter((l) => l.msg === "http request");
    expect(httpRequests.length).toBeGreaterThanOrEqual(4);
    for (const l of httpRequests) expect(l.requestId).toEqual(expect.any(String));
    expect(log.find((l) => l.msg === "http request" && l.requestId === "client-req-1")?.headers).toMatchObject({ authorization: "[Redacted]" });
    expect(log.find((l) => l.msg === "operation failed" && l.requestId === "client-req-1")).toMatchObject({
      transport: "http",
      operation: "Hold",
      code: "QUEUE_TOKEN_REQUIRED",
      codes: ["QUEUE_TOKEN_REQUIRED"],
    });

    // WebSocket: each connection has an id, each operation `<connection>:<operation id>`.
    const inits = log.filter((l) => l.msg === "websocket connection_init");
    expect(inits).toHaveLength(2);
    for (const l of inits) {
      expect(l.requestId).toEqual(expect.any(String));
      expect(l.connectionParams).toBe("[Redacted]");
    }
    const snoop = log.find((l) => l.msg === "operation failed" && l.operation === "Snoop");
    expect(snoop).toMatchObject({ transport: "ws", code: "FORBIDDEN" });
    expect(inits.some((l) => snoop!.requestId.startsWith(`${l.requestId}:`))).toBe(true);

    // The unexpected error: at error, with its request id, operation and code, its message scrubbed.
    const unexpected = log.find((l) => l.msg === "unexpected error");
    expect(unexpected).toMatchObject({ level: "error", operation: "Where", code: "INTERNAL_SERVER_ERROR", requestId: expect.any(String) });
    expect(unexpected!.error.message).toContain("[Redacted]");

    // No secret, anywhere.
    for (const secret of [fan.token, other.token, admin.token, queueToken, fan.password, JWT_SECRET]) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/);
    expect(text).not.toMatch(/qt_[A-Za-z0-9_-]{20,}/);
  }, 60_000);
});
