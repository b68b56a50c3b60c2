// Every WebSocket is pinged a period (WS_KEEPALIVE_MS) after its last ping by one shared
// round (src/http/lean-socket.ts), and one that leaves a ping unanswered for a period is ended,
// as graphql-ws's own keep-alive did: a client that went away without closing does not keep
// its subscriptions (and its place among the pushes) forever. One that answers stays, and its
// operations go on. The server's sockets hand text messages on as strings, binary ones as they came.
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { keepAlive, LeanSocket } from "../../src/http/lean-socket";
import { startDeployment } from "../support/server";

const PERIOD_MS = 600;
/** How late a timer may fire on a loaded machine, beyond what the round allows (half a period). */
const SLACK_MS = 250;
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
    // Ended by the server without a close frame (terminate), a period to a period and a half after its ping.
    expect(code).toBe(1006);
    expect(silent.pings.length).toBe(1);
    expect(at - silent.pings[0]).toBeGreaterThanOrEqual(PERIOD_MS - 50);
    expect(at - silent.pings[0]).toBeLessThanOrEqual(PERIOD_MS * 1.5 + SLACK_MS);

    await sleep(PERIOD_MS * 3);
    for (const probe of answering) {
      expect(probe.ws.readyState).toBe(WebSocket.OPEN);
      // Pinged in every period (the round reaches all of them, not only the first few), and
      // not more often: each ping a period to a period and a half after the last.
      expect(probe.pings.length).toBeGreaterThanOrEqual(3);
      const gaps = probe.pings.slice(1).map((t, i) => t - probe.pings[i]);
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(PERIOD_MS - 50);
      expect(Math.max(...gaps)).toBeLessThanOrEqual(PERIOD_MS * 1.5 + SLACK_MS);
    }
    // And they still work: an operation's text message is read and answered.
    const answer = await answering[0].ask({ id: "1", type: "subscribe", payload: { query: "{ __typename }" } }, "next");
    expect(answer).toEqual({ id: "1", type: "next", payload: { data: { __typename: "Query" } } });
    for (const probe of answering) probe.ws.close();
  });
});

describe("LeanSocket on a bare ws server", () => {
  /** A server of LeanSockets, a connected client, and what the server's socket was handed. */
  async function pair() {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", WebSocket: LeanSocket });
    await new Promise((resolve) => wss.once("listening", resolve));
    const received: unknown[] = [];
    const serverSide = new Promise<LeanSocket>((resolve) =>
      wss.once("connection", (socket: LeanSocket) => {
        socket.on("message", (data) => received.push(data));
        resolve(socket);
      }),
    );
    const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
    const pings: number[] = [];
    client.on("ping", () => pings.push(performance.now()));
    await new Promise((resolve) => client.once("open", resolve));
    return { wss, socket: await serverSide, client, received, pings, close: () => new Promise((r) => wss.close(r)) };
  }

  it("hands a text message on as a string and a binary one as its Buffer", async () => {
    const { client, received, close } = await pair();
    client.send("héllo");
    client.send(Buffer.from([1, 2, 3]));
    await expect.poll(() => received.length).toBe(2);
    expect(received[0]).toBe("héllo");
    expect(Buffer.isBuffer(received[1]) && [...(received[1] as Buffer)]).toEqual([1, 2, 3]);
    client.close();
    await close();
  });

  it("pings nothing with a period of 0, and nothing more once stopped", async () => {
    const off = await pair();
    keepAlive(off.wss, 0).stop();
    const on = await pair();
    const pings = keepAlive(on.wss, 100);
    await expect.poll(() => on.pings.length, { timeout: 2_000 }).toBeGreaterThanOrEqual(1);
    pings.stop();
    const seen = on.pings.length;
    await sleep(500);
    expect(on.pings.length).toBe(seen);
    expect(off.pings).toEqual([]);
    for (const p of [off, on]) {
      p.client.close();
      await p.close();
    }
  });
});
