// Every error a client sees carries a contract code: GraphQL's own parse and
// validation failures are bad input, and anything we did not mean to happen is
// masked as INTERNAL_SERVER_ERROR, logged with the request id, and shows no internals.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { startTestServer, testSettings, type TestServer } from "../support/server";
import { codeOf, gql } from "../support/client";
import { createLogger } from "../../src/observability/logger";

const logLines: Record<string, unknown>[] = [];
let db: TestDatabase;
let server: TestServer;
let url: string;
beforeAll(async () => {
  db = await createTestDatabase();
  const logger = createLogger("error", (line) => logLines.push(JSON.parse(line)));
  server = await startTestServer({ databaseUrl: db.url, settings: testSettings(), logger });
  url = server.url;
});
afterAll(async () => {
  await server.close();
  await db.drop();
});

async function post(body: string, contentType = "application/json") {
  const res = await fetch(`${url}/graphql`, { method: "POST", headers: { "content-type": contentType }, body });
  return { status: res.status, body: (await res.json()) as { errors?: { message: string; extensions?: Record<string, unknown> }[] } };
}

describe("GraphQL errors", () => {
  it.each([
    ["a syntax error", `{ concerts { id }`, undefined],
    ["an unknown field", `{ concerts { nope } }`, undefined],
    ["an unknown argument", `{ concerts(first: 1) { id } }`, undefined],
    ["a missing selection", `{ concerts }`, undefined],
    ["a variable of the wrong type", `query($id: ID!) { concert(id: $id) { id } }`, { id: { nested: true } }],
    ["a required variable left out", `query($id: ID!) { concert(id: $id) { id } }`, {}],
    ["an argument of the wrong type", `{ concert(id: 1.5) { id } }`, undefined],
    ["an unused variable", `query($x: Int) { concerts { id } }`, { x: 1 }],
  ])("answers %s with BAD_USER_INPUT and HTTP 400", async (_, query, variables) => {
    const r = await gql(url, query, variables);
    expect(r.status).toBe(400);
    expect(codeOf(r)).toBe("BAD_USER_INPUT");
    expect(r.errors!.every((e) => e.extensions?.code === "BAD_USER_INPUT")).toBe(true);
  });

  it("answers an operation name the document lacks with BAD_USER_INPUT", async () => {
    const { status, body } = await post(JSON.stringify({ query: `query A { concerts { id } }`, operationName: "B" }));
    expect(status).toBe(400);
    expect(body.errors![0].extensions!.code).toBe("BAD_USER_INPUT");
  });

  it.each([
    ["a body that is not JSON", `{"query": `],
    ["a body without a query", `{}`],
  ])("answers %s with BAD_USER_INPUT and HTTP 400", async (_, text) => {
    const { status, body } = await post(text);
    expect(status).toBe(400);
    expect(body.errors![0].extensions!.code).toBe("BAD_USER_INPUT");
  });

  it("masks an unexpected failure as INTERNAL_SERVER_ERROR, shows no internals, and logs it with the request id", async () => {
    const concerts = server.app.services.concerts;
    const original = concerts.listConcerts;
    concerts.listConcerts = async () => {
      throw new Error("connect ECONNREFUSED 10.1.2.3:5432 password=hunter2");
    };
    try {
      const res = await fetch(`${url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": "req-masking-test" },
        body: JSON.stringify({ query: `{ concerts { id } }` }),
      });
      const body = (await res.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
      expect(body.errors).toHaveLength(1);
      expect(body.errors[0].extensions).toEqual({ code: "INTERNAL_SERVER_ERROR" });
      expect(JSON.stringify(body)).not.toMatch(/hunter2|ECONNREFUSED|10\.1\.2\.3|stack|\.ts:/);
      const logged = logLines.find((l) => l.requestId === "req-masking-test");
      expect(logged).toMatchObject({ level: "error", error: { message: expect.stringContaining("ECONNREFUSED") } });
    } finally {
      concerts.listConcerts = original;
    }
  });

  it("logs nothing for the client's own mistakes", async () => {
    logLines.length = 0;
    await gql(url, `{ concerts { nope } }`);
    await gql(url, `{ me { id } }`);
    expect(logLines).toEqual([]);
  });
});
