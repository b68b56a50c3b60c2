// Every WebSocket is pinged once per WS_KEEPALIVE_MS by one shared round
// (src/http/lean-socket.ts), and one that leaves a ping unanswered for a period is ended,
// as graphql-ws's own keep-alive did: a client that went away without closing does not keep
// its subscriptions (and its place among the pushes) forever. One that answers stays, and its
// operations go on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startDeployment } from "../support/server";

const PERIOD_MS = 400;
let deployment: Awaited<ReturnType<typeof startDeployment>>;
beforeAll(async () => {
  deployment = await startDeployment({ settings: { WS_KEEPALIVE_MS: String(PERIOD_MS) } });
});
afterAll(() => deployment.close());

interface Probe {
  ws: WebSocket;
  pings: number[];
  closed: Promise<{ code: number; at: number }>;
  /** Sends a message and resolves with the first answer of type `type` (and this id). */
  ask(message: object, type: string): Promise<Record<string, unknown>>;
}

/** A socket through connection_init; `autoPong: false` makes one that never answers a ping. */
async function open(autoPong: boolean): Promise<Probe> {
  const ws = new WebSocket(deployment.server.wsUrl, "graphql-transport-ws", { autoPong });
  const pings: number[] = [];
  ws.on("ping", () => pings.push(performance.now()));
  const closed = new Promise<{ code: number; at: number }>((resolve) => ws.once("close", (code) => resolve({ code, at: performance.now() })));
  const ask = (message: object, type: string) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const listener = (data: Buffer) => {
        const answer = JSON.parse(String(data));
        if (answer.type !== type) return;
        ws.off("message", listener);
        resolve(answer);
      };
      ws.on("message", listener);
      ws.send(JSON.stringify(message));
    });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  await ask({ type: "connection_init", payload: {} }, "connection_ack");
  return { ws, pings, closed, ask };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("WebSocket keep-alive", () => {
  it("ends a socket that leaves a ping unanswered for a period, and keeps every one that answers", async () => {
    const silent = await open(false);
    const answering = await Promise.all(Array.from({ length: 200 }, () => open(true)));

    const { code, at } = await Promise.race([silent.closed, sleep(PERIOD_MS * 8).then(() => ({ code: -1, at: 0 }))]);
    // Ended by the server without a close frame (terminate), no sooner than a period after its ping.
    expect(code).toBe(1006);
    expect(silent.pings.length).toBeGreaterThanOrEqual(1);
    expect(at - silent.pings[0]).toBeGreaterThanOrEqual(PERIOD_MS - 50);

    await sleep(PERIOD_MS * 3);
    for (const probe of answering) {
      expect(probe.ws.readyState).toBe(WebSocket.OPEN);
      // Pinged in every period: the round reaches all of them, not only the first few.
      expect(probe.pings.length).toBeGreaterThanOrEqual(3);
    }
    // And they still work: an operation's text message is read and answered.
    const answer = await answering[0].ask({ id: "1", type: "subscribe", payload: { query: "{ __typename }" } }, "next");
    expect(answer).toEqual({ id: "1", type: "next", payload: { data: { __typename: "Query" } } });
    for (const probe of answering) probe.ws.close();
  });
});
