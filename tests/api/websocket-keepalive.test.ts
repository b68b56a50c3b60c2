// The WebSocket keep-alive: every socket is pinged each WS_KEEPALIVE_MS; one that has not
// answered the previous ping is cut (a client gone without closing frees its place), and one
// that answers stays open however long it waits.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startDeployment } from "../support/server";

let deployment: Awaited<ReturnType<typeof startDeployment>>;
beforeAll(async () => {
  deployment = await startDeployment({ settings: { WS_KEEPALIVE_MS: "200" } });
});
afterAll(() => deployment.close());

/** An open, acknowledged graphql-transport-ws socket; `autoPong: false` makes a client that never answers pings. */
async function connect(autoPong: boolean): Promise<{ ws: WebSocket; pings: () => number; closed: Promise<number> }> {
  const ws = new WebSocket(deployment.server.wsUrl, "graphql-transport-ws", { autoPong });
  let pings = 0;
  ws.on("ping", () => pings++);
  const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => ws.send(JSON.stringify({ type: "connection_init", payload: {} })));
    ws.on("message", (data) => {
      if (JSON.parse(String(data)).type === "connection_ack") resolve();
    });
    ws.once("error", reject);
  });
  return { ws, pings: () => pings, closed };
}

describe("WebSocket keep-alive", () => {
  it("cuts a socket that does not answer its pings and keeps one that does", async () => {
    const [silent, answering] = await Promise.all([connect(false), connect(true)]);
    // Pinged at the first round, cut at the second (200–400 ms); the other stays.
    const code = await Promise.race([silent.closed, new Promise<number>((r) => setTimeout(() => r(-1), 3_000))]);
    expect(code).toBe(1006); // terminated: no closing handshake
    expect(silent.pings()).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(answering.ws.readyState).toBe(WebSocket.OPEN);
    expect(answering.pings()).toBeGreaterThanOrEqual(4);
    answering.ws.close();
    await answering.closed;
  });
});
