// A WebSocket surge is refused early and clearly: past WS_MAX_SOCKETS open sockets, or
// WS_MAX_STARTING sockets that have not finished connection_init, an upgrade is answered
// HTTP 503 with Retry-After (the client retries or polls queueStatus), never a socket
// that times out later. A socket that finishes its start makes room again.
import type http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startDeployment } from "../support/server";
import { gql } from "../support/client";

let deployment: Awaited<ReturnType<typeof startDeployment>>;
beforeAll(async () => {
  deployment = await startDeployment({ settings: { WS_MAX_SOCKETS: "4", WS_MAX_STARTING: "2", WS_INIT_TIMEOUT_MS: "60000" } });
});
afterAll(() => deployment.close());

/** An upgrade's answer: the socket when it opened, or the HTTP refusal. */
function upgrade(): Promise<{ ws?: WebSocket; status?: number; retryAfter?: string; body?: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(deployment.server.wsUrl, "graphql-transport-ws");
    ws.once("open", () => resolve({ ws }));
    ws.once("unexpected-response", (_req: http.ClientRequest, res: http.IncomingMessage) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode, retryAfter: res.headers["retry-after"], body }));
    });
    ws.once("error", reject);
  });
}

/** Sends connection_init and waits for the ack. */
function init(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.on("message", (data) => {
      if (JSON.parse(String(data)).type === "connection_ack") resolve();
    });
    ws.once("close", (code) => reject(new Error(`closed ${code}`)));
    ws.send(JSON.stringify({ type: "connection_init", payload: {} }));
  });
}

const closed = (ws: WebSocket) => new Promise((r) => (ws.readyState === ws.CLOSED ? r(undefined) : ws.once("close", r)));

describe("a WebSocket surge", () => {
  it("answers 503 with Retry-After past the sockets still starting, and takes more once they started", async () => {
    const [a, b] = [await upgrade(), await upgrade()];
    expect(a.ws && b.ws).toBeTruthy();
    // Two sockets that have not sent connection_init yet: the third is refused.
    const refused = await upgrade();
    expect(refused).toMatchObject({ status: 503, retryAfter: "1" });
    expect(refused.body).toMatch(/retry/i);
    // What needs no socket goes on.
    expect((await gql(deployment.server.url, "{ __typename }")).data).toEqual({ __typename: "Query" });

    await init(a.ws!);
    const c = await upgrade();
    expect(c.ws).toBeTruthy();
    await Promise.all([init(b.ws!), init(c.ws!)]);

    // Three open, the limit four: one more, and then 503 however they started.
    const d = await upgrade();
    await init(d.ws!);
    expect(await upgrade()).toMatchObject({ status: 503, retryAfter: "1" });
    // A socket that closes makes room.
    a.ws!.close();
    await closed(a.ws!);
    await expect.poll(async () => (await upgrade()).ws?.readyState, { timeout: 5_000 }).toBe(WebSocket.OPEN);

    const metrics = await (await fetch(`${deployment.server.url}/metrics`)).text();
    expect(metrics).toMatch(/websocket_refusals_total\{reason="busy_starting"\} 1\b/);
    expect(metrics).toMatch(/websocket_refusals_total\{reason="busy_sockets"\} [1-9]/);
    for (const x of [b, c, d]) x.ws!.close();
  });
});
