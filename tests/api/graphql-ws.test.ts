// GraphQL over WebSocket (graphql-transport-ws) on the real server's port and
// path: the access token travels as connectionParams.authorization, and the
// same checks as over HTTP apply.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { print } from "graphql";
import { startDeployment } from "../support/server";
import { subscribe, signUp, wsClient, type TestUser } from "../support/client";
import { ConcertsDocument, MeDocument } from "../generated/graphql";

let deployment: Awaited<ReturnType<typeof startDeployment>>;
let user: TestUser;
beforeAll(async () => {
  deployment = await startDeployment();
  user = await signUp(deployment.server.url, "ws");
});
afterAll(() => deployment.close());

/** Runs one operation over a fresh connection and returns its one result (or the refusal). */
async function overWs(query: string, connectionParams: Record<string, unknown> = {}, variables: Record<string, unknown> = {}) {
  const client = wsClient(deployment.server.wsUrl, connectionParams);
  try {
    const sub = subscribe(client, query, variables);
    await sub.ended();
    return { events: sub.events, failure: sub.failure as { extensions?: { code?: string } }[] | undefined };
  } finally {
    await client.dispose();
  }
}

describe("graphql-ws", () => {
  it("names the user from connectionParams.authorization", async () => {
    const { events } = await overWs(print(MeDocument), { authorization: `Bearer ${user.token}` });
    expect(events).toEqual([{ data: { me: expect.objectContaining({ id: user.id, email: user.email }) } }]);
  });

  it("answers UNAUTHENTICATED without a token, or with a bad one", async () => {
    for (const params of [{}, { authorization: "Bearer forged.token.here" }]) {
      const { events } = await overWs(print(MeDocument), params);
      expect(events[0].errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
    }
  });

  it("serves public queries without a token", async () => {
    const { events } = await overWs(print(ConcertsDocument));
    expect(events).toEqual([{ data: { concerts: [] } }]);
  });

  it("refuses a document over the limits with BAD_USER_INPUT", async () => {
    const bomb = `{ ${Array.from({ length: 1001 }, (_, i) => `a${i}: __typename`).join(" ")} }`;
    const { events, failure } = await overWs(bomb);
    expect(events).toEqual([]);
    expect(failure?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("refuses a document that does not parse or validate with BAD_USER_INPUT", async () => {
    for (const query of [`{ concerts { id }`, `{ concerts { nope } }`]) {
      const { failure } = await overWs(query);
      expect(failure?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    }
  });

  it("refuses a mistyped or missing variable with BAD_USER_INPUT", async () => {
    for (const variables of [{ id: { nested: true } }, {}]) {
      const { events, failure } = await overWs(`query($id: ID!) { concert(id: $id) { id } }`, {}, variables);
      expect(events).toEqual([]);
      expect(failure?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    }
  });

  it("answers a mutation too", async () => {
    const { events } = await overWs(`mutation { signIn(email: "${user.email}", password: "${user.password}") { user { id } } }`);
    expect(events).toEqual([{ data: { signIn: { user: { id: user.id } } } }]);
  });
});
